package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * A fingerprint of a base weight: its Frobenius norm and a probe, {@code sum W[i, j] sin(1 +
 * 0.618 i + 0.414 j)}, both in float64, written {@code "norm probe"} (older files hold the norm
 * alone, still accepted). An adapter stores the one of the base it expects, so that loading it
 * onto the other base fails instead of silently giving wrong outputs: PiSSA removes the top r
 * singular values from W and LoRA-GA a rank-r term, which changes the norm far beyond rounding;
 * OLoRA with scaling 2 reflects W ({@code W - 2 Q_r Q_r^T W}), which keeps the norm but not the
 * probe.
 */
public final class BaseFingerprint {

    /**
     * The metadata key (relative to the module) of the residual base weight's fingerprint, saved
     * by initializers whose folders expect the residual base (LoRA-GA).
     */
    public static final String KEY = "residual_base_weight_norm";

    /**
     * The metadata key of the original base weight's fingerprint, saved by initializers that are
     * redone on the original base at load (PiSSA, OLoRA).
     */
    public static final String ORIGINAL_KEY = "original_base_weight_norm";

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

    /** The probe {@code sum W[i, j] sin(1 + 0.618 i + 0.414 j)} of a 2-D weight, in float64. */
    public static double probe(NDArray weight) {
        long rows = weight.getShape().get(0);
        long cols = weight.size() / rows;
        try (NDManager scope = weight.getManager().newSubManager()) {
            NDArray copy = weight.toType(DataType.FLOAT64, true);
            copy.attach(scope);
            NDArray w64 = copy.reshape(rows, cols);
            NDArray i = scope.arange(0, rows, 1, DataType.FLOAT64).reshape(rows, 1);
            NDArray j = scope.arange(0, cols, 1, DataType.FLOAT64).reshape(1, cols);
            NDArray h = i.mul(0.618).add(j.mul(0.414)).add(1).sin();
            return w64.mul(h).sum().getDouble();
        }
    }

    /** The fingerprint string of a weight. */
    public static String of(NDArray weight) {
        return norm(weight) + " " + probe(weight);
    }

    /**
     * Throws when {@code weight} does not match the fingerprint {@code expected} saved in
     * {@code source} for module {@code module} with initializer {@code init}.
     */
    public static void check(
            String expected, NDArray weight, String module, String init, String source) {
        check(
                KEY,
                expected,
                weight,
                module,
                source,
                "the adapter was trained on a residual base weight (init_lora_weights '"
                        + init
                        + "' changed it)",
                "Load it onto the model whose base was modified at initialization, or save it"
                        + " with SaveOption.FOR_ORIGINAL_BASE to get a plain LoRA for the original"
                        + " model.");
    }

    /**
     * Throws when {@code weight} does not match the fingerprint {@code expected} saved under
     * {@code key}, with {@code what} saying which base was expected and {@code hint} what to do.
     */
    public static void check(
            String key,
            String expected,
            NDArray weight,
            String module,
            String source,
            String what,
            String hint) {
        String[] parts = expected.trim().split(" ");
        double saved;
        double savedProbe = Double.NaN;
        try {
            saved = Double.parseDouble(parts[0]);
            if (parts.length == 2) {
                savedProbe = Double.parseDouble(parts[1]);
            } else if (parts.length != 1) {
                throw new NumberFormatException(expected);
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    source
                            + ": metadata '"
                            + key
                            + "' of module '"
                            + module
                            + "' must be a number or two numbers 'norm probe', got '"
                            + expected
                            + "'");
        }
        double actual = norm(weight);
        // the probe's weights have norm at most sqrt(size): its rounding is relative to norm * that
        double probeTolerance = RTOL * Math.abs(saved) * Math.sqrt(weight.size());
        boolean probeDiffers =
                !Double.isNaN(savedProbe) && Math.abs(probe(weight) - savedProbe) > probeTolerance;
        if (Math.abs(actual - saved) > RTOL * Math.abs(saved) || probeDiffers) {
            throw new IllegalArgumentException(
                    String.format(
                            Locale.ROOT,
                            "%s: %s but the base weight of module '%s' has %s, not the saved"
                                    + " one. %s",
                            source,
                            what,
                            module,
                            probeDiffers && Math.abs(actual - saved) <= RTOL * Math.abs(saved)
                                    ? String.format(
                                            Locale.ROOT,
                                            "the same Frobenius norm %.6g but another probe sum",
                                            actual)
                                    : String.format(
                                            Locale.ROOT,
                                            "Frobenius norm %.6g (saved %.6g)",
                                            actual,
                                            saved),
                            hint));
        }
    }
}
