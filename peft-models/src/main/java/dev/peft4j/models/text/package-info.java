/** Tokenized batches for text encoders. */
package dev.peft4j.models.text;
