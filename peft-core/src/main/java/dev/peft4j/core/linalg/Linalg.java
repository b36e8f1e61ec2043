package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.Finiteness;
import dev.peft4j.core.random.CounterRandom;

/**
 * SVD, randomized SVD, QR and symmetric eigendecomposition for DJL arrays.
 *
 * <p>Large products (Gram matrices, {@code A R}, {@code Q^T A}, applying factors) run as NDArray
 * operations on the input's own device, so on a GPU when the engine has one; only the small {@code
 * k x k} (or {@code q x q}) factorizations run in Java, in float64, and no large matrix is copied
 * to the Java heap. Results are attached to the input's manager unless a manager is passed;
 * temporaries live in sub-managers and are closed before returning. Float32, float16 and bfloat16
 * inputs give float32 results, float64 inputs float64 results.
 *
 * <p>Algorithms: the SVD eigendecomposes the float64 Gram of the tall orientation {@code X [p, k]}
 * in Java and obtains U by CholeskyQR of {@code X V diag(1/s)} on the device; QR is shifted
 * CholeskyQR3 (float64 Grams on the device, Cholesky in Java); the randomized SVD is Halko,
 * Martinsson and Tropp's range finder with subspace iteration; eigh is Householder
 * tridiagonalization and implicit QL in Java.
 *
 * <p>Accuracy: going through float64 Gram matrices is as accurate as a float32 LAPACK routine on
 * float32 data: backward errors are about {@code 1e-7 ||A||} after the float32 rounding of the
 * results, and float64 inputs do not get float64 accuracy. Singular values below the Gram's noise
 * floor ({@code sqrt((p + k) 2^-53) s_1}) are reported as exactly 0.
 *
 * <p>Sign convention (deterministic for a given input; across devices up to rounding near-ties):
 * every column of U (for SVDs) or of the eigenvector matrix (for {@link #eigh}) has its
 * largest-magnitude entry positive (the first such entry on ties), and the matching column of V is
 * flipped with it; R of a QR has a non-negative diagonal. Where A is rank deficient, the columns of
 * U (or Q) beyond its rank complete an orthonormal basis with deterministic pseudo-random
 * directions.
 */
public final class Linalg {

    /**
     * {@link #eigh} rejects a matrix whose asymmetry exceeds this fraction of its largest entry.
     */
    public static final double SYMMETRY_TOLERANCE = 1e-4;

    private Linalg() {}

    /**
     * Exact thin SVD {@code A = U diag(S) V^T}, results on A's manager.
     *
     * @param a matrix {@code [m, n]}
     * @return {@code U [m, k]}, {@code S [k]} descending, {@code V [n, k]}, {@code k = min(m, n)}
     */
    public static SvdResult svd(NDArray a) {
        return svd(a, a.getManager());
    }

    /**
     * Exact thin SVD {@code A = U diag(S) V^T} (float64 Gram of the tall orientation,
     * eigendecomposition in Java, U by CholeskyQR on the device).
     *
     * @param a matrix {@code [m, n]}
     * @param manager owns the results
     * @return {@code U [m, k]}, {@code S [k]} descending, {@code V [n, k]}, {@code k = min(m, n)}
     */
    public static SvdResult svd(NDArray a, NDManager manager) {
        checkMatrix("svd", a);
        DataType out = outputType(a);
        try (NDManager scope = a.getManager().newSubManager()) {
            a.tempAttach(scope);
            boolean wide = a.getShape().get(0) < a.getShape().get(1);
            NDArray x = (wide ? a.transpose() : a).toType(DataType.FLOAT64, false);
            GramSvd.Factors f = GramSvd.tall(x, Orthonormalizer.tolerance(out), scope);
            NDArray vSmall = f.vMatrix(scope);
            return result(f.u(), f.s(), vSmall, wide, out, manager);
        }
    }

