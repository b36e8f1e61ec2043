package dev.peft4j.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.Embedding;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.LayerNorm;

/**
 * HF {@code BertEmbeddings}: {@code LayerNorm(word + position + token_type)} then dropout, with
 * children {@code word_embeddings}, {@code position_embeddings}, {@code token_type_embeddings},
 * {@code LayerNorm}. Inputs: {@code input_ids [B, T]} and optionally {@code token_type_ids}
 * (zeros when absent); positions are {@code 0..T-1}.
 */
public final class BertEmbeddings extends HfModule {

    private final BertConfig config;
    private Block wordEmbeddings;
    private Block positionEmbeddings;
    private Block tokenTypeEmbeddings;
    private Block layerNorm;

    /**
     * Creates the embeddings of a BERT model.
     *
     * @param config the model config
     */
    public BertEmbeddings(BertConfig config) {
        this.config = config;
        long h = config.hiddenSize();
        Shape ids = new Shape(1, 1);
        wordEmbeddings = register("word_embeddings", new Embedding(config.vocabSize(), h), ids);
        positionEmbeddings =
                register(
                        "position_embeddings",
                        new Embedding(config.maxPositionEmbeddings(), h),
                        ids);
        tokenTypeEmbeddings =
                register("token_type_embeddings", new Embedding(config.typeVocabSize(), h), ids);
        layerNorm = register("LayerNorm", new LayerNorm(h, config.layerNormEps()), new Shape(1, h));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray ids = inputs.head();
        long length = ids.getShape().get(1);
        if (length > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(
                    "Sequence length "
                            + length
                            + " exceeds max_position_embeddings "
                            + config.maxPositionEmbeddings());
        }
        NDArray types =
                inputs.size() > 1 ? inputs.get(1) : ids.zerosLike().toType(DataType.INT64, false);
        NDArray positions = ids.getManager().arange(0, length, 1, DataType.INT64, ids.getDevice());
        NDArray sum =
                call(wordEmbeddings, parameterStore, training, params, ids)
                        .add(call(tokenTypeEmbeddings, parameterStore, training, params, types))
                        .add(call(positionEmbeddings, parameterStore, training, params, positions));
        NDArray out = call(layerNorm, parameterStore, training, params, sum);
        if (training && config.hiddenDropoutProb() > 0) {
            out = Dropout.dropout(out, config.hiddenDropoutProb(), true).head();
        }
        return new NDList(out);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(config.hiddenSize())};
    }
}
