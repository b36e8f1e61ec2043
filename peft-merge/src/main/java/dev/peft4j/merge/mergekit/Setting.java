package dev.peft4j.merge.mergekit;

import java.util.List;
import java.util.Map;

/**
 * A parameter value as mergekit's YAML gives it ({@code ParameterSetting}, mergekit/config.py
 * 13-52): a scalar (number, boolean), a gradient (a list of numbers interpolated over the layers),
 * or a list of conditions {@code {filter, value}} tried in order.
 */
sealed interface Setting {

    /** A number or a boolean. */
    record Scalar(Object value) implements Setting {}

    /** A list of numbers, linearly interpolated at {@code t} (evaluate_setting 32-38). */
    record Gradient(List<Double> values) implements Setting {}

    /** Conditions tried in order: the first whose filter is absent, {@code "*"} or a substring of the tensor name. */
    record Conditional(List<Condition> conditions) implements Setting {}

    /** One condition: a filter (null: any tensor) and its value. */
    record Condition(String filter, Setting value) {}

    /**
     * The value for a tensor at layer position {@code t} in [0, 1], or null when no condition
     * matches (mergekit then looks further: the global parameters, the default).
     */
    default Object evaluate(String tensorName, double t) {
        if (this instanceof Scalar s) {
            return s.value();
        }
        if (this instanceof Gradient g) {
            List<Double> v = g.values();
            double scaled = t * (v.size() - 1);
            int i0 = (int) scaled;
            int i1 = Math.min(v.size() - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * v.get(i0) + frac * v.get(i1);
        }
        for (Condition c : ((Conditional) this).conditions()) {
            if (c.filter() == null
                    || c.filter().equals("*")
                    || (tensorName != null && tensorName.contains(c.filter()))) {
                return c.value().evaluate(tensorName, t);
            }
        }
        return null;
    }

    /** Parses a YAML value; {@code where} names it in errors (file and key). */
    @SuppressWarnings("unchecked")
    static Setting parse(Object value, String where) {
        if (value instanceof Number n) {
            return new Scalar(n.doubleValue());
        }
        if (value instanceof Boolean b) {
            return new Scalar(b);
        }
        if (value instanceof Map<?, ?> m) {
            return new Conditional(List.of(condition((Map<String, Object>) m, where)));
        }
        if (value instanceof List<?> list && !list.isEmpty()) {
            if (list.stream().allMatch(e -> e instanceof Number)) {
                return new Gradient(list.stream().map(e -> ((Number) e).doubleValue()).toList());
            }
            if (list.stream().allMatch(e -> e instanceof Map)) {
                return new Conditional(
                        list.stream().map(e -> condition((Map<String, Object>) e, where)).toList());
            }
        }
        throw new IllegalArgumentException(
                where
                        + ": expected a number, a boolean, a list of numbers (a gradient) or a list"
                        + " of {filter, value}, got "
                        + value);
    }

    private static Condition condition(Map<String, Object> m, String where) {
        for (String k : m.keySet()) {
            if (!k.equals("filter") && !k.equals("value")) {
                throw new IllegalArgumentException(
                        where + ": unknown key '" + k + "' in a condition (filter, value)");
            }
        }
        if (!m.containsKey("value")) {
            throw new IllegalArgumentException(where + ": a condition needs a value");
        }
        Object f = m.get("filter");
        if (f != null && !(f instanceof String)) {
            throw new IllegalArgumentException(where + ": filter must be a string, got " + f);
        }
        Setting v = parse(m.get("value"), where);
        if (v instanceof Conditional) {
            throw new IllegalArgumentException(
                    where + ": a condition's value cannot be conditions");
        }
        return new Condition((String) f, v);
    }
}
