package dev.peft4j.models.io;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.peft4j.core.AdaptedLayer;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.core.tree.ModuleTree;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Names every parameter of a block tree by its Hugging Face state-dict key ({@code
 * encoder.layer.0.attention.self.query.weight}): the module path of {@link ModuleTree} plus the
 * parameter's name. Loading and export rely on this naming.
 *
 * <p>A layer with adapters injected ({@link AdaptedLayer}) is listed with its base layer's {@code
 * weight} and {@code bias} at its own path, so base-model checkpoints load into an adapted model;
 * adapter weights are not listed (they live in adapter checkpoints).
 */
public final class HfStateDict {

    private HfStateDict() {}

    /**
     * Lists the parameters of {@code root} by HF name, in module order; a parameter reachable under
     * two names (a tied weight) is listed once, under the first.
     *
     * @param root the model
     * @return HF name to parameter
     */
    public static Map<String, Parameter> of(Block root) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ModuleTree.modules(root)
                .forEach(
                        (path, block) -> {
                            String prefix = path.isEmpty() ? "" : path + ".";
                            if (block instanceof AdaptedLayer) {
                                BaseLayer base = ((AdaptedLayer) block).base();
                                add(out, seen, prefix + "weight", base.weight());
                                add(out, seen, prefix + "bias", base.bias());
                                return;
                            }
                            for (Pair<String, Parameter> p : block.getDirectParameters()) {
                                add(out, seen, prefix + p.getValue().getName(), p.getValue());
                            }
                        });
        return out;
    }

    /**
     * Returns whether any module of {@code root} has adapters injected.
     *
     * @param root the model
     * @return the path of the first adapted module, or {@code null} if there is none
     */
    public static String firstAdaptedModule(Block root) {
        for (Map.Entry<String, Block> e : ModuleTree.modules(root).entrySet()) {
            if (e.getValue() instanceof AdaptedLayer) {
                return e.getKey();
            }
        }
        return null;
    }

    private static void add(
            Map<String, Parameter> out, Set<Parameter> seen, String name, Parameter p) {
        if (p != null && seen.add(p)) {
            out.put(name, p);
        }
    }
}
