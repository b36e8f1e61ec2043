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
 * applies {@code Y R^-1} on the device; each pass squares away the previous pass's loss of
 * orthogonality, so the loop stops one pass after its input was nearly orthonormal (CholeskyQR2)
 * or right away when the input already is. When the first factor is badly conditioned it is
 * recomputed with the Fukaya shift, which keeps {@code Y = Q R} exact while bounding the
 * condition of the next pass's input. Columns that are numerically dependent on earlier ones get a
 * zero row in R and are replaced by deterministic Gaussian columns ({@link CounterRandom}, fixed
 * seed), which the next pass orthonormalizes against the rest: Q always has orthonormal columns,
 * also for zero or rank-deficient Y.
 */
final class Orthonormalizer {

    /** Input Gram within this of I (max entry): the input is already orthonormal to float64. */
    private static final double ORTHONORMAL = 1e-12;

    /** Input Gram within this of I: one CholeskyQR pass leaves an orthogonality error ~ 1e-16. */
    private static final double NEARLY_ORTHONORMAL = 1e-3;

    /**
     * Above this condition estimate the first pass is redone with the Fukaya shift: below it the
     * next pass's input is orthonormal to {@code u kappa^2 ~ 1e-6} and CholeskyQR2 is safe.
     */
    private static final double KAPPA_LIMIT = 1e5;

    /** Pivot floor relative to the largest Gram diagonal, in units of {@code (m + k) u}. */
    private static final double PIVOT_FLOOR_ULPS = 16;

    private static final double UNIT_ROUNDOFF = 0x1p-53;
    private static final double SAFE_MIN = 1e-100;
    private static final double SAFE_MAX = 1e100;
    private static final int MAX_PASSES = 6;
    private static final long COMPLETION_SEED = 0x5EED_0F_0A7L;

    private Orthonormalizer() {}

    /** Orthonormal factor (float64, on the requested manager) and its triangular factor. */
    record Factors(NDArray q, double[][] r) {}

    /**
     * Factors {@code y = Q R}.
     *
     * @param y float64 matrix {@code [m, k]} with {@code m >= k}
     * @param manager owns the returned Q
     * @return Q {@code [m, k]} with orthonormal columns and upper-triangular R with a non-negative
     *     diagonal (zero at dependent columns)
     */
    static Factors orthonormalize(NDArray y, NDManager manager) {
        long m = y.getShape().get(0);
        int k = Math.toIntExact(y.getShape().get(1));
        double[][] rTotal = Kernels.identity(k);
        try (NDManager scope = y.getManager().newSubManager()) {
            // results of operations on y land on y's manager; keep them in this scope instead
            y.tempAttach(scope);
            // extreme magnitudes are scaled so that the Gram neither overflows nor underflows;
            // others are not, so that an input that is already orthonormal is recognized as such
            double max = y.abs().max().getDouble();
            double scale = max > 0 && (max < SAFE_MIN || max > SAFE_MAX) ? max : 1;
            NDArray q = scale != 1 ? y.div(scale) : y;
            for (int pass = 0; pass < MAX_PASSES; pass++) {
                double[][] g = gram(q, k);
                double error = distanceToIdentity(g);
                if (error <= ORTHONORMAL) {
                    return done(q, y, scaled(rTotal, scale), manager);
                }
                double floor = PIVOT_FLOOR_ULPS * (m + k) * UNIT_ROUNDOFF * maxDiagonal(g);
                Cholesky chol = Cholesky.factor(g, 0, floor);
                double[][] inverse = chol.inverse();
                boolean shifted = false;
                if (pass == 0 && chol.conditionEstimate(inverse) / Math.sqrt(k) > KAPPA_LIMIT) {
                    chol = Cholesky.factor(g, fukayaShift(g, m), floor);
                    inverse = chol.inverse();
                    shifted = true;
                }
                q = apply(q, inverse, chol, scope);
                rTotal = Kernels.upperTimesUpper(chol.r, rTotal);
                if (error <= NEARLY_ORTHONORMAL && !shifted && chol.deficientCount == 0) {
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

    private static double[][] scaled(double[][] r, double scale) {
        for (double[] row : r) {
            for (int j = 0; j < row.length; j++) {
                row[j] *= scale;
            }
        }
        return r;
    }

    private static double[][] gram(NDArray q, int k) {
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
            max = Math.max(max, g[i][i]);
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
