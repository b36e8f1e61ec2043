package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * A fingerprint of a base weight: its Frobenius norm. An adapter trained on a residual base
 * {@code W_res = W - s B0 A0} stores it, so that loading it onto the original {@code W} fails
 * instead of silently giving wrong outputs: PiSSA removes the top r singular values from W and
 * LoRA-GA a rank-r term, which changes the norm far beyond rounding.
 */
public final class BaseFingerprint {

    /** The metadata key (relative to the module) under which the fingerprint is saved. */
    public static final String KEY = "residual_base_weight_norm";

    /**
     * Relative tolerance of the comparison: float32 rounding of the same weights on another device
     * stays below 1e-6; a residual base saved in bf16 would not pass (reload it in float32).
     */
    public static final double RTOL = 1e-4;

    private BaseFingerprint() {}

    /** The Frobenius norm of {@code weight}, computed in float64. */
    public static double norm(NDArray weight) {
        try (NDArray w64 = weight.toType(DataType.FLOAT64, true);
                NDArray sq = w64.square();
                NDArray sum = sq.sum()) {
            return Math.sqrt(sum.getDouble());
        }
    }

    /** The fingerprint string of a weight. */
    public static String of(NDArray weight) {
        return Double.toString(norm(weight));
    }

    /**
     * Throws when {@code weight} does not match the fingerprint {@code expected} saved in
     * {@code source} for module {@code module} with initializer {@code init}.
     */
    public static void check(
            String expected, NDArray weight, String module, String init, String source) {
        double saved;
        try {
            saved = Double.parseDouble(expected);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    source
                            + ": metadata '"
                            + KEY
                            + "' of module '"
                            + module
                            + "' must be a number, got '"
                            + expected
                            + "'");
        }
        double actual = norm(weight);
        if (Math.abs(actual - saved) > RTOL * Math.abs(saved)) {
            throw new IllegalArgumentException(
                    String.format(
                            Locale.ROOT,
                            "%s: the adapter was trained on a residual base weight"
                                + " (init_lora_weights '%s' changed it) but the base weight of"
                                + " module '%s' has Frobenius norm %.6g, not the saved %.6g. Load"
                                + " it onto the model whose base was modified at initialization, or"
                                + " save it with SaveOption.FOR_ORIGINAL_BASE to get a plain LoRA"
                                + " for the original model.",
                            source,
                            init,
                            module,
                            actual,
                            saved));
        }
    }
}
