package dev.peft4j.core.random;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Known answers, chunk invariance and distribution sanity of {@link CounterRandom}. */
class CounterRandomTest {

    private static final int N = 200_000;

    /** Allowed deviation of a sample statistic, in standard errors (fails by chance ~ 6e-7). */
    private static final double SIGMAS = 5;

    @Test
    void philoxMatchesRandom123KnownAnswers() {
        // Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected
        assertArrayEquals(
                words(0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8),
                CounterRandom.philox4x32(words(0, 0, 0, 0), words(0, 0)));
        assertArrayEquals(
                words(0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd),
                CounterRandom.philox4x32(words(-1, -1, -1, -1), words(-1, -1)));
        assertArrayEquals(
                words(0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1),
                CounterRandom.philox4x32(
                        words(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344),
                        words(0xa4093822, 0x299f31d0)));
    }

    @Test
    void wordsFollowTheDocumentedCounterLayout() {
        long seed = 0x0123456789ABCDEFL;
        long stream = 0x1111222233334444L;
        long block = 0x55556666777L;
        int[] expected =
                CounterRandom.philox4x32(
                        words(
                                (int) block,
                                (int) (block >>> 32),
                                (int) stream,
                                (int) (stream >>> 32)),
                        words((int) seed, (int) (seed >>> 32)));
        CounterRandom random = new CounterRandom(seed);
        for (int lane = 0; lane < 4; lane++) {
            assertEquals(expected[lane], random.word(stream, 4 * block + lane));
        }
        assertEquals((expected[2] >>> 8) * 0x1p-24f, random.uniform(stream, 4 * block + 2));
    }

    @Test
    void chunkedGenerationEqualsOneShot() {
        CounterRandom random = new CounterRandom(42);
        float[] uniform = new float[1000];
        float[] normal = new float[1000];
        random.fillUniform(7, 13, uniform);
        random.fillNormal(7, 13, normal);
        float[] uniformChunks = new float[1000];
        float[] normalChunks = new float[1000];
        // odd boundaries split Philox blocks and Box-Muller pairs
        int[] cuts = {0, 1, 4, 7, 333, 334, 999, 1000};
        for (int c = 0; c + 1 < cuts.length; c++) {
            int from = cuts[c];
            int length = cuts[c + 1] - from;
            random.fillUniform(7, 13 + from, uniformChunks, from, length);
            random.fillNormal(7, 13 + from, normalChunks, from, length);
        }
        assertArrayEquals(uniform, uniformChunks);
        assertArrayEquals(normal, normalChunks);
        assertEquals(normal[500], random.normal(7, 513));
        assertEquals(uniform[999], random.uniform(7, 1012));
    }

    @Test
    void ndArraysHoldTheSameValuesRowMajor() {
        CounterRandom random = new CounterRandom(3);
        float[] expected = new float[12];
        random.fillNormal(5, 0, expected);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = random.normal(manager, 5, new Shape(3, 4));
            assertArrayEquals(expected, x.toFloatArray());
            random.fillUniform(6, 0, expected);
            assertArrayEquals(expected, random.uniform(manager, 6, new Shape(4, 3)).toFloatArray());
        }
    }

    @Test
    void uniformMomentsAndRange() {
        float[] x = new float[N];
        new CounterRandom(11).fillUniform(0, 0, x);
        double[] m = moments(x);
        for (float v : x) {
            assertTrue(v >= 0 && v < 1, "uniform value out of [0, 1): " + v);
        }
        // var(U) = 1/12; var of the sample variance = (mu4 - sigma^4) / n = (1/80 - 1/144) / n
        assertAlmostEquals(m[0], 0.5, 0, SIGMAS * Math.sqrt(1.0 / 12 / N));
        assertAlmostEquals(m[1], 1.0 / 12, 0, SIGMAS * Math.sqrt((1.0 / 80 - 1.0 / 144) / N));
    }

    @Test
    void normalMomentsAndTails() {
        float[] x = new float[N];
        new CounterRandom(12).fillNormal(0, 0, x);
        double[] m = moments(x);
        // var of the sample variance of N(0, 1) = 2 / n
        assertAlmostEquals(m[0], 0, 0, SIGMAS / Math.sqrt(N));
        assertAlmostEquals(m[1], 1, 0, SIGMAS * Math.sqrt(2.0 / N));
        long beyondTwo = 0;
        for (float v : x) {
            if (Math.abs(v) > 2) {
                beyondTwo++;
            }
        }
        // P(|Z| > 2) = 0.0455003
        double p = 0.0455003;
        assertAlmostEquals((double) beyondTwo / N, p, 0, SIGMAS * Math.sqrt(p * (1 - p) / N));
    }

    @Test
    void streamsAndSeedsDiffer() {
        float[] a = new float[64];
        float[] b = new float[64];
        float[] c = new float[64];
        new CounterRandom(1).fillNormal(0, 0, a);
        new CounterRandom(1).fillNormal(1, 0, b);
        new CounterRandom(2).fillNormal(0, 0, c);
        assertFalse(Arrays.equals(a, b));
        assertFalse(Arrays.equals(a, c));
        float[] again = new float[64];
        new CounterRandom(1).fillNormal(0, 0, again);
        assertArrayEquals(a, again);
    }

    private static double[] moments(float[] x) {
        double mean = 0;
        for (float v : x) {
            mean += v;
        }
        mean /= x.length;
        double var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean);
        }
        return new double[] {mean, var / (x.length - 1)};
    }

    private static int[] words(int... w) {
        return w;
    }
}
