package dev.peft4j.merge.weighted;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * PEFT's {@code utils/merge_utils.py} (huggingface/peft 5d602fdb): the combinations {@code
 * add_weighted_adapter} applies to a list of task tensors and their weights. Results are on the
 * first tensor's manager; callers scope them.
 */
final class PeftMergeUtils {

    private PeftMergeUtils() {}

    /** {@code task_arithmetic}: {@code sum_i w_i t_i}. */
    static NDArray taskArithmetic(List<NDArray> tensors, double[] weights) {
        NDArray sum = tensors.get(0).mul(weights[0]);
        for (int i = 1; i < tensors.size(); i++) {
            sum = sum.add(tensors.get(i).mul(weights[i]));
        }
        return sum;
    }

    /** {@code magnitude_prune}: each tensor pruned to its {@code int(density n)} largest magnitudes, then summed with weights. */
    static NDArray magnitudePrune(List<NDArray> tensors, double[] weights, double density) {
        return taskArithmetic(tensors.stream().map(t -> prune(t, density, null)).toList(), weights);
    }

    /** {@code ties}: magnitude pruning, sign election on the unweighted pruned tensors, disjoint mean of the weighted ones. */
    static NDArray ties(
            List<NDArray> tensors, double[] weights, double density, String signMethod) {
        return electAndMerge(
                tensors.stream().map(t -> prune(t, density, null)).toList(), weights, signMethod);
    }

    /** {@code dare_linear}: random pruning with rescale by {@code 1 / density}, then summed with weights. */
    static NDArray dareLinear(
            List<NDArray> tensors, double[] weights, double density, SplittableRandom[] rnd) {
        return taskArithmetic(dropped(tensors, density, rnd), weights);
    }

    /** {@code dare_ties}: random pruning with rescale, then TIES' sign election and disjoint mean. */
    static NDArray dareTies(
            List<NDArray> tensors,
            double[] weights,
            double density,
            String signMethod,
            SplittableRandom[] rnd) {
        return electAndMerge(dropped(tensors, density, rnd), weights, signMethod);
    }

    private static List<NDArray> dropped(
            List<NDArray> tensors, double density, SplittableRandom[] rnd) {
        NDArray[] out = new NDArray[tensors.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = prune(tensors.get(i), density, rnd[i]);
        }
        return Arrays.asList(out);
    }

    /**
     * {@code calculate_majority_sign_mask} and {@code disjoint_merge}: with {@code T} the stacked
     * tensors, the majority sign is {@code +1} where {@code sum(T)} (method {@code total}) or
     * {@code sum(sign(T))} ({@code frequency}) is {@code >= 0}, else {@code -1}; the result is the
     * sum of the weighted entries of that sign over their count (at least 1). Zeros have sign 0 and
     * never count.
     */
    private static NDArray electAndMerge(List<NDArray> tensors, double[] weights, String method) {
        NDArray stacked = NDArrays.stack(new NDList(tensors));
        NDArray sign = stacked.sign();
        NDArray magnitude;
        if ("total".equals(method)) {
            magnitude = stacked.sum(new int[] {0});
        } else if ("frequency".equals(method)) {
            magnitude = sign.sum(new int[] {0});
        } else {
            throw new IllegalArgumentException(
                    "majority_sign_method must be 'total' or 'frequency', got '" + method + "'");
        }
        NDArray majority = magnitude.gte(0).toType(DataType.FLOAT32, false).mul(2).sub(1);
        NDArray mask = sign.eq(majority.expandDims(0)).toType(stacked.getDataType(), false);
        NDArray weighted = tensors.get(0).mul(weights[0]).expandDims(0);
        for (int i = 1; i < tensors.size(); i++) {
            weighted = weighted.concat(tensors.get(i).mul(weights[i]).expandDims(0), 0);
        }
        NDArray preserved = mask.sum(new int[] {0}).maximum(1f);
        return weighted.mul(mask).sum(new int[] {0}).div(preserved);
    }

    /**
     * {@code prune}: unchanged at {@code density >= 1} (PEFT warns); {@code magnitude} ({@code rnd}
     * null) keeps the {@code int(density * n)} entries of largest magnitude ({@code torch.topk});
     * {@code random} keeps each entry with probability {@code density} (a Bernoulli mask drawn from
     * {@code rnd}, where PEFT draws from torch's generator) and divides by {@code density}.
     */
    static NDArray prune(NDArray t, double density, SplittableRandom rnd) {
        if (density >= 1) {
            return t;
        }
        if (!(density >= 0)) {
            throw new IllegalArgumentException("density must be >= 0, got " + density);
        }
        float[] v = t.toType(DataType.FLOAT32, false).toFloatArray();
        float[] mask = new float[v.length];
        if (rnd == null) {
            int k = (int) (density * v.length);
            for (int i : largest(v, k)) {
                mask[i] = 1;
            }
        } else {
            for (int i = 0; i < v.length; i++) {
                mask[i] = rnd.nextDouble() < density ? 1 : 0;
            }
        }
        NDManager m = t.getManager();
        NDArray pruned = t.mul(m.create(mask, t.getShape()).toType(t.getDataType(), false));
        return rnd == null ? pruned : pruned.div(density);
    }

    /** The indices of the {@code k} entries of largest magnitude (ties by lower index). */
    private static int[] largest(float[] v, int k) {
        if (k <= 0) {
            return new int[0];
        }
        float[] sorted = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            sorted[i] = Math.abs(v[i]);
        }
        Arrays.sort(sorted);
        float threshold = sorted[v.length - k];
        int above = 0;
        for (float x : v) {
            if (Math.abs(x) > threshold) {
                above++;
            }
        }
        int[] out = new int[k];
        int n = 0;
        int atThreshold = k - above;
        for (int i = 0; i < v.length && n < k; i++) {
            float a = Math.abs(v[i]);
            if (a > threshold) {
                out[n++] = i;
            } else if (a == threshold && atThreshold > 0) {
                out[n++] = i;
                atThreshold--;
            }
        }
        return out;
    }
}
