package dev.peft4j.core.linalg;

/**
 * Every tolerance of the linear-algebra tests, in one place. The decompositions return float32 for
 * float32 input, so the budgets are a few hundred float32 ulps (2^-24 = 6e-8) of the largest
 * singular value: generous enough for every route, tight enough that a wrong sign, a lost column or
 * a non-orthogonal factor fails by orders of magnitude.
 */
final class Tolerances {

    /** Max |U diag(S) V^T - A| (or |QR - A|), relative to the largest singular value. */
    static final double RECONSTRUCTION = 1e-5;

    /** Max |F^T F - I| for an orthonormal factor F. */
    static final double ORTHONORMALITY = 1e-5;

    /** Singular values or eigenvalues vs planted / reference ones: relative part. */
    static final double VALUES_RTOL = 1e-5;

    /** Singular values or eigenvalues vs planted / reference ones: absolute part, times s_1. */
    static final double VALUES_ATOL = 1e-5;

    /** Max |A V - V diag(w)| relative to max |w|. */
    static final double EIGEN_RESIDUAL = 1e-5;

    /** Randomized SVD with q below the rank: relative error of the top-q values. */
    static final double LOW_RANK_VALUES_RTOL = 1e-4;

    private Tolerances() {}
}
