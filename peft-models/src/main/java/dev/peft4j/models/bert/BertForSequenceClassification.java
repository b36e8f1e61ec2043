package dev.peft4j.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code BertForSequenceClassification}: children {@code bert} (a {@link BertModel}) and {@code
 * classifier}; {@code logits = classifier(dropout(pool(bert(...))))}.
 *
 * <p>Inputs as {@link BertModel} ({@code input_ids}, {@code attention_mask}, {@code
 * token_type_ids}); output: {@code logits [B, numLabels]}. HF pools with the {@code pooler}
 * ({@link Pooling#POOLER}); sentence-embedding checkpoints without pooler weights are better served
 * by {@link Pooling#MEAN} or {@link Pooling#CLS}, which add no {@code bert.pooler} child.
 */
public final class BertForSequenceClassification extends HfModule {

    /** Prefix of the encoder's parameters, HF's {@code base_model_prefix}. */
    public static final String BASE_MODEL_PREFIX = "bert.";

    private final int numLabels;
    private final Pooling pooling;
    private final float dropout;
    private Block bert;
    private Block classifier;

    /**
     * Creates a classifier over a BERT encoder.
     *
     * @param config the encoder config
     * @param numLabels the number of classes
     * @param pooling how token states become the classifier's input
     */
    public BertForSequenceClassification(BertConfig config, int numLabels, Pooling pooling) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be positive, got " + numLabels);
        }
        this.numLabels = numLabels;
        this.pooling = pooling;
        this.dropout = config.classifierDropout();
        long h = config.hiddenSize();
        bert = register("bert", new BertModel(config, pooling == Pooling.POOLER), new Shape(1, 1));
        classifier = linear("classifier", h, numLabels, true);
        setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
    }

    /**
     * Returns the pooling this classifier uses.
     *
     * @return the pooling
     */
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
        NDList out = bert.forward(parameterStore, inputs, training, params);
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray pooled = pooling == Pooling.POOLER ? out.get(1) : pooling.pool(out.head(), mask);
        if (training && dropout > 0) {
            pooled = Dropout.dropout(pooled, dropout, true).head();
        }
        return new NDList(call(classifier, parameterStore, training, params, pooled));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), numLabels)};
    }
}
