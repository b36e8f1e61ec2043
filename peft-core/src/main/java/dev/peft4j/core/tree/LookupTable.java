package dev.peft4j.core.tree;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A plain lookup table {@code weight [num, dim]}: {@code weight[ids]}. The merge tools build one to
 * hold a base table when they ask an adapter on an embedding for its weight change.
 */
public final class LookupTable extends AbstractBlock implements EmbeddingTable {

    private final long num;
    private final long dim;
    private final Parameter weight;

    /** A table of {@code num} rows of size {@code dim}. */
    public LookupTable(long num, long dim) {
        this.num = num;
        this.dim = dim;
        this.weight =
                addParameter(
                        Parameter.builder()
                                .setName("weight")
                                .setType(Parameter.Type.WEIGHT)
                                .build());
    }

    /** The table's shape, set at initialization (a table given with {@code setArray} needs none). */
    @Override
    protected void prepare(Shape[] inputShapes) {
        weight.setShape(new Shape(num, dim));
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.head();
        if (ids.getDataType() != DataType.INT64) {
            ids = ids.toType(DataType.INT64, false);
        }
        NDArray table = ps.getValue(weight, ids.getDevice(), training);
        return Embedding.embedding(ids, table, SparseFormat.DENSE);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(dim)};
    }
}
