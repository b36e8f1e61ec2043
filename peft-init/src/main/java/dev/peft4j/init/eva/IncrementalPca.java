package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;

/**
 * Mean-centred incremental PCA, batch by batch, as scikit-learn's {@code IncrementalPCA.partial_fit}
 * (Ross et al. 2008): each batch is centred on its own mean and stacked under the previous
 * {@code diag(S) components} and a mean-correction row {@code sqrt(n_seen n_batch / n_total)
 * (mean_old - mean_batch)}; the top components of the stack's SVD are the new ones. The SVD is
 * {@code svdLowRank} with {@code q = min(2k, rows, n)} and 4 subspace iterations (PEFT's
 * incremental PCA for EVA oversamples the same way). Each component's largest-magnitude entry is
 * made positive. Explained-variance ratios are {@code S^2} over the total sum of squared
 * deviations, which is tracked exactly (Chan et al.'s pairwise update). Products run on the
 * data's device; the state is owned by the manager passed in.
 */
final class IncrementalPca implements AutoCloseable {

    /** Subspace iterations of each batch's randomized SVD. */
    static final int NITER = 4;

    private final int k;
    private final long seed;
    private final NDManager manager;
    private NDArray mean;
    private NDArray components;
    private NDArray singular;
    private double totalSumOfSquares;
    private long seen;
    private double[] ratios;
    private double[] cosines;

    /** A PCA keeping {@code k} components; state on a sub-manager of {@code parent}. */
    IncrementalPca(int k, long seed, NDManager parent) {
        this.k = k;
        this.seed = seed;
        this.manager = parent.newSubManager();
    }

    /**
     * Updates the components with a batch of rows {@code [rows, n]}; a batch with fewer than k rows
     * is skipped (as PEFT does). Returns whether the batch was used.
     */
    boolean partialFit(NDArray x) {
        long rows = x.getShape().get(0);
        if (rows < k) {
            return false;
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray x32 = x.toType(DataType.FLOAT32, true);
            x32.attach(scope);
            NDArray batchMean = x32.mean(new int[] {0});
            NDArray centred = x32.sub(batchMean);
            double batchSs = sumOfSquares(centred);
            NDArray stacked = centred;
            if (seen > 0) {
                double weight = (double) seen * rows / (seen + rows);
                // results go to the manager of their first operand: keep the state's out of the
                // loop
                NDArray diff = local(mean.sub(batchMean), scope);
                NDArray correction = diff.mul(Math.sqrt(weight)).reshape(1, -1);
                NDArray previous = local(singular.reshape(k, 1), scope).mul(components);
                stacked = NDArrays.concat(new NDList(previous, centred, correction), 0);
                totalSumOfSquares += batchSs + sumOfSquares(diff) * weight;
                replaceMean(mean.add(batchMean.sub(mean).mul((double) rows / (seen + rows))));
            } else {
                totalSumOfSquares = batchSs;
                replaceMean(batchMean);
            }
            update(stacked, scope);
        }
        seen += rows;
        return true;
    }

    private void update(NDArray stacked, NDManager scope) {
        int q =
                (int)
                        Math.min(
                                2L * k,
                                Math.min(stacked.getShape().get(0), stacked.getShape().get(1)));
        try (SvdResult svd = Linalg.svdLowRank(stacked, q, NITER, seed, scope)) {
            NDArray next =
                    positiveLargestEntries(svd.v().get(new NDIndex(":, :{}", k)).transpose());
            NDArray s = svd.s().get(new NDIndex(":{}", k));
            cosines = components == null ? null : rowCosines(next, components, scope);
            ratios = ratiosOf(s);
            replace(next, s);
        }
    }

    private double[] ratiosOf(NDArray s) {
        double[] sv = s.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] out = new double[sv.length];
        for (int i = 0; i < sv.length; i++) {
            out[i] = totalSumOfSquares > 0 ? sv[i] * sv[i] / totalSumOfSquares : 0;
        }
        return out;
    }

    /** Flips each row so that its largest-magnitude entry is positive (scikit-learn's svd_flip on V). */
    private static NDArray positiveLargestEntries(NDArray rows) {
        NDArray at = rows.abs().argMax(1).reshape(-1, 1);
        NDArray sign = rows.gather(at, 1).sign();
        return rows.mul(sign.add(sign.eq(0).toType(sign.getDataType(), false)));
    }

    /** The cosine of each row of {@code next} (on {@code scope}) with the same row of {@code previous}. */
    private static double[] rowCosines(NDArray next, NDArray previous, NDManager scope) {
        NDArray dot = next.mul(previous).sum(new int[] {1});
        NDArray norms = next.norm(new int[] {1}).mul(local(previous.norm(new int[] {1}), scope));
        return dot.div(norms.maximum(1e-12f)).toType(DataType.FLOAT64, false).toDoubleArray();
    }

    private static NDArray local(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    private static double sumOfSquares(NDArray x) {
        return x.toType(DataType.FLOAT64, false).square().sum().getDouble();
    }

    private void replaceMean(NDArray next) {
        next.attach(manager);
        if (mean != null && mean != next) {
            mean.close();
        }
        mean = next;
    }

    private void replace(NDArray nextComponents, NDArray nextSingular) {
        nextComponents.attach(manager);
        nextSingular.attach(manager);
        if (components != null) {
            components.close();
            singular.close();
        }
        components = nextComponents;
        singular = nextSingular;
    }

    /** The components {@code [k, n]} (orthonormal rows), or null before the first batch. */
    NDArray components() {
        return components;
    }

    /** The singular values {@code [k]} of the last update, or null. */
    NDArray singularValues() {
        return singular;
    }

    /** The explained-variance ratio of each component, or null before the first batch. */
    double[] explainedVarianceRatio() {
        return ratios == null ? null : ratios.clone();
    }

    /** The cosine of each component with its value before the last batch, or null before the second batch. */
    double[] cosines() {
        return cosines == null ? null : cosines.clone();
    }

    /** The number of rows seen. */
    long samplesSeen() {
        return seen;
    }

    /** The number of components. */
    int size() {
        return k;
    }

    /** The running mean {@code [n]}, or null. */
    NDArray mean() {
        return mean;
    }

    @Override
    public void close() {
        manager.close();
    }
}
