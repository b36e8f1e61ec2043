package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import dev.peft4j.core.Scalars;
import java.util.List;
import java.util.Locale;

/** The activations of HF's {@code ACT2FN}, looked up by the {@code hidden_act} name of a config. */
public final class Activations {

    /** The {@code hidden_act} names we implement. */
    public static final List<String> SUPPORTED =
            List.of("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh");

    private Activations() {}

    /**
     * Checks that {@code name} is a supported activation.
     *
     * @param name a {@code hidden_act} value
     * @param option the config option it came from, for the error message
     * @return {@code name}, lower-cased
     * @throws IllegalArgumentException if the activation is not supported
     */
    public static String check(String name, String option) {
        String key = name == null ? "null" : name.toLowerCase(Locale.ROOT);
        if (!SUPPORTED.contains(key)) {
            throw new IllegalArgumentException(
                    option + " = \"" + name + "\" is not supported; expected one of " + SUPPORTED);
        }
        return key;
    }

    /**
     * Applies the named activation.
     *
     * @param name a name accepted by {@link #check(String, String)}
     * @param x the input
     * @return the activation of {@code x}
     */
    public static NDArray apply(String name, NDArray x) {
        switch (check(name, "activation")) {
            case "gelu":
                // torch's default gelu is the exact erf form, which is what HF "gelu" means
                return Activation.gelu(x);
            case "gelu_new":
            case "gelu_pytorch_tanh":
                return geluTanh(x);
            case "relu":
                return Activation.relu(x);
            case "silu":
            case "swish":
                return x.mul(Activation.sigmoid(x));
            default:
                return Activation.tanh(x);
        }
    }

    private static NDArray geluTanh(NDArray x) {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        NDArray inner =
                Scalars.mul(
                        x.add(Scalars.mul(Scalars.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
        return Scalars.mul(x, 0.5).mul(inner.tanh().add(1));
    }
}
