/** Tokenized batches for text encoders. */
package dev.peft4j.train.text;
