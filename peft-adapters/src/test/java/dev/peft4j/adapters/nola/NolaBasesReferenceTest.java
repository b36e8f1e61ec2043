package dev.peft4j.adapters.nola;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import dev.peft4j.core.AdapterContext;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * NOLA's bases bit for bit against an independent Python implementation of the layer seed,
 * Philox4x32-10 and the documented layout: {@code nola_bases_reference.py} beside this test prints
 * the constants below (run {@code python3 nola_bases_reference.py}). Equal bits here mean a
 * checkpoint's seed rebuilds the same bases on any machine.
 */
class NolaBasesReferenceTest {

    // python3 nola_bases_reference.py (seed 42, path layers.0.query, r 3, m 12, n 10, k_A 16, k_B
    // 8)
    private static final long LAYER_SEED = -876147153215586761L;
    private static final int[] A0_FIRST = {
        0xbdd963ae, 0x3e11bdab, 0x3dedc052, 0x3df36ec0, 0x3e6dda7d, 0xbcded153
    };
    private static final int[] A5 = {
        0x3e0dc00e, 0xbe739ea0, 0xbe54a094, 0x3e460258, 0x3e56b342, 0x3e422250, 0x3e3bfca8
    };
    private static final int[] B7 = {
        0x3c41e110, 0x3d71d744, 0xbded1803, 0x3e009dcf, 0x3e3400ab, 0xbd6f6432, 0x3e83b2c3
    };

    /** Positions printed by the script: the first six values and the last one of a basis. */
    private static void assertBits(int[] expected, float[] values, String what) {
        for (int i = 0; i < 6; i++) {
            assertEquals(expected[i], Float.floatToRawIntBits(values[i]), what + " value " + i);
        }
        assertEquals(
                expected[6],
                Float.floatToRawIntBits(values[values.length - 1]),
                what + " last value");
    }

    @Test
    void basesMatchTheIndependentReferenceBitForBit() {
        long layerSeed =
                new AdapterContext("layers.0.query", "default", null, null, false).layerSeed(42);
        assertEquals(LAYER_SEED, layerSeed);
        NolaBases bases = new NolaBases(layerSeed, 3, 12, 10, 16, 8);
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] a0 = bases.a0(manager).toFloatArray();
            for (int i = 0; i < A0_FIRST.length; i++) {
                assertEquals(A0_FIRST[i], Float.floatToRawIntBits(a0[i]), "A0 value " + i);
            }
            assertBits(A5, bases.basesA(manager, 5, 1).toFloatArray(), "A_5");
            // B_7 read from a chunk that starts elsewhere: chunking must not change values
            float[] b67 = bases.basesB(manager, 6, 2).toFloatArray();
            assertBits(B7, Arrays.copyOfRange(b67, 36, 72), "B_7");
        }
    }
}