    /**
     * Randomized thin SVD with the contract of {@code torch.svd_lowrank(A, q, niter)}, results on
     * A's manager.
     *
     * @param a matrix {@code [m, n]}
     * @param q number of singular triplets, {@code 1 <= q <= min(m, n)}
     * @param niter subspace iterations, {@code >= 0}
     * @param seed seed of the Gaussian test matrix ({@link CounterRandom}, stream 0)
     * @return {@code U [m, q]}, {@code S [q]} descending, {@code V [n, q]}
     */
    public static SvdResult svdLowRank(NDArray a, int q, int niter, long seed) {
        return svdLowRank(a, q, niter, seed, a.getManager());
    }

    /**
     * Randomized thin SVD (Halko, Martinsson, Tropp 2011, algorithms 4.4 and 5.1), the contract of
     * {@code torch.svd_lowrank(A, q, niter)}: on the tall orientation {@code X [p, c]}, with a
     * Gaussian test matrix {@code R [c, q]}, {@code Q = orth(X R)}, then {@code niter} times {@code
     * Q = orth(X orth(X^T Q))}; {@code B = Q^T X}, exact SVD {@code B = Ub S Vb^T}, {@code U = Q
     * Ub}. Products with X run in X's precision (float32 for float32 input), orthonormalizations in
     * float64. The test matrix comes from {@link CounterRandom} so that a seed gives the same
     * result on every machine and device (bitwise on one machine).
     *
     * @param a matrix {@code [m, n]}
     * @param q number of singular triplets, {@code 1 <= q <= min(m, n)}
     * @param niter subspace iterations, {@code >= 0}
     * @param seed seed of the Gaussian test matrix ({@link CounterRandom}, stream 0)
     * @param manager owns the results
     * @return {@code U [m, q]}, {@code S [q]} descending, {@code V [n, q]}
     */
    public static SvdResult svdLowRank(NDArray a, int q, int niter, long seed, NDManager manager) {
        checkMatrix("svdLowRank", a);
        long k = Math.min(a.getShape().get(0), a.getShape().get(1));
        if (q < 1 || q > k) {
            throw new IllegalArgumentException(
                    "svdLowRank: q must be in [1, min(m, n)] = [1, "
                            + k
                            + "] for a matrix of shape "
                            + a.getShape()
                            + ", got q = "
                            + q);
        }
        if (niter < 0) {
            throw new IllegalArgumentException("svdLowRank: niter must be >= 0, got " + niter);
        }
        DataType out = outputType(a);
        try (NDManager scope = a.getManager().newSubManager()) {
            a.tempAttach(scope);
            boolean wide = a.getShape().get(0) < a.getShape().get(1);
            NDArray x = (wide ? a.transpose() : a).toType(out, false);
            NDArray xt = x.transpose();
            long c = x.getShape().get(1);
            NDArray omega = new CounterRandom(seed).normal(scope, 0, new Shape(c, q));
            // only the final basis must be orthonormal; the others only need to span well
            double tolerance = Orthonormalizer.tolerance(out);
            double intermediate = Orthonormalizer.WELL_CONDITIONED;
            NDArray basis = rangeStep(x, omega, out, niter == 0 ? tolerance : intermediate, scope);
            for (int i = 0; i < niter; i++) {
                NDArray corange = rangeStep(xt, basis, out, intermediate, scope);
                basis.close();
                basis =
                        rangeStep(
                                x, corange, out, i == niter - 1 ? tolerance : intermediate, scope);
                corange.close();
            }
            NDArray bt = xt.matMul(basis.toType(out, false)).toType(DataType.FLOAT64, false);
            GramSvd.Factors f = GramSvd.tall(bt, tolerance, scope);
            NDArray u = basis.matMul(f.vMatrix(scope));
            return result(u, f.s(), f.u(), wide, out, manager);
        }
    }

