package dev.peft4j.init.eva;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The global top-budget allocation, on hand-worked examples. */
class RankAllocationTest {

    /**
     * The components per layer are Python's {@code round(layer_rank * rho)} as PEFT's eva.py
     * computes them: halves go to the even neighbour (Python: round(4.5) == 4, round(7.5) == 8,
     * round(2.5) == 2), not up.
     */
    @Test
    void componentsRoundHalfToEvenAsPython() {
        assertEquals(4, new EvaConfig(1.5, 0.99, true, -100, false, true).components(3));
        assertEquals(8, new EvaConfig(1.5, 0.99, true, -100, false, true).components(5));
        assertEquals(2, new EvaConfig(2.5, 0.99, true, -100, false, true).components(1));
        assertEquals(16, EvaConfig.defaults().components(8));
    }

    @Test
    void globalTopRatiosDecideTheRanksWithTiesInPoolOrder() {
        Map<String, double[]> ratios = new LinkedHashMap<>();
        ratios.put("a", new double[] {0.5, 0.2, 0.1});
        ratios.put("b", new double[] {0.3, 0.05, 0.01});
        ratios.put("c", new double[] {0.3, 0.3, 0.0});
        ratios.put("d", new double[] {0.01, 0.01, 0.01});
        // sorted: a0 .5 | b0 .3, c0 .3, c1 .3 (pool order) | a1 .2 | a2 .1 | b1 .05 ...
        assertEquals(Map.of("a", 1, "b", 1, "c", 2, "d", 0), RankAllocation.allocate(ratios, 4));
        assertEquals(Map.of("a", 3, "b", 1, "c", 2, "d", 0), RankAllocation.allocate(ratios, 6));
        assertEquals(
                Map.of("a", 0, "b", 1, "c", 0, "d", 0),
                RankAllocation.allocate(
                        new LinkedHashMap<>(
                                Map.of(
                                        "a",
                                        new double[] {0.3},
                                        "b",
                                        new double[] {0.4},
                                        "c",
                                        new double[0],
                                        "d",
                                        new double[] {0.1})),
                        1));
    }

    @Test
    void aBudgetBeyondThePoolGivesEveryComponent() {
        Map<String, double[]> ratios = new LinkedHashMap<>();
        ratios.put("x", new double[] {0.6, 0.4});
        ratios.put("y", new double[] {0.9});
        assertEquals(Map.of("x", 2, "y", 1), RankAllocation.allocate(ratios, 10));
    }
}
