package dev.peft4j.init;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.core.testing.JsonArrays;

/**
 * Reading the reference files that the NumPy scripts beside the tests write, and comparing
 * decomposition factors, which SVD and QR determine only up to the sign of each component.
 */
public final class Reference {

    private Reference() {}

    /** The JSON resource {@code name} next to {@code owner}. */
    public static JsonObject read(Class<?> owner, String name) {
        return JsonArrays.resource(owner, name);
    }

    /** A JSON matrix. */
    public static double[][] matrix(JsonElement e) {
        JsonArray rows = e.getAsJsonArray();
        double[][] m = new double[rows.size()][];
        for (int i = 0; i < m.length; i++) {
            JsonArray row = rows.get(i).getAsJsonArray();
            m[i] = new double[row.size()];
            for (int j = 0; j < m[i].length; j++) {
                m[i][j] = row.get(j).getAsDouble();
            }
        }
        return m;
    }

    /** A 2-D array's values. */
    public static double[][] matrix(NDArray a) {
        int rows = (int) a.getShape().get(0);
        int cols = (int) a.getShape().get(1);
        double[] flat = a.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * cols, m[i], 0, cols);
        }
        return m;
    }

    /** The transpose. */
    public static double[][] transpose(double[][] m) {
        double[][] t = new double[m[0].length][m.length];
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m[0].length; j++) {
                t[j][i] = m[i][j];
            }
        }
        return t;
    }

    /**
     * The signs (+1 or -1) that make each row of {@code actual} equal the same row of {@code
     * expected}; fails when a row differs from both {@code +expected} and {@code -expected} by more
     * than {@code atol + rtol * max|expected|}.
     */
    public static double[] rowSigns(
            double[][] actual, double[][] expected, double rtol, double atol, String what) {
        double[] signs = new double[expected.length];
        double scale = 0;
        for (double[] row : expected) {
            for (double v : row) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        for (int i = 0; i < expected.length; i++) {
            double plus = 0;
            double minus = 0;
            for (int j = 0; j < expected[i].length; j++) {
                plus = Math.max(plus, Math.abs(actual[i][j] - expected[i][j]));
                minus = Math.max(minus, Math.abs(actual[i][j] + expected[i][j]));
            }
            signs[i] = plus <= minus ? 1 : -1;
            double err = Math.min(plus, minus);
            assertTrue(
                    err <= atol + rtol * scale,
                    what + " row " + i + " differs from the reference (up to sign) by " + err);
        }
        return signs;
    }

    /** Fails unless the two matrices agree within {@code atol + rtol * max|expected|}. */
    public static void assertClose(
            double[][] actual, double[][] expected, double rtol, double atol, String what) {
        double scale = 0;
        double err = 0;
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[i].length; j++) {
                scale = Math.max(scale, Math.abs(expected[i][j]));
                err = Math.max(err, Math.abs(actual[i][j] - expected[i][j]));
            }
        }
        assertTrue(
                err <= atol + rtol * scale,
                what + " differs from the reference by " + err + " (scale " + scale + ")");
    }

    /** {@code w - s * sum_i sa_i sb_i b[:, i] a[i, :]}: a residual from sign-aligned reference factors. */
    public static double[][] residual(
            double[][] w, double s, double[][] b, double[] sb, double[][] a, double[] sa) {
        double[][] out = new double[w.length][];
        for (int i = 0; i < w.length; i++) {
            out[i] = w[i].clone();
            for (int j = 0; j < w[i].length; j++) {
                for (int k = 0; k < a.length; k++) {
                    out[i][j] -= s * sa[k] * sb[k] * b[i][k] * a[k][j];
                }
            }
        }
        return out;
    }
}
