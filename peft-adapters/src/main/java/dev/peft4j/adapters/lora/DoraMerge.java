package dev.peft4j.adapters.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.peft4j.core.Finiteness;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * DoRA's merge and unmerge, as PEFT's {@code Dora*Variant.merge_safe} and {@code unmerge}
 * (tuners/lora/variants.py): {@code W <- c (W + dW)} with {@code c = m / ||W + dW||} per output
 * direction, and {@code W <- W / c - dW} back. The factor {@code c} is kept from the merge (PEFT
 * caches the weight norm), since the merged weight no longer gives it.
 */
final class DoraMerge implements AutoCloseable {

    private final String modulePath;
    private NDArray factor;

    DoraMerge(String modulePath) {
        this.modulePath = modulePath;
    }

    /**
     * Merges the plain change {@code dW} (made by {@code plainDelta} on the manager it is given)
     * into {@code weight}; {@code factorOf} maps the merged weight {@code W + dW} (in the adapter's
     * dtype) to {@code c}, shaped to broadcast over it. The factor is kept on {@code keepOn}.
     */
    void merge(
            NDArray weight,
            Function<NDManager, NDArray> plainDelta,
            UnaryOperator<NDArray> factorOf,
            NDManager keepOn) {
        try (NDManager scope = weight.getManager().newSubManager()) {
            NDArray merged = merged(weight, plainDelta.apply(scope), scope);
            NDArray c = factorOf.apply(merged);
            c.attach(scope);
            if (!Finiteness.isFinite(c)) {
                throw new IllegalStateException(
                        "Refusing to merge the DoRA adapter of module '"
                                + modulePath
                                + "': its magnitude over the weight norm contains NaN or Inf");
            }
            NDArray result = merged.mul(c).toType(weight.getDataType(), false);
            result.attach(scope);
            weight.set(new NDIndex("..."), result);
            close();
            factor = c.duplicate();
            factor.attach(keepOn);
        }
    }

    /**
     * DoRA's change of {@code weight} without merging it: {@code c (W + dW) - W}, on {@code
     * manager} ({@code factorOf} as for {@link #merge}).
     */
    static NDArray change(
            NDArray weight,
            Function<NDManager, NDArray> plainDelta,
            UnaryOperator<NDArray> factorOf,
            NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray merged = merged(weight, plainDelta.apply(scope), scope);
            NDArray c = factorOf.apply(merged);
            c.attach(scope);
            NDArray dw = merged.mul(c).sub(weight);
            dw.attach(manager);
            return dw;
        }
    }

    /** {@code W + dW} in dW's dtype, on {@code scope} (a converted copy of W too). */
    private static NDArray merged(NDArray weight, NDArray dw, NDManager scope) {
        NDArray w = weight.toType(dw.getDataType(), false);
        if (w != weight) {
            w.attach(scope);
        }
        NDArray merged = w.add(dw);
        merged.attach(scope);
        return merged;
    }

    /** Undoes {@link #merge} with the kept factor and the same plain change. */
    void unmerge(NDArray weight, Function<NDManager, NDArray> plainDelta) {
        if (factor == null) {
            throw new IllegalStateException(
                    "Cannot unmerge the DoRA adapter of module '"
                            + modulePath
                            + "': it was not merged in this session");
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            NDArray dw = plainDelta.apply(scope);
            NDArray restored =
                    weight.toType(dw.getDataType(), false)
                            .div(factor)
                            .sub(dw)
                            .toType(weight.getDataType(), false);
            restored.attach(scope);
            weight.set(new NDIndex("..."), restored);
        }
        close();
    }

    /** Frees the kept factor. */
    @Override
    public void close() {
        if (factor != null) {
            factor.close();
            factor = null;
        }
    }
}
