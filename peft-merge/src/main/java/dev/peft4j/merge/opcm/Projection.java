package dev.peft4j.merge.opcm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.FactoredSvd;

/**
 * OPCM's projection of a new task vector {@code T} against the merged task vector {@code D} of
 * one weight matrix: with {@code D = U S V^T} (thin SVD, {@code k = min(m, n)}), {@code C = U^T T V},
 * {@code r} the first index where {@code cumsum(S) / sum(S) > alpha}, {@code keep} = C on its
 * diagonal and on {@code C[:r, :r]}, {@code T' = T - U keep V^T}: the part of T that collides with
 * D's own directions is dropped, so that {@code u_i^T T' v_i = 0} and {@code U_r^T T' V_r = 0}.
 *
 * <p>Components of D with singular value below {@link #RANK_TOLERANCE} times the largest have no
 * well-defined direction (any orthonormal completion would do): they are skipped, so a rank
 * deficient D only projects along its rank, and a zero D projects nothing.
 *
 * <p>For a low-rank {@code D = P Q^T} (LoRA adapters) the SVD goes through QR of the factors,
 * {@code P = Q_P R_P}, {@code Q = Q_Q R_Q}, SVD of the small core {@code R_P R_Q^T}: O((m + n) k^2)
 * instead of O(m n min(m, n)), and with a low-rank T the new merged vector stays factored.
 */
final class Projection {

    /** Singular values at most this fraction of the largest count as zero (their vectors are arbitrary). */
    static final double RANK_TOLERANCE = 1e-6;

    /** {@code U_rho [m, rho]}. */
    final NDArray u;

    /** {@code V_rho [n, rho]}. */
    final NDArray v;

    /** The singular values kept (rho of them), descending. */
    final double[] s;

    /** The split index r: {@code keep} holds {@code C[:r, :r]} besides the diagonal. */
    final int split;

    private Projection(NDArray u, NDArray v, double[] s, int split) {
        this.u = u;
        this.v = v;
        this.s = s;
        this.split = split;
    }

    /** The projection of a dense {@code D [m, n]}; arrays on {@code scope}. */
    static Projection ofDense(NDArray d, double alpha, NDManager scope) {
        SvdResult svd = Linalg.svd(d, scope);
        return of(svd.u(), svd.s(), svd.v(), alpha);
    }

    /**
     * FusionBench's projection of a dense {@code D} (opcm.py {@code merge_linear_weights}): every
     * one of the {@code min(m, n)} components, with no rank tolerance, so the diagonal
     * coefficients of D's null space are zeroed too (their directions are the SVD's choice).
     */
    static Projection ofDenseFull(NDArray d, double alpha, NDManager scope) {
        SvdResult svd = Linalg.svd(d, scope);
        return of(svd.u(), svd.s(), svd.v(), alpha, true);
    }

    /** The projection of {@code D = P Q^T}, {@code P [m, k]}, {@code Q [n, k]}, through QR of the factors. */
    static Projection ofFactors(NDArray p, NDArray q, double alpha, NDManager scope) {
        SvdResult svd = FactoredSvd.svd(p, q, scope);
        return of(svd.u(), svd.s(), svd.v(), alpha);
    }

    private static Projection of(NDArray u, NDArray sArray, NDArray v, double alpha) {
        return of(u, sArray, v, alpha, false);
    }

    private static Projection of(NDArray u, NDArray sArray, NDArray v, double alpha, boolean full) {
        float[] all = sArray.toType(DataType.FLOAT32, false).toFloatArray();
        int rho = 0;
        while (rho < all.length && (full || all[rho] > 0 && all[rho] > RANK_TOLERANCE * all[0])) {
            rho++;
        }
        double[] s = new double[rho];
        double total = 0;
        for (int i = 0; i < rho; i++) {
            s[i] = all[i];
            total += s[i];
        }
        int split = 0;
        double cumulative = 0;
        for (int i = 0; i < rho; i++) {
            cumulative += s[i];
            if (cumulative / total > alpha) {
                split = i; // first index past alpha; none (alpha >= 1) leaves 0, as the reference's
                // argmax
                break;
            }
        }
        NDIndex cols = new NDIndex(":, :{}", rho);
        return new Projection(u.get(cols), v.get(cols), s, split);
    }

    /** The number of components used (the numerical rank of D). */
    int rank() {
        return s.length;
    }

    /** {@code C = U^T T V} ({@code rho x rho}) on T's manager. */
    NDArray coefficients(Delta t, Shape shape) {
        if (t instanceof Delta.LowRank lr) {
            return u.transpose().matMul(lr.b()).matMul(lr.a().matMul(v)).mul(lr.scale());
        }
        NDArray dense = t.toDense(u.getManager(), shape);
        return u.transpose().matMul(dense).matMul(v);
    }

    /** {@code C} on its diagonal and on {@code C[:r, :r]}, zero elsewhere. */
    NDArray keep(NDArray c) {
        int rho = rank();
        float[] mask = new float[rho * rho];
        for (int i = 0; i < rho; i++) {
            for (int j = 0; j < rho; j++) {
                mask[i * rho + j] = i == j || i < split && j < split ? 1f : 0f;
            }
        }
        NDArray m = c.getManager().create(mask, new Shape(rho, rho)).toDevice(c.getDevice(), false);
        return c.mul(m);
    }

    /** {@code T' = T - U keep V^T}: factored when T is, on {@code scope}. */
    Delta project(Delta t, Shape shape, NDManager scope) {
        if (t.isZero() || rank() == 0) {
            return t;
        }
        NDArray keep = keep(coefficients(t, shape));
        if (t instanceof Delta.LowRank lr) {
            NDArray b =
                    NDArrays.concat(new NDList(lr.b().mul(lr.scale()), u.matMul(keep).neg()), 1);
            NDArray a = NDArrays.concat(new NDList(lr.a(), v.transpose()), 0);
            b.attach(scope);
            a.attach(scope);
            return Delta.lowRank(b, a, 1.0);
        }
        NDArray out = t.toDense(scope, shape).sub(u.matMul(keep).matMul(v.transpose()));
        out.attach(scope);
        return Delta.dense(out);
    }

    /**
     * {@code lambda D + T'} with D the matrix this projection was built from, kept factored:
     * {@code U (lambda S - keep) V^T + s B A = [U (lambda S - keep), s B] [V^T; A]} (rank rho + r).
     */
    Delta.LowRank combineFactored(double lambda, Delta t, Shape shape, NDManager scope) {
        int rho = rank();
        float[] ls = new float[rho * rho];
        for (int i = 0; i < rho; i++) {
            ls[i * rho + i] = (float) (lambda * s[i]);
        }
        NDArray core =
                u.getManager().create(ls, new Shape(rho, rho)).toDevice(u.getDevice(), false);
        if (!t.isZero()) {
            core = core.sub(keep(coefficients(t, shape)));
        }
        NDArray b = u.matMul(core);
        NDArray a = v.transpose();
        if (t instanceof Delta.LowRank lr) {
            b = NDArrays.concat(new NDList(b, lr.b().mul(lr.scale())), 1);
            a = NDArrays.concat(new NDList(a, lr.a()), 0);
        }
        b.attach(scope);
        a.attach(scope);
        return (Delta.LowRank) Delta.lowRank(b, a, 1.0);
    }
}
