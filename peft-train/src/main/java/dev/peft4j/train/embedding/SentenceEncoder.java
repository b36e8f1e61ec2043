package dev.peft4j.train.embedding;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.Scalars;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.train.text.TokenBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * A sentence-transformers model as a DJL block: a transformer (a {@code BertModel}, adapters
 * injected or not), then pooling ({@link Pooling#MEAN} or {@link Pooling#CLS}), then, when the
 * model normalizes, {@code x / max(||x||, 1e-12)} (sentence-transformers' Normalize module).
 *
 * <p>The inputs are {@code k} texts columns, each {@code (input_ids, attention_mask,
 * token_type_ids)} as {@link EmbeddingBatcher} batches them; the outputs are the {@code k}
 * embedding matrices {@code [B, H]}, each column encoded by its own pass as sentence-transformers'
 * losses do. The transformer is the only child, so a {@code PeftModel} on it trains through this
 * block ({@code PeftModel.newTrainer} accepts a block that holds its root).
 */
public final class SentenceEncoder extends AbstractBlock {

    private static final byte VERSION = 1;

    private final Block transformer;
    private final Pooling pooling;
    private final boolean normalize;
    private final long hidden;

    /**
     * Wraps a transformer.
     *
     * @param transformer the encoder, its first output the last hidden state {@code [B, T, H]}
     * @param hidden its hidden size {@code H}
     * @param pooling {@link Pooling#MEAN} or {@link Pooling#CLS}
     * @param normalize whether embeddings are L2-normalized
     */
    public SentenceEncoder(Block transformer, long hidden, Pooling pooling, boolean normalize) {
        super(VERSION);
        if (pooling == Pooling.POOLER) {
            throw new IllegalArgumentException("A sentence encoder pools by mean or cls");
        }
        this.transformer = addChildBlock("transformer", transformer);
        this.pooling = pooling;
        this.normalize = normalize;
        this.hidden = hidden;
    }

    /** The transformer inside. */
    public Block transformer() {
        return transformer;
    }

    /** The pooling. */
    public Pooling pooling() {
        return pooling;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        if (inputs.size() % 3 != 0) {
            throw new IllegalArgumentException(
                    "Expected (input_ids, attention_mask, token_type_ids) per column, got "
                            + inputs.size()
                            + " arrays");
        }
        NDList out = new NDList();
        for (int c = 0; c < inputs.size(); c += 3) {
            NDList column = new NDList(inputs.get(c), inputs.get(c + 1), inputs.get(c + 2));
            NDArray tokens = transformer.forward(parameterStore, column, training, params).head();
            out.add(embed(tokens, inputs.get(c + 1)));
        }
        return out;
    }

    private NDArray embed(NDArray tokens, NDArray mask) {
        NDArray pooled = pooling.pool(tokens, mask);
        return normalize ? l2Normalize(pooled) : pooled;
    }

    /** {@code x / max(||x||_2, 1e-12)} per row, as {@code torch.nn.functional.normalize}. */
    public static NDArray l2Normalize(NDArray x) {
        NDArray norm = x.square().sum(new int[] {1}, true).sqrt();
        return x.div(norm.maximum(Scalars.of(norm, 1e-12)));
    }

    /**
     * Embeds texts for inference (no gradients, dropout off), in batches of {@code batchSize},
     * on {@code manager}'s device; the result is copied to the JVM.
     *
     * @return one embedding per text
     */
    public float[][] encode(
            List<String> texts, HuggingFaceTokenizer tokenizer, int batchSize, NDManager manager) {
        float[][] out = new float[texts.size()][];
        for (int from = 0; from < texts.size(); from += batchSize) {
            List<String> chunk = texts.subList(from, Math.min(texts.size(), from + batchSize));
            try (NDManager scope = manager.newSubManager()) {
                NDList in = TokenBatch.encode(tokenizer, chunk, 0).toNDList(scope);
                NDArray e = forward(new ParameterStore(scope, false), in, false).head();
                float[] flat = e.toFloatArray();
                int h = (int) e.getShape().get(1);
                for (int i = 0; i < chunk.size(); i++) {
                    out[from + i] = new float[h];
                    System.arraycopy(flat, i * h, out[from + i], 0, h);
                }
            }
        }
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        List<Shape> out = new ArrayList<>();
        for (int c = 0; c < inputShapes.length; c += 3) {
            out.add(new Shape(inputShapes[c].get(0), hidden));
        }
        return out.toArray(new Shape[0]);
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        transformer.initialize(manager, dataType, inputShapes[0], inputShapes[1], inputShapes[2]);
    }
}
