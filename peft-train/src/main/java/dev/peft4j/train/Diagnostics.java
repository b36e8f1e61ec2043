package dev.peft4j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.peft4j.core.Finiteness;
import dev.peft4j.core.NativeArrays;
import java.util.ArrayList;
import java.util.List;

/**
 * The diagnostic mode of training, on with {@code -Dpeft4j.diagnostics=true} (off by default: it
 * costs a full garbage collection per step). It turns bugs that otherwise depend on timing into
 * bugs that show at once:
 *
 * <ul>
 *   <li>Before every backward pass it collects garbage and waits for the JVM to free the direct
 *       buffers of unreachable arrays. An array whose memory is a Java buffer (DJL's {@code
 *       NDManager.create(...)} and the scalars of {@code x.mul(Number)} view one) that was closed
 *       during the forward pass but is still read by backward is then read after it was freed in
 *       every step, not only when a collection happens to fall in between: training with the
 *       diagnostic mode gives other weights than without it (see {@code DeterminismTest}).
 *   <li>After every backward pass every trainable gradient must be finite; otherwise an error names
 *       the parameters whose gradients are not (the loss value is given too), where {@link
 *       TrainLoop} would otherwise skip the step.
 * </ul>
 *
 * <p>{@code docs/contributing.md} describes when to use it.
 */
public final class Diagnostics {

    /** The system property that turns the diagnostic mode on. */
    public static final String PROPERTY = "peft4j.diagnostics";

    private Diagnostics() {}

    /** Whether the diagnostic mode is on. */
    public static boolean enabled() {
        return Boolean.getBoolean(PROPERTY);
    }

    /** Frees unreachable direct buffers now ({@link NativeArrays#freeUnreachableBuffers}). */
    public static void freeUnreachableBuffers() {
        NativeArrays.freeUnreachableBuffers();
    }

    /** Throws when a trainable parameter of {@code root} has a non-finite gradient. */
    public static void requireFiniteGradients(Block root, float loss) {
        List<String> bad = new ArrayList<>();
        for (Pair<String, Parameter> p : root.getParameters()) {
            NDArray array = p.getValue().getArray();
            if (p.getValue().requiresGradient() && array.hasGradient()) {
                try (NDArray g = array.getGradient()) {
                    if (!Finiteness.isFinite(g)) {
                        bad.add(p.getKey());
                    }
                }
            }
        }
        if (!bad.isEmpty()) {
            throw new IllegalStateException(
                    "Diagnostics: the gradients of "
                            + bad
                            + " contain NaN or Inf (loss "
                            + loss
                            + ")");
        }
    }
}
