/**
 * Model folders that other stacks load and that compute there what the model computed here:
 * transformers' {@code BertForSequenceClassification}, sentence-transformers pipelines
 * (Transformer, Pooling, Dense, Normalize) and the tokenizer files both expect.
 */
package dev.peft4j.models.export;
