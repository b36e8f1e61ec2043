package dev.peft4j.adapters.nola;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.Temporaries;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.Scalars;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A NOLA adapter on one Linear layer: {@code delta(x) = s B_eff (A_eff x)} with
 * {@code A_eff = A0 + sum_i alpha_i A_i} and {@code B_eff = sum_j beta_j B_j}; the trainable
 * parameters are the coefficients {@code nola_alpha [k_A]} and {@code nola_beta [k_B]}, zero at
 * creation so the model is unchanged. The frozen bases ({@link NolaBases}) are not parameters: they
 * are neither saved nor counted.
 *
 * <p>The weighted sums run chunk by chunk over the bases in both modes (same order, so both modes
 * give bit-identical results). Resident mode keeps the chunks; regenerating mode rebuilds each
 * chunk at each use and closes it right after: without a gradient recorder only one chunk is alive
 * at a time; while training, the engine's autograd keeps each chunk it multiplied until backward
 * (it needs them for the coefficient gradients), so a training step still peaks at all bases of
 * the layers it went through.
 */
public final class NolaAdapter extends Adapter {

    /** Most values in one generated chunk (1 GiB of float32 at most). */
    private static final long MAX_CHUNK_VALUES = 1L << 28;

    private final int r;
    private final double scaling;
    private final int numBasisA;
    private final int numBasisB;
    private final boolean regenerate;
    private final int chunkA;
    private final int chunkB;
    private final NolaBases bases;

    /** The frozen bases' own manager, closed when the adapter is released. */
    private final NDManager frozen;

    private final NDArray a0;
    private final List<NDArray> residentA = new ArrayList<>();
    private final List<NDArray> residentB = new ArrayList<>();
    private final Parameter alpha;
    private final Parameter beta;

    NolaAdapter(AdapterContext ctx, NolaConfig config) {
        super(ctx);
        this.r = config.r();
        this.scaling = config.scaling();
        this.numBasisA = config.numBasisA();
        this.numBasisB = config.numBasisB();
        this.regenerate = config.regenerateBases();
        long m = base.outFeatures();
        long n = base.inFeatures();
        this.bases = new NolaBases(ctx.layerSeed(config.seed()), r, m, n, numBasisA, numBasisB);
        this.chunkA = chunkSize(config.basisChunk(), (long) r * n);
        this.chunkB = chunkSize(config.basisChunk(), m * r);
        this.frozen = ctx.manager().newSubManager();
        DataType type = base.weight().getArray().getDataType();
        this.a0 = bases.a0(frozen).toType(type, false);
        if (!regenerate) {
            for (int from = 0; from < numBasisA; from += chunkA) {
                residentA.add(
                        bases.basesA(frozen, from, Math.min(chunkA, numBasisA - from))
                                .toType(type, false));
            }
            for (int from = 0; from < numBasisB; from += chunkB) {
                residentB.add(
                        bases.basesB(frozen, from, Math.min(chunkB, numBasisB - from))
                                .toType(type, false));
            }
        }
        this.alpha = trainable("nola_alpha", ctx.manager().zeros(new Shape(numBasisA), type));
        this.beta = trainable("nola_beta", ctx.manager().zeros(new Shape(numBasisB), type));
    }

    private static int chunkSize(int basisChunk, long basisSize) {
        return (int) Math.max(1, Math.min(basisChunk, MAX_CHUNK_VALUES / basisSize));
    }

    /** {@code A_eff [r, n]} for coefficient values {@code a}. */
    private NDArray effectiveA(NDArray a) {
        NDArray sum = weightedSum(a, numBasisA, chunkA, residentA, true);
        return a0.toDevice(a.getDevice(), false).add(sum.reshape(r, base.inFeatures()));
    }

    /** {@code B_eff [m, r]} for coefficient values {@code b}. */
    private NDArray effectiveB(NDArray b) {
        return weightedSum(b, numBasisB, chunkB, residentB, false).reshape(base.outFeatures(), r);
    }

    /** {@code sum_i c_i M_i} as a row {@code [1, size]}, chunk by chunk in basis order. */
    private NDArray weightedSum(NDArray c, int k, int chunk, List<NDArray> resident, boolean isA) {
        NDArray acc = null;
        for (int from = 0, index = 0; from < k; from += chunk, index++) {
            int count = Math.min(chunk, k - from);
            NDArray rows =
                    regenerate
                            ? generate(c, from, count, isA)
                            : resident.get(index).toDevice(c.getDevice(), false);
            NDArray part =
                    c.get(new NDIndex(from + ":" + (from + count))).reshape(1, count).matMul(rows);
            if (regenerate) {
                rows.close(); // autograd keeps its own reference when it needs one
            }
            if (acc == null) {
                acc = part;
            } else {
                NDArray sum = acc.add(part);
                acc.close();
                part.close();
                acc = sum;
            }
        }
        return acc;
    }

    private NDArray generate(NDArray like, int from, int count, boolean isA) {
        NDManager m = like.getManager();
        NDArray rows = isA ? bases.basesA(m, from, count) : bases.basesB(m, from, count);
        return rows.toType(like.getDataType(), false).toDevice(like.getDevice(), false);
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        return forward(null, ps, x, training);
    }

    /** {@code y + B_eff (s A_eff x)} with {@code y} as the bias of the last product: no extra full-size pass. */
    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        return forward(y, ps, x, training);
    }

    /** {@code B_eff (s A_eff x)}, plus {@code y} when given; the scaling acts on the small {@code [.., r]} activation. */
    private NDArray forward(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        NDArray a = valueFor(ps, alpha, x, training);
        NDArray b = valueFor(ps, beta, x, training);
        return Temporaries.compute(
                x.getManager(),
                () -> {
                    NDArray h =
                            Scalars.mul(
                                    Linear.linear(x, effectiveA(a)).singletonOrThrow(), scaling);
                    return Linear.linear(h, effectiveB(b), y)
                            .singletonOrThrow(); // a null y is no bias
                });
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        return Temporaries.compute(
                manager,
                () ->
                        Scalars.mul(
                                effectiveB(beta.getArray()).matMul(effectiveA(alpha.getArray())),
                                scaling));
    }

    /** {@code A_eff [r, n]} for the current coefficients; attached to {@code manager}. */
    public NDArray effectiveA(NDManager manager) {
        return Temporaries.compute(manager, () -> effectiveA(alpha.getArray()));
    }

    /** {@code B_eff [m, r]} for the current coefficients; attached to {@code manager}. */
    public NDArray effectiveB(NDManager manager) {
        return Temporaries.compute(manager, () -> effectiveB(beta.getArray()));
    }

    /** The coefficients of the A bases, {@code nola_alpha [k_A]}. */
    public Parameter coefficientsA() {
        return alpha;
    }

    /** The coefficients of the B bases, {@code nola_beta [k_B]}. */
    public Parameter coefficientsB() {
        return beta;
    }

    @Override
    protected void releaseResources() {
        frozen.close();
    }

    /** This layer's bases. */
    public NolaBases bases() {
        return bases;
    }

    /** The rank r. */
    public int rank() {
        return r;
    }

    /** The scaling {@code s = alpha / r}. */
    public double scaling() {
        return scaling;
    }

    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "NOLA(%s: W [%d, %d], r %d, nola_alpha [%d], nola_beta [%d], bases %s, layer seed"
                        + " %d)",
                modulePath,
                base.outFeatures(),
                base.inFeatures(),
                r,
                numBasisA,
                numBasisB,
                regenerate ? "regenerated" : "resident",
                bases.layerSeed());
    }
}