    /**
     * {@code orth(x y)} in float64, attached to {@code scope}; the product runs in the working
     * precision {@code work} and its temporaries are closed, so the iteration keeps flat memory.
     */
    private static NDArray rangeStep(
            NDArray x, NDArray y, DataType work, double tolerance, NDManager scope) {
        try (NDManager step = scope.newSubManager()) {
            NDArray yw = y.toType(work, false);
            if (yw != y) {
                yw.attach(step);
            }
            NDArray product = x.matMul(yw);
            product.attach(step);
            NDArray product64 = product.toType(DataType.FLOAT64, false);
            product64.attach(step);
            return Orthonormalizer.orthonormalize(product64, tolerance, scope).q();
        }
    }

    /**
     * Thin QR {@code A = Q R}, results on A's manager.
     *
     * @param a matrix {@code [m, n]}
     * @return {@code Q [m, k]} with orthonormal columns, {@code R [k, n]} upper triangular
     */
    public static QrResult qr(NDArray a) {
        return qr(a, a.getManager());
    }

    /**
     * Thin QR {@code A = Q R} by shifted CholeskyQR3 with float64 Gram matrices on A's device; for
     * a wide A the first {@code m} columns are factored and {@code R}'s remaining columns are
     * {@code Q^T A[:, m:]}.
     *
     * @param a matrix {@code [m, n]}
     * @param manager owns the results
     * @return {@code Q [m, k]} with orthonormal columns, {@code R [k, n]} upper triangular with a
     *     non-negative diagonal, {@code k = min(m, n)}
     */
    public static QrResult qr(NDArray a, NDManager manager) {
        checkMatrix("qr", a);
        DataType out = outputType(a);
        try (NDManager scope = a.getManager().newSubManager()) {
            a.tempAttach(scope);
            int k = Math.toIntExact(Math.min(a.getShape().get(0), a.getShape().get(1)));
            boolean wide = a.getShape().get(1) > k;
            NDArray a64 = a.toType(DataType.FLOAT64, false);
            NDArray left = wide ? a64.get(new NDIndex(":, :{}", k)) : a64;
            Orthonormalizer.Factors f =
                    Orthonormalizer.orthonormalize(left, Orthonormalizer.tolerance(out), scope);
            NDArray r = scope.create(Kernels.flatten(f.r(), k), new Shape(k, k));
            if (wide) {
                NDArray right = a64.get(new NDIndex(":, {}:", k));
                r = r.concat(f.q().transpose().matMul(right), 1);
            }
            return new QrResult(export(f.q(), out, manager), export(r, out, manager));
        }
    }

    /**
     * Symmetric eigendecomposition, results on the input's manager.
     *
     * @param symmetric symmetric matrix {@code [k, k]}
     * @return eigenvalues descending and orthonormal eigenvectors as columns
     */
    public static EighResult eigh(NDArray symmetric) {
        return eigh(symmetric, symmetric.getManager());
    }

    /**
     * Symmetric eigendecomposition {@code A = V diag(w) V^T} in Java float64 (Householder
     * tridiagonalization and implicit QL); the matrix is copied to the heap once, as the small
     * factorization it is. The symmetric part {@code (A + A^T) / 2} is decomposed; an asymmetry
     * above {@link #SYMMETRY_TOLERANCE} of the largest entry is rejected.
     *
     * @param symmetric symmetric matrix {@code [k, k]}
     * @param manager owns the results
     * @return eigenvalues {@code [k]} descending and eigenvectors {@code [k, k]} as columns
     */
    public static EighResult eigh(NDArray symmetric, NDManager manager) {
        checkMatrix("eigh", symmetric);
        Shape shape = symmetric.getShape();
        if (shape.get(0) != shape.get(1)) {
            throw new IllegalArgumentException(
                    "eigh expects a square symmetric matrix [k, k], got shape " + shape);
        }
        int k = Math.toIntExact(shape.get(0));
        DataType out = outputType(symmetric);
        double[][] a;
        try (NDArray a64 = symmetric.toType(DataType.FLOAT64, true)) {
            a = symmetricPart(Kernels.unflatten(a64.toDoubleArray(), k, k));
        }
        SymmetricEigen eig = SymmetricEigen.of(a);
        try (NDManager scope = symmetric.getManager().newSubManager()) {
            NDArray vectors = local(GramSvd.columns(scope, eig.vectors), out, scope);
            NDArray[] signed = positiveLargestEntries(vectors, null);
            NDArray values = scope.create(eig.values);
            return new EighResult(export(values, out, manager), export(signed[0], out, manager));
        }
    }

