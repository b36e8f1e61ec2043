package dev.peft4j.adapters;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.function.Supplier;

/**
 * Array code whose intermediates must not outlive it. DJL attaches a result to the manager of the
 * first operand, which in an adapter is often the model's long-lived manager (an operation on a
 * parameter), so every forward pass would leave arrays behind there. Closing the handles early is
 * safe while training: the engine's autograd graph holds its own references to what it saved.
 */
public final class Temporaries {

    private Temporaries() {}

    /**
     * Computes {@code f} in an {@link NDScope}: every array created inside is closed except the
     * result, which moves to {@code owner}. Read parameter values ({@code ParameterStore.getValue})
     * before calling, since a copy made inside would be closed.
     */
    public static NDArray compute(NDManager owner, Supplier<NDArray> f) {
        try (NDScope scope = new NDScope()) {
            NDArray result = f.get();
            NDScope.unregister(result);
            result.attach(owner);
            return result;
        }
    }
}
