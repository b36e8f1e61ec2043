package dev.peft4j.merge.opcm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;

/**
 * OPCM written out from the pseudo-code of merging.md in plain Java (float64, Commons Math SVD),
 * independent of the NDArray implementation: the reference the tests compare against.
 */
final class OpcmReference {

    /** One tensor: values row-major and its 2-D shape (rows 1 for vectors), and whether it is projected. */
    record Tensor(double[] values, int rows, int cols, boolean projected) {}

    private final Map<String, Tensor> theta0;
    private final double alpha;
    private Map<String, double[]> merged;
    private final List<Double> norms = new ArrayList<>();
    private double lambdaPrev = 1;

    OpcmReference(Map<String, Tensor> theta0, double alpha) {
        this.theta0 = theta0;
        this.alpha = alpha;
    }

    /** Folds in the next model (its values by tensor name). */
    void add(Map<String, double[]> model) {
        double normSq = 0;
        for (String k : theta0.keySet()) {
            double[] t0 = theta0.get(k).values();
            for (int i = 0; i < t0.length; i++) {
                normSq += (model.get(k)[i] - t0[i]) * (model.get(k)[i] - t0[i]);
            }
        }
        norms.add(Math.sqrt(normSq));
        if (merged == null) {
            merged = new LinkedHashMap<>(model);
            return;
        }
        double avg = norms.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        Map<String, double[]> next = new LinkedHashMap<>();
        double nSq = 0;
        for (Map.Entry<String, Tensor> e : theta0.entrySet()) {
            Tensor t0 = e.getValue();
            double[] d = minus(merged.get(e.getKey()), t0.values());
            double[] tau = minus(model.get(e.getKey()), t0.values());
            if (t0.projected()) {
                tau = project(d, tau, t0.rows(), t0.cols());
            }
            double[] m = new double[d.length];
            for (int i = 0; i < d.length; i++) {
                double delta = lambdaPrev * d[i] + tau[i];
                m[i] = t0.values()[i] + delta;
                nSq += delta * delta;
            }
            next.put(e.getKey(), m);
        }
        double n = Math.sqrt(nSq);
        lambdaPrev = n / avg;
        for (Map.Entry<String, double[]> e : next.entrySet()) {
            double[] t0 = theta0.get(e.getKey()).values();
            double[] m = e.getValue();
            for (int i = 0; i < m.length; i++) {
                m[i] = t0[i] + (m[i] - t0[i]) * (avg / n);
            }
        }
        merged = next;
    }

    /** {@code T - U keep V^T} with keep = C on the diagonal and C[:r, :r], over the numerical rank of D. */
    private double[] project(double[] d, double[] t, int rows, int cols) {
        SingularValueDecomposition svd = new SingularValueDecomposition(matrix(d, rows, cols));
        double[] s = svd.getSingularValues();
        int rho = 0;
        while (rho < s.length && s[rho] > Projection.RANK_TOLERANCE * s[0]) {
            rho++;
        }
        if (rho == 0) {
            return t;
        }
        double total = 0;
        for (int i = 0; i < rho; i++) {
            total += s[i];
        }
        int r = 0;
        double cum = 0;
        for (int i = 0; i < rho; i++) {
            cum += s[i];
            if (cum / total > alpha) {
                r = i;
                break;
            }
        }
        RealMatrix u = svd.getU().getSubMatrix(0, rows - 1, 0, rho - 1);
        RealMatrix v = svd.getV().getSubMatrix(0, cols - 1, 0, rho - 1);
        RealMatrix c = u.transpose().multiply(matrix(t, rows, cols)).multiply(v);
        for (int i = 0; i < rho; i++) {
            for (int j = 0; j < rho; j++) {
                if (!(i == j || i < r && j < r)) {
                    c.setEntry(i, j, 0);
                }
            }
        }
        RealMatrix out = matrix(t, rows, cols).subtract(u.multiply(c).multiply(v.transpose()));
        double[] flat = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                flat[i * cols + j] = out.getEntry(i, j);
            }
        }
        return flat;
    }

    private static RealMatrix matrix(double[] v, int rows, int cols) {
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(v, i * cols, m[i], 0, cols);
        }
        return new Array2DRowRealMatrix(m, false);
    }

    private static double[] minus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] - b[i];
        }
        return out;
    }

    /** The merged model as it stands. */
    Map<String, double[]> merged() {
        return merged;
    }

    /** The mean task-vector norm. */
    double meanNorm() {
        return norms.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }
}