    private static double[][] symmetricPart(double[][] a) {
        int k = a.length;
        double max = 0;
        double asymmetry = 0;
        for (int i = 0; i < k; i++) {
            for (int j = i; j < k; j++) {
                max = Math.max(max, Math.max(Math.abs(a[i][j]), Math.abs(a[j][i])));
                asymmetry = Math.max(asymmetry, Math.abs(a[i][j] - a[j][i]));
            }
        }
        if (asymmetry > SYMMETRY_TOLERANCE * max) {
            throw new IllegalArgumentException(
                    "eigh expects a symmetric matrix: max |A - A^T| = "
                            + asymmetry
                            + " exceeds "
                            + SYMMETRY_TOLERANCE
                            + " * max |A| = "
                            + SYMMETRY_TOLERANCE * max);
        }
        for (int i = 0; i < k; i++) {
            for (int j = i + 1; j < k; j++) {
                a[i][j] = 0.5 * (a[i][j] + a[j][i]);
            }
        }
        return a;
    }

    /**
     * Builds the exported SVD of A from the factors of its tall orientation; signs are fixed after
     * the cast so that the rule holds exactly on the returned values.
     */
    private static SvdResult result(
            NDArray uTall,
            double[] s,
            NDArray vTall,
            boolean wide,
            DataType out,
            NDManager manager) {
        NDManager scope = uTall.getManager();
        NDArray u = local(wide ? vTall : uTall, out, scope);
        NDArray v = local(wide ? uTall : vTall, out, scope);
        NDArray[] signed = positiveLargestEntries(u, v);
        return new SvdResult(
                export(signed[0], out, manager),
                export(scope.create(s), out, manager),
                export(signed[1], out, manager));
    }

    /**
     * Flips columns of {@code basis} (and of {@code partner}) so that each column's
     * largest-magnitude entry is positive.
     */
    private static NDArray[] positiveLargestEntries(NDArray basis, NDArray partner) {
        long k = basis.getShape().get(1);
        NDArray index = basis.abs().argMax(0).reshape(1, k);
        NDArray sign = basis.gather(index, 0).sign();
        return new NDArray[] {basis.mul(sign), partner == null ? null : partner.mul(sign)};
    }

    /** x in the output type, owned by {@code scope}. */
    private static NDArray local(NDArray x, DataType out, NDManager scope) {
        NDArray y = x.toType(out, false);
        y.attach(scope);
        return y;
    }

    /** Casts to the output type, moves to the manager's device and attaches to the manager. */
    private static NDArray export(NDArray x, DataType out, NDManager manager) {
        NDArray y = x.toType(out, false);
        if (!y.getDevice().equals(manager.getDevice())) {
            y = y.toDevice(manager.getDevice(), false);
        }
        y.attach(manager);
        return y;
    }

    private static DataType outputType(NDArray a) {
        return a.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
    }

    private static void checkMatrix(String op, NDArray a) {
        Shape shape = a.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException(
                    op + " expects a 2-D matrix [m, n], got shape " + shape);
        }
        if (shape.get(0) == 0 || shape.get(1) == 0) {
            throw new IllegalArgumentException(
                    op + " expects a non-empty matrix, got shape " + shape);
        }
        if (!a.getDataType().isFloating()) {
            throw new IllegalArgumentException(
                    op + " expects a floating-point matrix, got data type " + a.getDataType());
        }
        if (!Finiteness.isFinite(a)) {
            throw new IllegalArgumentException(
                    op
                            + " expects finite values, got NaN or infinity in a matrix of shape "
                            + shape);
        }
    }
}
