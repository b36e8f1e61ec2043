package dev.peft4j.models.io;

import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.util.Pair;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Names every parameter of a block tree by its Hugging Face state-dict key ({@code
 * encoder.layer.0.attention.self.query.weight}), the naming that loading and export rely on.
 *
 * <p>A child's module name is its {@code addChildBlock} name without DJL's ordinal prefix; the
 * children of a DJL {@link SequentialBlock} or {@link ParallelBlock} are named by their 0-based
 * index, like the entries of a PyTorch {@code nn.Sequential}.
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
        collect(root, "", out, Collections.newSetFromMap(new IdentityHashMap<>()));
        return out;
    }

    /**
     * Returns the module name of a child: its HF attribute name.
     *
     * @param parent the block holding the child
     * @param index the child's 0-based position among the parent's children
     * @param key the child's key in the parent's {@link BlockList}
     * @return the module name
     */
    public static String moduleName(Block parent, int index, String key) {
        if (parent instanceof SequentialBlock || parent instanceof ParallelBlock) {
            return Integer.toString(index);
        }
        String ordinal = String.format(Locale.ROOT, "%02d", index + 1);
        if (!key.startsWith(ordinal)) {
            throw new IllegalStateException(
                    "Child key '" + key + "' of " + parent.getClass().getSimpleName()
                            + " does not start with its ordinal " + ordinal);
        }
        return key.substring(ordinal.length());
    }

    private static void collect(
            Block block, String prefix, Map<String, Parameter> out, Set<Parameter> seen) {
        for (Pair<String, Parameter> p : block.getDirectParameters()) {
            if (seen.add(p.getValue())) {
                out.put(prefix + p.getValue().getName(), p.getValue());
            }
        }
        BlockList children = block.getChildren();
        for (int i = 0; i < children.size(); i++) {
            String name = moduleName(block, i, children.keyAt(i));
            collect(children.valueAt(i), prefix + name + ".", out, seen);
        }
    }
}
