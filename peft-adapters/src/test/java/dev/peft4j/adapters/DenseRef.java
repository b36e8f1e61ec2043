package dev.peft4j.adapters;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import dev.peft4j.core.AdaptedLayer;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.core.tree.ModuleTree;

/** Dense references for method tests: arrays as double matrices and a Linear layer written out in loops. */
public final class DenseRef {

    private DenseRef() {}

    /** A 2-D array as rows of doubles. */
    public static double[][] matrix(NDArray a) {
        int rows = (int) a.getShape().get(0);
        int cols = (int) a.getShape().get(1);
        double[] v = NdAssert.toDoubles(a);
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(v, i * cols, out[i], 0, cols);
        }
        return out;
    }

    /** Rows concatenated. */
    public static double[] flat(double[][] m) {
        double[] out = new double[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) {
            System.arraycopy(m[i], 0, out, i * m[0].length, m[0].length);
        }
        return out;
    }

    /** {@code y = x W^T + bias} for {@code x [t, n]}, {@code W [m, n]}, in double precision. */
    public static double[][] linear(double[][] x, double[][] w, double[] bias) {
        double[][] y = new double[x.length][w.length];
        for (int t = 0; t < x.length; t++) {
            for (int i = 0; i < w.length; i++) {
                double acc = bias == null ? 0 : bias[i];
                for (int j = 0; j < w[i].length; j++) {
                    acc += w[i][j] * x[t][j];
                }
                y[t][i] = acc;
            }
        }
        return y;
    }

    /** Element-wise {@code a + b}. */
    public static double[][] plus(double[][] a, double[][] b) {
        double[][] out = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = new double[a[i].length];
            for (int j = 0; j < a[i].length; j++) {
                out[i][j] = a[i][j] + b[i][j];
            }
        }
        return out;
    }

    /** {@code a b}. */
    public static double[][] matMul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                for (int j = 0; j < b[0].length; j++) {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return c;
    }

    /** {@code a^T}. */
    public static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    /** Element-wise {@code s a}. */
    public static double[][] scaled(double s, double[][] a) {
        double[][] out = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                out[i][j] = s * a[i][j];
            }
        }
        return out;
    }

    /** Sum of absolute values (element-wise L1). */
    public static double l1(double[][] a) {
        double s = 0;
        for (double[] row : a) {
            for (double v : row) {
                s += Math.abs(v);
            }
        }
        return s;
    }

    /** The base layer of the adapted module at {@code path}. */
    public static BaseLayer base(PeftModel pm, String path) {
        return ((AdaptedLayer) ModuleTree.get(pm.root(), path)).base();
    }

    /** The base layer's bias as doubles. */
    public static double[] bias(BaseLayer base) {
        return NdAssert.toDoubles(base.bias().getArray());
    }

    /** Runs the adapted module at {@code path} alone on {@code x}. */
    public static NDArray layerForward(PeftModel pm, String path, NDArray x, boolean training) {
        return ModuleTree.get(pm.root(), path)
                .forward(new ParameterStore(x.getManager(), false), new NDList(x), training)
                .singletonOrThrow();
    }
}
