package dev.peft4j.adapters.bone;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.Temporaries;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Bat adapter on one Linear layer. With {@code W_ij} the r x r blocks of {@code W [out, in]}
 * (i over outputs, j over inputs) and {@code b = miss_block [out/r, r, r]}, the weight change is
 * {@code dW_ij = W_ij b_i + b_i}: it depends on the weight it is applied to, so the forward runs the
 * base operation with {@code dW} and unmerging inverts {@code W'_ij = W_ij (I + b_i) + b_i} exactly:
 * {@code W_ij = (W'_ij - b_i)(I + b_i)^-1}. Unmerging needs every {@code I + b_i} invertible.
 */
public final class BatAdapter extends Adapter {

    private static final Logger LOG = LoggerFactory.getLogger(BatAdapter.class);

    /** Above this condition number of {@code I + b_i} unmerging loses visible float32 precision. */
    static final double WARN_CONDITION = 1e4;

    /** Above this condition number {@code I + b_i} is treated as singular and unmerging refused. */
    static final double MAX_CONDITION = 1e12;

    private final int r;
    private final Parameter block;

    BatAdapter(AdapterContext ctx, BoneConfig config) {
        super(ctx);
        this.r = config.r();
        long m = base.outFeatures();
        long n = base.inFeatures();
        if (m % r != 0 || n % r != 0) {
            throw new IllegalArgumentException(
                    "Bat cannot adapt module '"
                            + ctx.modulePath()
                            + "': its weight ["
                            + m
                            + ", "
                            + n
                            + "] (out m = "
                            + m
                            + ", in n = "
                            + n
                            + ") does not split into r x r blocks"
                            + " for r = "
                            + r
                            + "; choose r dividing both, or Bone (init_weights true)");
        }
        DataType type = base.weight().getArray().getDataType();
        this.block = trainable("miss_block", ctx.manager().zeros(new Shape(m / r, r, r), type));
    }

    /** The weight as blocks {@code [out/r, in/r, r, r]}, element {@code [i, j]} being {@code W_ij}. */
    private NDArray blocks(NDArray weight) {
        long m = base.outFeatures();
        long n = base.inFeatures();
        return weight.reshape(m / r, r, n / r, r).transpose(0, 2, 1, 3);
    }

    /** The inverse of {@link #blocks}. */
    private NDArray unblocks(NDArray blocks) {
        return blocks.transpose(0, 2, 1, 3).reshape(base.weightShape());
    }

    /** {@code dW} for a weight {@code w} and block {@code b}, both on the same device. */
    private NDArray deltaFor(NDArray w, NDArray b) {
        NDArray bi = b.expandDims(1);
        return unblocks(blocks(w).matMul(bi).add(bi));
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        return forward(null, ps, x, training);
    }

    /** {@code y + dW x} with {@code y} as the bias of the product: no extra full-size pass. */
    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        return forward(y, ps, x, training);
    }

    /** {@code dW x}, plus {@code y} when given, with {@code dW} built from the weight the engine sees. */
    private NDArray forward(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        NDArray b = valueFor(ps, block, x, training);
        NDArray w = base.weightValue(ps, x, training);
        return Temporaries.compute(
                x.getManager(), () -> Linear.linear(x, deltaFor(w, b), y).singletonOrThrow());
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        return Temporaries.compute(
                manager, () -> deltaFor(base.weight().getArray(), block.getArray()));
    }

    /**
     * Restores {@code W} from the merged weight by {@code W_ij = (W'_ij - b_i)(I + b_i)^-1} in float64;
     * refuses, leaving the weight merged, when some {@code I + b_i} is singular.
     */
    @Override
    public void unmergeFrom(NDArray weight) {
        try (NDScope scope = new NDScope()) {
            NDArray b = block.getArray().toType(DataType.FLOAT64, true);
            NDArray onePlusB = b.add(b.getManager().eye(r, r, 0, DataType.FLOAT64, b.getDevice()));
            NDArray inv = checkedInverse(onePlusB);
            NDArray bi = b.expandDims(1);
            NDArray restored =
                    unblocks(
                            blocks(weight.toType(DataType.FLOAT64, true))
                                    .sub(bi)
                                    .matMul(inv.expandDims(1)));
            weight.set(new NDIndex("..."), restored.toType(weight.getDataType(), false));
        }
    }

    /** The batched inverse of {@code I + b_i}, or an error naming the first singular block. */
    private NDArray checkedInverse(NDArray onePlusB) {
        NDArray inv;
        try {
            inv = onePlusB.inverse();
        } catch (RuntimeException e) {
            throw singular(-1, Double.POSITIVE_INFINITY, e);
        }
        // condition number in the Frobenius norm: ||I + b_i|| ||(I + b_i)^-1||
        double[] norms = onePlusB.square().sum(new int[] {1, 2}).sqrt().toDoubleArray();
        double[] invNorms = inv.square().sum(new int[] {1, 2}).sqrt().toDoubleArray();
        for (int i = 0; i < norms.length; i++) {
            double cond = norms[i] * invNorms[i];
            if (!(cond <= MAX_CONDITION)) {
                throw singular(i, cond, null);
            }
            if (cond > WARN_CONDITION) {
                LOG.warn(
                        "Unmerging Bat on '{}': I + b_{} has condition number {}; the restored"
                                + " weight loses about {} digits",
                        modulePath,
                        i,
                        String.format("%.3g", cond),
                        (int) Math.log10(cond));
            }
        }
        return inv;
    }

    private IllegalStateException singular(int i, double cond, Throwable cause) {
        String which = i < 0 ? "some I + b_i" : "I + b_" + i;
        return new IllegalStateException(
                "Cannot unmerge the Bat adapter of module '"
                        + modulePath
                        + "': "
                        + which
                        + " (miss_block + identity) is singular or nearly so (condition number "
                        + String.format("%.3g", cond)
                        + "); the base weight stays merged",
                cause);
    }

    /** The blocks {@code b [out/r, r, r]} (miss_block). */
    public Parameter block() {
        return block;
    }

    /** The block size r. */
    public int rank() {
        return r;
    }

    @Override
    public String toString() {
        return "Bat("
                + modulePath
                + ": W ["
                + base.outFeatures()
                + ", "
                + base.inFeatures()
                + "], r "
                + r
                + ", miss_block ["
                + base.outFeatures() / r
                + ", "
                + r
                + ", "
                + r
                + "])";
    }
}
