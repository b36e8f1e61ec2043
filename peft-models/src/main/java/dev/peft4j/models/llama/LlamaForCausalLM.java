package dev.peft4j.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code LlamaForCausalLM}: children {@code model} (a {@link LlamaModel}) and, unless the
 * embeddings are tied, {@code lm_head}. With {@code tie_word_embeddings} the logits use {@code
 * model.embed_tokens.weight} and there is no {@code lm_head} parameter, as in HF's saved
 * checkpoints.
 *
 * <p>Inputs as {@link LlamaModel}; output: {@code logits [B, T, vocab]}.
 */
public final class LlamaForCausalLM extends HfModule {

    private final LlamaConfig config;
    private Block model;
    private Block lmHead;

    /**
     * Creates a causal language model.
     *
     * @param config the model config
     */
    public LlamaForCausalLM(LlamaConfig config) {
        this.config = config;
        long h = config.hiddenSize();
        model = register("model", new LlamaModel(config), new Shape(1, 1));
        if (!config.tieWordEmbeddings()) {
            lmHead = linear("lm_head", h, config.vocabSize(), false);
        }
        setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
    }

    /**
     * Returns the options that load an HF checkpoint of this model: with tied embeddings, a
     * redundant {@code lm_head.weight} in the checkpoint is skipped.
     *
     * @return the load options
     */
    public LoadOptions loadOptions() {
        LoadOptions.Builder builder = LoadOptions.builder();
        if (config.tieWordEmbeddings()) {
            builder.optIgnoreUnexpected("lm_head.weight");
        }
        return builder.build();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray hidden = model.forward(parameterStore, inputs, training, params).head();
        if (lmHead != null) {
            return new NDList(call(lmHead, parameterStore, training, params, hidden));
        }
        Parameter tied = ((LlamaModel) model).embeddingWeight();
        NDArray table = value(parameterStore, tied, hidden, training);
        return new NDList(hidden.matMul(table.transpose()));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(config.vocabSize())};
    }
}
