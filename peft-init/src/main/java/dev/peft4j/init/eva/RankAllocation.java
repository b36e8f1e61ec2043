package dev.peft4j.init.eva;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EVA's rank redistribution: the explained-variance ratios of every layer's components are pooled,
 * the global top {@code budget} are kept, and a layer's rank is how many of them it owns (0 means
 * no adapter). Ties keep the pool order (layer order, then component order), so the result is
 * deterministic.
 */
public final class RankAllocation {

    private RankAllocation() {}

    private record Entry(String layer, double ratio) {}

    /**
     * The rank of every layer.
     *
     * @param ratios each layer's explained-variance ratios, in component order (descending)
     * @param budget the total rank to hand out (the sum of the layers' configured ranks)
     * @return the ranks, in the order of {@code ratios}
     */
    public static LinkedHashMap<String, Integer> allocate(
            Map<String, double[]> ratios, int budget) {
        List<Entry> pool = new ArrayList<>();
        LinkedHashMap<String, Integer> ranks = new LinkedHashMap<>();
        ratios.forEach(
                (layer, values) -> {
                    ranks.put(layer, 0);
                    for (double v : values) {
                        pool.add(new Entry(layer, v));
                    }
                });
        pool.sort(Comparator.comparingDouble(Entry::ratio).reversed());
        for (Entry e : pool.subList(0, Math.min(budget, pool.size()))) {
            ranks.merge(e.layer(), 1, Integer::sum);
        }
        return ranks;
    }
}
