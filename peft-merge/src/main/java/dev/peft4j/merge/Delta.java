package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * The change of one tensor: a task vector {@code tau = theta_t - theta0}, or a merge result
 * {@code theta - theta0}. Kept in factored form when it is low-rank (a LoRA adapter's
 * {@code s B A}), so that merges of adapters never need the {@code [m, n]} product.
 */
public sealed interface Delta permits Delta.Zero, Delta.Dense, Delta.LowRank {

    /** No change (a candidate that does not touch this tensor). */
    static Delta zero() {
        return Zero.INSTANCE;
    }

    /** A dense change shaped like the tensor. */
    static Delta dense(NDArray value) {
        return new Dense(value);
    }

    /** The low-rank change {@code scale * B A}, {@code B [m, k]}, {@code A [k, n]}. */
    static Delta lowRank(NDArray b, NDArray a, double scale) {
        return new LowRank(b, a, scale);
    }

    /** Whether this is the zero change. */
    default boolean isZero() {
        return this instanceof Zero;
    }

    /** The change as a dense float32 array of {@code shape} on {@code manager} (zeros for {@link Zero}). */
    NDArray toDense(NDManager manager, Shape shape);

    /** The squared Frobenius norm, in double. */
    double squaredNorm();

    /** This change multiplied by {@code factor} (factored forms stay factored). */
    Delta times(double factor);

    /** {@code theta0 + this}, a new array of theta0's type on theta0's manager. */
    default NDArray addTo(NDArray theta0) {
        try (NDManager scope = theta0.getManager().newSubManager()) {
            NDArray d = toDense(scope, theta0.getShape()).toType(theta0.getDataType(), false);
            NDArray out = theta0.add(d);
            out.attach(theta0.getManager());
            return out;
        }
    }

    /** The zero change. */
    final class Zero implements Delta {
        private static final Zero INSTANCE = new Zero();

        private Zero() {}

        @Override
        public NDArray toDense(NDManager manager, Shape shape) {
            return manager.zeros(shape, DataType.FLOAT32);
        }

        @Override
        public double squaredNorm() {
            return 0;
        }

        @Override
        public Delta times(double factor) {
            return this;
        }

        @Override
        public NDArray addTo(NDArray theta0) {
            return theta0.duplicate();
        }

        @Override
        public String toString() {
            return "Delta.zero";
        }
    }

    /**
     * A dense change.
     *
     * @param value float32 array shaped like the tensor
     */
    record Dense(NDArray value) implements Delta {
        @Override
        public NDArray toDense(NDManager manager, Shape shape) {
            if (!value.getShape().equals(shape)) {
                throw new IllegalArgumentException(
                        "Dense change of shape "
                                + value.getShape()
                                + " for a tensor of shape "
                                + shape);
            }
            return value;
        }

        @Override
        public double squaredNorm() {
            return squaredNorm(value);
        }

        @Override
        public Delta times(double factor) {
            return new Dense(value.mul(factor));
        }

        /** The squared Frobenius norm of an array, accumulated in float64. */
        static double squaredNorm(NDArray a) {
            try (NDManager scope = a.getManager().newSubManager()) {
                NDArray d = a.toType(DataType.FLOAT64, false);
                d.attach(scope);
                return d.square().sum().getDouble();
            }
        }
    }

    /**
     * The change {@code scale * B A}.
     *
     * @param b left factor {@code [m, k]} (LoRA's {@code lora_B})
     * @param a right factor {@code [k, n]} (LoRA's {@code lora_A})
     * @param scale the scalar in front (LoRA's {@code s})
     */
    record LowRank(NDArray b, NDArray a, double scale) implements Delta {

        /** Checks the factor shapes. */
        public LowRank {
            if (b.getShape().dimension() != 2
                    || a.getShape().dimension() != 2
                    || b.getShape().get(1) != a.getShape().get(0)) {
                throw new IllegalArgumentException(
                        "Low-rank factors must be B [m, k] and A [k, n], got B "
                                + b.getShape()
                                + " and A "
                                + a.getShape());
            }
        }

        /** The number of columns of B (rows of A), an upper bound on the rank. */
        public long rank() {
            return b.getShape().get(1);
        }

        @Override
        public NDArray toDense(NDManager manager, Shape shape) {
            Shape own = new Shape(b.getShape().get(0), a.getShape().get(1));
            if (!own.equals(shape)) {
                throw new IllegalArgumentException(
                        "Low-rank change of shape " + own + " for a tensor of shape " + shape);
            }
            NDArray product = b.matMul(a).mul(scale);
            product.attach(manager);
            return product;
        }

        /** {@code ||s B A||^2 = s^2 sum((B^T B) o (A A^T))}: O((m + n) k^2), no {@code [m, n]} product. */
        @Override
        public double squaredNorm() {
            try (NDManager scope = b.getManager().newSubManager()) {
                NDArray b64 = b.toType(DataType.FLOAT64, false);
                NDArray a64 = a.toType(DataType.FLOAT64, false);
                b64.attach(scope);
                a64.attach(scope);
                NDArray gram = b64.transpose().matMul(b64).mul(a64.matMul(a64.transpose()));
                return scale * scale * Math.max(0, gram.sum().getDouble());
            }
        }

        @Override
        public Delta times(double factor) {
            return new LowRank(b, a, scale * factor);
        }

        /**
         * The exact sum {@code sum_i w_i s_i B_i A_i} as one factorization: {@code B' = [B_1, B_2,
         * ...]}, {@code A' = [w_1 s_1 A_1; w_2 s_2 A_2; ...]}, scale 1 (rank adds up).
         */
        public static LowRank concat(List<LowRank> parts, List<Double> weights, NDManager manager) {
            if (parts.isEmpty() || parts.size() != weights.size()) {
                throw new IllegalArgumentException(
                        "concat needs one weight per part, got "
                                + parts.size()
                                + " parts and "
                                + weights.size()
                                + " weights");
            }
            List<NDArray> bs = new ArrayList<>();
            List<NDArray> as = new ArrayList<>();
            for (int i = 0; i < parts.size(); i++) {
                LowRank p = parts.get(i);
                bs.add(p.b());
                as.add(p.a().mul(p.scale() * weights.get(i)));
            }
            NDArray b = concat(bs, 1);
            NDArray a = concat(as, 0);
            b.attach(manager);
            a.attach(manager);
            return new LowRank(b, a, 1.0);
        }

        private static NDArray concat(List<NDArray> arrays, int axis) {
            return arrays.size() == 1
                    ? arrays.get(0).duplicate()
                    : NDArrays.concat(new NDList(arrays), axis);
        }
    }
}
