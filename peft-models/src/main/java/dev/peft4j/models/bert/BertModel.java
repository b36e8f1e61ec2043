package dev.peft4j.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.Attention;
import dev.peft4j.models.nn.Encoder;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.ModuleList;
import dev.peft4j.models.nn.Pooler;
import java.util.List;

/**
 * HF {@code BertModel}: children {@code embeddings}, {@code encoder} ({@code encoder.layer.N}) and
 * optionally {@code pooler}.
 *
 * <p>Inputs: {@code input_ids [B, T]}, optionally {@code attention_mask [B, T]} (1 = real token,
 * all ones when absent) and {@code token_type_ids [B, T]} (zeros when absent). Outputs: {@code
 * last_hidden_state [B, T, H]} and, with a pooler, {@code pooler_output [B, H]}.
 */
public final class BertModel extends HfModule {

    private final BertConfig config;
    private Block embeddings;
    private Block encoder;
    private Block pooler;

    /**
     * Creates a BERT encoder with freshly initialized weights (HF's {@code normal(0,
     * initializer_range)} for matrices) once {@link #initialize} runs.
     *
     * @param config the model config
     * @param addPoolingLayer whether to include the {@code pooler} (HF's {@code
     *     add_pooling_layer})
     */
    public BertModel(BertConfig config, boolean addPoolingLayer) {
        this.config = config;
        long h = config.hiddenSize();
        embeddings = register("embeddings", new BertEmbeddings(config), new Shape(1, 1));
        List<Block> layers =
                ModuleList.repeat(config.numHiddenLayers(), () -> new BertLayer(config));
        encoder = register("encoder", new Encoder(layers, h), new Shape(1, 1, h));
        if (addPoolingLayer) {
            pooler = register("pooler", new Pooler(h), new Shape(1, 1, h));
        }
        setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
    }

    /**
     * Returns the config this model was built from.
     *
     * @return the config
     */
    public BertConfig config() {
        return config;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray ids = inputs.head();
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray types = inputs.size() > 2 ? inputs.get(2) : null;
        NDArray hidden = call(embeddings, parameterStore, training, params, ids, types);
        NDArray bias = mask == null ? null : Attention.paddingBias(mask, hidden.getDataType());
        hidden = call(encoder, parameterStore, training, params, hidden, bias);
        if (pooler == null) {
            return new NDList(hidden);
        }
        return new NDList(hidden, call(pooler, parameterStore, training, params, hidden));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        Shape hidden = ids.add(config.hiddenSize());
        if (pooler == null) {
            return new Shape[] {hidden};
        }
        return new Shape[] {hidden, new Shape(ids.get(0), config.hiddenSize())};
    }
}
