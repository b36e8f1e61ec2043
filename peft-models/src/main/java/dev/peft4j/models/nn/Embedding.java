package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.tree.EmbeddingTable;

/** HF {@code nn.Embedding}: a lookup table with one parameter {@code weight [num, dim]}; LoRA can adapt it. */
public final class Embedding extends HfModule implements EmbeddingTable {

    private final long numEmbeddings;
    private final long embeddingDim;
    private final Parameter weight;

    /**
     * Creates a table of {@code numEmbeddings} vectors of size {@code embeddingDim}.
     *
     * @param numEmbeddings the number of rows (vocabulary size, positions...)
     * @param embeddingDim the vector size
     */
    public Embedding(long numEmbeddings, long embeddingDim) {
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        weight = parameter("weight", Parameter.Type.WEIGHT, new Shape(numEmbeddings, embeddingDim));
    }

    /**
     * Returns the table parameter, for heads that share it (a tied {@code lm_head}).
     *
     * @return the {@code weight} parameter
     */
    public Parameter weight() {
        return weight;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray ids = inputs.head();
        if (ids.getDataType() != DataType.INT64) {
            ids = ids.toType(DataType.INT64, false);
        }
        NDArray table = value(parameterStore, weight, ids, training);
        return ai.djl.nn.core.Embedding.embedding(ids, table, SparseFormat.DENSE);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(embeddingDim)};
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "Embedding(" + numEmbeddings + ", " + embeddingDim + ")";
    }
}
