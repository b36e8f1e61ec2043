/**
 * BERT-family encoders (BERT, MiniLM, BGE) with HF names, pooling and a sequence-classification
 * head.
 */
package dev.peft4j.models.bert;
