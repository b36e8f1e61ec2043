package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.random.CounterRandom;

/**
 * Thin QR of a tall float64 matrix {@code Y = Q R} on Y's device by repeated CholeskyQR passes
 * (shifted CholeskyQR3: Fukaya, Kannan, Nakatsukasa, Yamamoto, Yanagisawa 2020, "Shifted Cholesky
 * QR for computing the QR factorization of ill-conditioned matrices").
 *
 * <p>A pass forms the Gram {@code G = Y^T Y} on the device, factors {@code G = R^T R} in Java and
 * applies {@code Y R^-1} on the device. A pass leaves an orthogonality error of about {@code u
 * kappa(Y)^2} (u = 2^-53), so the loop stops as soon as the measured or predicted error is within
 * the caller's tolerance: one pass for a well-conditioned Y, two (CholeskyQR2) for a moderately
 * conditioned one, none when Y already is orthonormal enough. When the first factor is badly
 * conditioned it is recomputed with the Fukaya shift, which keeps {@code Y = Q R} exact while
 * bounding the condition of the next pass's input. Columns that are numerically dependent on
 * earlier ones get a zero row in R and are replaced by deterministic Gaussian columns ({@link
 * CounterRandom}, fixed seed), which the next pass orthonormalizes against the rest: Q always has
 * orthonormal columns, also for zero or rank-deficient Y.
 */
final class Orthonormalizer {

    /** Tolerance for factors returned in float64: {@code max |Q^T Q - I|}. */
    static final double FLOAT64 = 1e-12;

    /** Tolerance for factors returned in float32, whose own rounding adds about 1e-7. */
    static final double FLOAT32 = 1e-9;

    /**
     * Tolerance for intermediate bases of the randomized range finder: only their span matters, and
     * they are rounded to float32 for the next product anyway.
     */
    static final double WELL_CONDITIONED = 1e-6;

    /** Input Gram within this of I: one CholeskyQR pass leaves an orthogonality error ~ 1e-15. */
    private static final double NEARLY_ORTHONORMAL = 1e-3;

    /** Orthogonality error left by a pass on nearly orthonormal input. */
    private static final double PASS_FLOOR = 1e-15;

    /** Safety factor on the typical CholeskyQR error {@code u kappa^2} when predicting a pass. */
    private static final double PREDICTION_SAFETY = 100;

    /**
     * Above this condition estimate the first pass is redone with the Fukaya shift: below it the
     * next pass's input is orthonormal to {@code u kappa^2 ~ 1e-6} and CholeskyQR2 is safe.
     */
    private static final double KAPPA_LIMIT = 1e5;

    /**
     * Pivot floor relative to the largest Gram diagonal, in units of {@code (m + k) u}: the
     * rounding error of a float64 Gram entry is about {@code (m + k) u max diag}, so a smaller
     * pivot says nothing about a new direction and its column counts as dependent.
     */
    private static final double PIVOT_FLOOR_ULPS = 16;

    private static final double UNIT_ROUNDOFF = 0x1p-53;
    private static final double SAFE_MIN = 1e-200;
    private static final double SAFE_MAX = 1e200;
    private static final int MAX_PASSES = 6;
    private static final long COMPLETION_SEED = 0x5EED_0F_0A7L;

    private Orthonormalizer() {}

    /** Orthonormal factor (float64, on the requested manager) and its triangular factor. */
    record Factors(NDArray q, double[][] r) {}

    /** The tolerance matching an output data type. */
    static double tolerance(DataType out) {
        return out == DataType.FLOAT64 ? FLOAT64 : FLOAT32;
    }

    /**
     * Factors {@code y = Q R}.
     *
     * @param y float64 matrix {@code [m, k]} with {@code m >= k}
     * @param tolerance accepted {@code max |Q^T Q - I|}: {@link #FLOAT64}, {@link #FLOAT32} or
     *     {@link #WELL_CONDITIONED}
     * @param manager owns the returned Q
     * @return Q {@code [m, k]} with orthonormal columns and upper-triangular R with a non-negative
     *     diagonal (zero at dependent columns)
     */
    static Factors orthonormalize(NDArray y, double tolerance, NDManager manager) {
        long m = y.getShape().get(0);
        int k = Math.toIntExact(y.getShape().get(1));
        double[][] rTotal = Kernels.identity(k);
        try (NDManager scope = y.getManager().newSubManager()) {
            // results of operations on y land on y's manager; keep them in this scope instead
            y.tempAttach(scope);
            NDArray q = y;
            double scale = 1;
            for (int pass = 0; pass < MAX_PASSES; pass++) {
                double[][] g = gram(q, k);
                if (pass == 0) {
                    scale = gramScale(y, g);
                    if (scale != 1) {
                        q = y.div(scale);
                        g = gram(q, k);
                    }
                }
                double error = distanceToIdentity(g);
                if (error <= tolerance) {
                    return done(q, y, scaled(rTotal, scale), manager);
                }
                double floor = PIVOT_FLOOR_ULPS * (m + k) * UNIT_ROUNDOFF * maxDiagonal(g);
                Cholesky chol = Cholesky.factor(g, 0, floor);
                double[][] inverse = chol.inverse();
                double kappa = chol.conditionEstimate(inverse) / Math.sqrt(k);
                boolean shifted = pass == 0 && kappa > KAPPA_LIMIT;
                if (shifted) {
                    chol = Cholesky.factor(g, fukayaShift(g, m), floor);
                    inverse = chol.inverse();
                }
                q = apply(q, inverse, chol, scope);
                rTotal = Kernels.upperTimesUpper(chol.r, rTotal);
                double predicted =
                        error <= NEARLY_ORTHONORMAL
                                ? PASS_FLOOR
                                : PREDICTION_SAFETY * UNIT_ROUNDOFF * kappa * kappa;
                if (!shifted && chol.deficientCount == 0 && predicted <= tolerance) {
                    return done(q, y, scaled(rTotal, scale), manager);
                }
            }
            throw new ArithmeticException(
                    "CholeskyQR did not reach orthonormal columns in "
                            + MAX_PASSES
                            + " passes for a matrix of shape "
                            + y.getShape());
        }
    }

