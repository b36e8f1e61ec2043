package dev.peft4j.core.tree;

import ai.djl.nn.Block;

/**
 * A block that looks rows up in a table parameter named {@code weight [num_embeddings, dim]} (HF's
 * {@code nn.Embedding}): adapters that support {@link BaseLayer.Kind#EMBEDDING} (LoRA) can wrap
 * it. Its input is the ids, its output {@code weight[ids]}.
 */
public interface EmbeddingTable extends Block {}
