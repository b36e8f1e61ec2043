package dev.peft4j.core.tree;

import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import dev.peft4j.core.AdaptedLayer;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.ListIterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Module paths of a DJL block tree, named the way PyTorch names {@code named_modules()}.
 *
 * <p>DJL stores a child under {@code String.format("%02d%s", ordinal, name)}; the path uses the
 * name without that ordinal prefix ({@code encoder.layer.0.attention.self.query}). Children of a
 * {@link SequentialBlock} or {@link ParallelBlock}, and children whose stripped names are empty or
 * collide, are named by their 0-based index, like {@code nn.Sequential}. An {@link AdaptedLayer}
 * is a leaf: it stands at the path of the layer it wraps, so adapter keys do not change when
 * adapters are injected.
 */
public final class ModuleTree {

    private ModuleTree() {}

    /** Every module by path, depth-first in child order; the root has the empty path. */
    public static LinkedHashMap<String, Block> modules(Block root) {
        LinkedHashMap<String, Block> out = new LinkedHashMap<>();
        collect("", root, out);
        return out;
    }

    private static void collect(String path, Block block, Map<String, Block> out) {
        out.put(path, block);
        if (block instanceof AdaptedLayer) {
            return;
        }
        for (Map.Entry<String, Block> child : namedChildren(block).entrySet()) {
            collect(join(path, child.getKey()), child.getValue(), out);
        }
    }

    /** Joins a parent path and a child name with a dot (either may be empty). */
    public static String join(String parent, String child) {
        if (parent.isEmpty()) {
            return child;
        }
        return child.isEmpty() ? parent : parent + "." + child;
    }

    /** The direct children of a block under their module names, in order. */
    public static LinkedHashMap<String, Block> namedChildren(Block block) {
        BlockList children = block.getChildren();
        List<String> names = new ArrayList<>(children.size());
        boolean byIndex = block instanceof SequentialBlock || block instanceof ParallelBlock;
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < children.size(); i++) {
            String name = stripOrdinal(children.keyAt(i), i);
            if (name.isEmpty() || !seen.add(name)) {
                byIndex = true;
            }
            names.add(name);
        }
        LinkedHashMap<String, Block> out = new LinkedHashMap<>();
        for (int i = 0; i < children.size(); i++) {
            out.put(byIndex ? String.valueOf(i) : names.get(i), children.valueAt(i));
        }
        return out;
    }

    private static String stripOrdinal(String key, int index) {
        String prefix = String.format(Locale.ROOT, "%02d", index + 1);
        return key.startsWith(prefix) ? key.substring(prefix.length()) : key;
    }

    /** The module at a path; a clear error with the closest existing paths when there is none. */
    public static Block get(Block root, String path) {
        LinkedHashMap<String, Block> all = modules(root);
        Block block = all.get(path);
        if (block == null) {
            throw new IllegalArgumentException(
                    "No module at path '"
                            + path
                            + "'. Closest module paths: "
                            + Suggestions.closest(path, all.keySet(), 5));
        }
        return block;
    }

    /**
     * Replaces the module at {@code path} with {@code replacement}, in the parent's child list and
     * in every field of the parent (or element of a {@code List} / array field) that holds it, so
     * that both container blocks and user blocks that call their layers through fields see it.
     */
    public static void replace(Block root, String path, Block replacement) {
        if (path.isEmpty()) {
            throw new IllegalArgumentException("Cannot replace the root module");
        }
        int dot = path.lastIndexOf('.');
        String parentPath = dot < 0 ? "" : path.substring(0, dot);
        String name = path.substring(dot + 1);
        Block parent = get(root, parentPath);
        List<String> names = new ArrayList<>(namedChildren(parent).keySet());
        int index = names.indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException("No module at path '" + path + "'");
        }
        if (!(parent instanceof AbstractBlock)) {
            throw new IllegalArgumentException(
                    "Module '"
                            + parentPath
                            + "' ("
                            + parent.getClass().getName()
                            + ") is not an AbstractBlock: its children cannot be replaced");
        }
        Block old = parent.getChildren().valueAt(index);
        childList((AbstractBlock) parent).values().set(index, replacement);
        replaceInFields(parent, old, replacement, path);
    }

    private static BlockList childList(AbstractBlock parent) {
        try {
            Field f = AbstractBlock.class.getDeclaredField("children");
            f.setAccessible(true);
            return (BlockList) f.get(parent);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("DJL AbstractBlock.children is not accessible", e);
        }
    }

    private static void replaceInFields(Block parent, Block old, Block replacement, String path) {
        for (Class<?> c = parent.getClass();
                c != null && c != AbstractBlock.class;
                c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
                    continue;
                }
                Object value;
                try {
                    f.setAccessible(true);
                    value = f.get(parent);
                } catch (IllegalAccessException | RuntimeException inaccessible) {
                    continue; // fields of JDK or sealed classes we cannot open hold no blocks of
                    // ours
                }
                if (value == old) {
                    replaceField(parent, f, replacement, path);
                } else if (value instanceof List) {
                    replaceInList(value, old, replacement);
                } else if (value != null
                        && value.getClass().isArray()
                        && !value.getClass().getComponentType().isPrimitive()) {
                    for (int i = 0; i < Array.getLength(value); i++) {
                        if (Array.get(value, i) == old
                                && value.getClass().getComponentType().isInstance(replacement)) {
                            Array.set(value, i, replacement);
                        }
                    }
                }
            }
        }
    }

    /** Points a field that held the replaced layer at its replacement; an error if its type cannot hold it. */
    private static void replaceField(Object owner, Field f, Block replacement, String path) {
        if (!f.getType().isInstance(replacement)) {
            throw new IllegalArgumentException(
                    "Field "
                            + f.getDeclaringClass().getSimpleName()
                            + "."
                            + f.getName()
                            + " of type "
                            + f.getType().getSimpleName()
                            + " cannot hold the "
                            + replacement.getClass().getSimpleName()
                            + " injected at '"
                            + path
                            + "'; declare it as "
                            + Block.class.getName());
        }
        try {
            f.set(owner, replacement);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("Field " + f + " was opened but cannot be set", e);
        }
    }

    /** Replaces the layer in a list field's elements; an unmodifiable list holds none of ours. */
    @SuppressWarnings("unchecked")
    private static void replaceInList(Object list, Block old, Block replacement) {
        ListIterator<Object> it = ((List<Object>) list).listIterator();
        while (it.hasNext()) {
            if (it.next() == old) {
                try {
                    it.set(replacement);
                } catch (UnsupportedOperationException unmodifiable) {
                    return;
                }
            }
        }
    }
}
