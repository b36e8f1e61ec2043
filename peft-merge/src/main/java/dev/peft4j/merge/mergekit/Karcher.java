package dev.peft4j.merge.mergekit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;

/**
 * mergekit's {@code karcher_merge_tensors} (merge_methods/karcher.py 97-177): the Riemannian mean
 * of the tensors' directions on the unit sphere, equal weights, scaled by the mean norm.
 */
final class Karcher {

    private Karcher() {}

    static NDArray merge(List<NDArray> tensors, int maxIter, double tol) {
        if (tensors.size() == 1) {
            return tensors.get(0);
        }
        int n = tensors.size();
        double alpha = 1.0 / n;
        List<Double> norms = new ArrayList<>();
        List<NDArray> units = new ArrayList<>();
        for (NDArray t : tensors) {
            double norm = norm(t);
            norms.add(norm);
            units.add(norm == 0 ? t.zerosLike() : t.div(norm));
        }
        List<NDArray> valid = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (norms.get(i) > tol) {
                valid.add(units.get(i));
            }
        }
        if (valid.isEmpty()) {
            return tensors.get(0).zerosLike();
        }
        double a = 1.0 / valid.size(); // equal alphas, normalized over the valid ones
        NDArray u = valid.get(0).zerosLike();
        for (NDArray ui : valid) {
            u = u.add(ui.mul(a));
        }
        double normU = norm(u);
        u = normU < tol ? valid.get(0).duplicate() : u.div(normU);
        for (int iter = 0; iter < maxIter; iter++) {
            NDArray step = u.zerosLike();
            for (NDArray ui : valid) {
                double dot = Math.max(-1, Math.min(1, dot(u, ui)));
                double theta = Math.acos(dot);
                if (theta < tol) {
                    continue;
                }
                step = step.add(ui.sub(u.mul(dot)).mul(a * theta / Math.sin(theta)));
            }
            double normT = norm(step);
            if (normT < tol) {
                break;
            }
            u = u.mul(Math.cos(normT)).add(step.mul(Math.sin(normT) / normT));
            double un = norm(u);
            if (un > tol) {
                u = u.div(un);
            }
        }
        double s = 0;
        for (double norm : norms) {
            s += alpha * norm;
        }
        return u.mul(s);
    }

    private static double norm(NDArray t) {
        return Math.sqrt(dot(t, t));
    }

    private static double dot(NDArray a, NDArray b) {
        return a.toType(DataType.FLOAT64, false)
                .mul(b.toType(DataType.FLOAT64, false))
                .sum()
                .getDouble();
    }
}