    private static Factors done(NDArray q, NDArray y, double[][] r, NDManager manager) {
        NDArray out = q == y ? q.duplicate() : q;
        out.attach(manager);
        return new Factors(out, r);
    }

    /**
     * 1, or {@code max |y|} when the Gram {@code g} of y left the safe float64 range (overflow or
     * underflow): the check is free, and only then does scaling cost a pass over y.
     */
    static double gramScale(NDArray y, double[][] g) {
        double maxDiagonal = maxDiagonal(g);
        if (maxDiagonal >= SAFE_MIN && maxDiagonal <= SAFE_MAX) {
            return 1;
        }
        try (NDArray abs = y.abs();
                NDArray max = abs.max()) {
            double m = max.getDouble();
            return m > 0 ? m : 1;
        }
    }

    private static double[][] scaled(double[][] r, double scale) {
        for (double[] row : r) {
            for (int j = 0; j < row.length; j++) {
                row[j] *= scale;
            }
        }
        return r;
    }

    /** {@code q^T q} on q's device, copied to the heap as rows. */
    static double[][] gram(NDArray q, int k) {
        try (NDArray qt = q.transpose();
                NDArray g = qt.matMul(q)) {
            return Kernels.unflatten(g.toDoubleArray(), k, k);
        }
    }

    /** {@code q R^-1}, with the deficient columns replaced by deterministic Gaussian columns. */
    private static NDArray apply(NDArray q, double[][] inverse, Cholesky chol, NDManager scope) {
        int k = inverse.length;
        NDArray m = scope.create(Kernels.flatten(inverse, k), new Shape(k, k));
        NDArray next = q.matMul(m);
        next.attach(scope);
        if (chol.deficientCount == 0) {
            return next;
        }
        int rows = Math.toIntExact(q.getShape().get(0));
        int d = chol.deficientCount;
        double[] fill = new double[rows * d];
        double[] select = new double[d * k];
        CounterRandom random = new CounterRandom(COMPLETION_SEED);
        float[] column = new float[rows];
        int c = 0;
        for (int j = 0; j < k; j++) {
            if (!chol.deficient[j]) {
                continue;
            }
            random.fillNormal(j, 0, column);
            double norm = 0;
            for (float x : column) {
                norm += (double) x * x;
            }
            double inv = 1.0 / Math.sqrt(norm);
            for (int i = 0; i < rows; i++) {
                fill[i * d + c] = column[i] * inv;
            }
            select[c * k + j] = 1.0;
            c++;
        }
        NDArray completion =
                scope.create(fill, new Shape(rows, d))
                        .matMul(scope.create(select, new Shape(d, k)));
        return next.add(completion);
    }

    /** Fukaya et al.'s shift {@code 11 (m k + k (k + 1)) u ||Y||^2}, with the Frobenius norm. */
    private static double fukayaShift(double[][] g, long m) {
        int k = g.length;
        double trace = 0;
        for (int i = 0; i < k; i++) {
            trace += g[i][i];
        }
        return 11.0 * (m * k + (double) k * (k + 1)) * UNIT_ROUNDOFF * trace;
    }

    private static double maxDiagonal(double[][] g) {
        double max = 0;
        for (int i = 0; i < g.length; i++) {
            // NaN (an overflowed product) must not be swallowed by Math.max
            max = Double.isNaN(g[i][i]) ? Double.POSITIVE_INFINITY : Math.max(max, g[i][i]);
        }
        return max;
    }

    private static double distanceToIdentity(double[][] g) {
        double max = 0;
        for (int i = 0; i < g.length; i++) {
            for (int j = 0; j < g.length; j++) {
                max = Math.max(max, Math.abs(g[i][j] - (i == j ? 1.0 : 0.0)));
            }
        }
        return max;
    }
}
