package dev.peft4j.core.config;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonPrimitive;
import dev.peft4j.core.tree.Suggestions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which modules get an adapter, with PEFT's {@code target_modules} semantics: a list of names,
 * each matching a module path exactly or as its dotted suffix ({@code "query"} matches
 * {@code encoder.layer.0.attention.self.query}); or one regular expression that must match the
 * whole path; or {@code "all-linear"}: every Linear layer except the output head.
 */
public final class TargetModules {

    /** PEFT's shorthand for every linear layer but the output head. */
    public static final String ALL_LINEAR = "all-linear";

    private static final Set<String> OUTPUT_HEADS = Set.of("lm_head", "classifier", "score");

    private final List<String> names;
    private final Pattern regex;
    private final boolean allLinear;

    private TargetModules(List<String> names, Pattern regex, boolean allLinear) {
        this.names = names;
        this.regex = regex;
        this.allLinear = allLinear;
    }

    /** Modules whose path equals one of the names or ends with {@code "." + name}. */
    public static TargetModules names(Collection<String> names) {
        if (names.isEmpty()) {
            throw new IllegalArgumentException("target_modules: the list of module names is empty");
        }
        for (String n : names) {
            if (n == null || n.isBlank()) {
                throw new IllegalArgumentException("target_modules: empty module name in " + names);
            }
        }
        return new TargetModules(List.copyOf(new TreeSet<>(names)), null, false);
    }

    /** Modules whose name matches, see {@link #names(Collection)}. */
    public static TargetModules names(String... names) {
        return names(List.of(names));
    }

    /** Modules whose whole path matches a regular expression. */
    public static TargetModules regex(String regex) {
        if (ALL_LINEAR.equals(regex)) {
            return allLinear();
        }
        try {
            return new TargetModules(List.of(), Pattern.compile(regex), false);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(
                    "target_modules: invalid regular expression '"
                            + regex
                            + "': "
                            + e.getDescription(),
                    e);
        }
    }

    /** Every linear layer except an output head ({@code lm_head}, {@code classifier}, {@code score}). */
    public static TargetModules allLinear() {
        return new TargetModules(List.of(), null, true);
    }

    /** Whether the module at {@code path} is selected, given whether it is a linear layer. */
    public boolean matches(String path, boolean isLinear) {
        if (path.isEmpty()) {
            return false;
        }
        if (allLinear) {
            return isLinear && !OUTPUT_HEADS.contains(lastSegment(path));
        }
        if (regex != null) {
            return regex.matcher(path).matches();
        }
        for (String n : names) {
            if (matchesName(path, n)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the targets are one regular expression. */
    public boolean isRegex() {
        return regex != null;
    }

    /** Whether the targets are a list of names holding {@code path} itself (not a dotted suffix of it). */
    public boolean listsExactly(String path) {
        return regex == null && !allLinear && names.contains(path);
    }

    /** Whether a path is a name or ends with it at a dot boundary. */
    public static boolean matchesName(String path, String name) {
        return path.equals(name) || path.endsWith("." + name);
    }

    private static String lastSegment(String path) {
        return path.substring(path.lastIndexOf('.') + 1);
    }

    /**
     * Throws when a listed name (or the regex) matches none of {@code paths}, naming the closest
     * existing module paths.
     */
    public void requireAllMatched(Collection<String> paths, Collection<String> matched) {
        if (allLinear) {
            if (matched.isEmpty()) {
                throw new IllegalArgumentException(
                        "target_modules 'all-linear' matched no Linear layer");
            }
            return;
        }
        if (regex != null) {
            if (matched.isEmpty()) {
                throw new IllegalArgumentException(
                        "target_modules regex '"
                                + regex.pattern()
                                + "' matches no module path. Available module paths include: "
                                + Suggestions.closest(regex.pattern(), paths, 8));
            }
            return;
        }
        List<String> missing = new ArrayList<>();
        for (String n : names) {
            if (matched.stream().noneMatch(p -> matchesName(p, n))) {
                missing.add(n);
            }
        }
        if (!missing.isEmpty()) {
            StringBuilder sb =
                    new StringBuilder("target_modules ")
                            .append(missing)
                            .append(" not found in the model.");
            for (String n : missing) {
                sb.append(" Closest to '")
                        .append(n)
                        .append("': ")
                        .append(Suggestions.closest(n, paths, 5))
                        .append('.');
            }
            throw new IllegalArgumentException(sb.toString());
        }
    }

    /** The PEFT JSON form: a list of names, or a string. */
    public JsonElement toJson() {
        if (allLinear) {
            return new JsonPrimitive(ALL_LINEAR);
        }
        if (regex != null) {
            return new JsonPrimitive(regex.pattern());
        }
        JsonArray a = new JsonArray();
        names.forEach(a::add);
        return a;
    }

    /** Parses the PEFT JSON form. */
    public static TargetModules fromJson(JsonElement e, String key) {
        if (e == null || e.isJsonNull()) {
            throw new IllegalArgumentException(key + " is required");
        }
        if (e.isJsonPrimitive()) {
            return regex(e.getAsString());
        }
        if (e.isJsonArray()) {
            List<String> out = new ArrayList<>();
            e.getAsJsonArray().forEach(x -> out.add(x.getAsString()));
            return names(out);
        }
        throw new IllegalArgumentException(
                key + " must be a list of module names or a regex string, got " + e);
    }

    /** The listed names (empty for a regex or all-linear). */
    public List<String> names() {
        return Collections.unmodifiableList(names);
    }

    @Override
    public String toString() {
        return toJson().toString();
    }
}
