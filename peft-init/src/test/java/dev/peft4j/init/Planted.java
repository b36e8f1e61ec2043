package dev.peft4j.init;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import java.util.SplittableRandom;

/** Dense references for the initializer tests: planted spectra and one-layer models, in plain Java doubles. */
public final class Planted {

    private Planted() {}

    /** {@code cols} orthonormal columns of length {@code rows} (Gram-Schmidt on seeded Gaussian vectors). */
    public static double[][] orthonormal(int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] q = new double[rows][cols];
        for (int j = 0; j < cols; j++) {
            double[] v = new double[rows];
            for (int i = 0; i < rows; i++) {
                v[i] = gaussian(rnd);
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int k = 0; k < j; k++) {
                    double dot = 0;
                    for (int i = 0; i < rows; i++) {
                        dot += v[i] * q[i][k];
                    }
                    for (int i = 0; i < rows; i++) {
                        v[i] -= dot * q[i][k];
                    }
                }
            }
            double norm = 0;
            for (double x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < rows; i++) {
                q[i][j] = v[i] / norm;
            }
        }
        return q;
    }

    /** A standard normal draw. */
    public static double gaussian(SplittableRandom rnd) {
        return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble()))
                * Math.cos(2 * Math.PI * rnd.nextDouble());
    }

    /** {@code sum_{i < terms} s[i] u_i v_i^T} as a {@code [m, n]} array. */
    public static double[][] product(double[][] u, double[] s, double[][] v, int terms) {
        int m = u.length;
        int n = v.length;
        double[][] out = new double[m][n];
        for (int k = 0; k < terms; k++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    out[i][j] += s[k] * u[i][k] * v[j][k];
                }
            }
        }
        return out;
    }

    /** A float32 array from a dense matrix. */
    public static NDArray create(NDManager manager, double[][] a) {
        float[] flat = new float[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                flat[i * a[0].length + j] = (float) a[i][j];
            }
        }
        return manager.create(flat, new Shape(a.length, a[0].length));
    }

    /** A one-layer model {@code y = W x} (no bias), module path {@code "0"}, with the given weight. */
    public static SequentialBlock linear(NDManager manager, double[][] w) {
        SequentialBlock block =
                new SequentialBlock()
                        .add(Linear.builder().setUnits(w.length).optBias(false).build());
        block.initialize(manager, DataType.FLOAT32, new Shape(1, w[0].length));
        block.getChildren()
                .get(0)
                .getValue()
                .getParameters()
                .get("weight")
                .getArray()
                .set(new NDIndex("..."), create(manager, w));
        return block;
    }
}
