package dev.peft4j.examples.data;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ImageRotationTest {

    private static float[] randomImage(int rows, int cols, long seed) {
        Random random = new Random(seed);
        float[] image = new float[rows * cols];
        for (int i = 0; i < image.length; i++) {
            image[i] = random.nextFloat();
        }
        return image;
    }

    @Test
    void zeroDegreesIsTheIdentity() {
        float[] image = randomImage(28, 28, 1);
        assertArrayEquals(image, ImageRotation.rotate(image, 28, 28, 0), 0f);
        assertArrayEquals(image, ImageRotation.rotate(image, 28, 28, 360), 0f);
    }

    @Test
    void ninetyDegreesIsTheCounterClockwisePermutation() {
        int n = 28;
        float[] image = randomImage(n, n, 2);
        float[] expected = new float[n * n];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                // counter-clockwise: the top-right corner becomes the top-left one
                expected[r * n + c] = image[c * n + (n - 1 - r)];
            }
        }
        assertArrayEquals(expected, ImageRotation.rotate(image, n, n, 90), 0f);
        float[] reversed = new float[n * n];
        for (int i = 0; i < n * n; i++) {
            reversed[i] = image[n * n - 1 - i];
        }
        assertArrayEquals(reversed, ImageRotation.rotate(image, n, n, 180), 0f);
    }

    @Test
    void bilinearIsExactOnALinearRampAndZeroOutside() {
        // f(r, c) = 0.01 r + 0.02 c + 0.1: bilinear interpolation reproduces affine functions,
        // so inside the image the result is f at the inversely rotated point
        int n = 28;
        float[] ramp = new float[n * n];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                ramp[r * n + c] = (float) (0.01 * r + 0.02 * c + 0.1);
            }
        }
        double t = Math.toRadians(30);
        double center = (n - 1) / 2.0;
        float[] out = ImageRotation.rotate(ramp, n, n, 30);
        float[] actual = new float[n * n];
        float[] expected = new float[n * n];
        int inside = 0;
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                double dx = c - center;
                double dy = r - center;
                double sc = center + dx * Math.cos(t) - dy * Math.sin(t);
                double sr = center + dx * Math.sin(t) + dy * Math.cos(t);
                if (sr >= 0 && sr <= n - 1 && sc >= 0 && sc <= n - 1) {
                    actual[inside] = out[r * n + c];
                    expected[inside++] = (float) (0.01 * sr + 0.02 * sc + 0.1);
                } else if (sr <= -1 || sr >= n || sc <= -1 || sc >= n) {
                    assertEquals(0f, out[r * n + c], 0f, "zero fill at " + r + "," + c);
                }
            }
        }
        assertAlmostEquals(
                Arrays.copyOf(actual, inside), Arrays.copyOf(expected, inside), 1e-5, 1e-6);
        assertTrue(inside > n * n / 2, "most pixels map inside: " + inside);
    }

    @Test
    void disjointDomainsUseDistinctImagesRotatedByTheirAngle() {
        int n = 60;
        float[][] images = new float[n][];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            images[i] = randomImage(4, 4, 100 + i);
            labels[i] = i % 10;
        }
        MnistSet source = new MnistSet(images, labels, 4, 4);
        List<RotatedMnist.Domain> domains =
                RotatedMnist.disjointDomains(source, new double[] {0, 90, 180}, 20, 5);
        Set<float[]> used = new HashSet<>();
        for (RotatedMnist.Domain domain : domains) {
            assertEquals(20, domain.images().size());
            for (int i = 0; i < 20; i++) {
                float[] rotatedBack =
                        ImageRotation.rotate(domain.images().images()[i], 4, 4, -domain.degrees());
                int original = findExactly(images, rotatedBack);
                assertTrue(used.add(images[original]), "image " + original + " used twice");
                assertEquals(labels[original], domain.images().labels()[i]);
            }
        }
        List<RotatedMnist.Domain> again =
                RotatedMnist.disjointDomains(source, new double[] {0, 90, 180}, 20, 5);
        assertArrayEquals(domains.get(1).images().labels(), again.get(1).images().labels());
        assertFalse(
                Arrays.equals(
                        domains.get(1).images().labels(),
                        RotatedMnist.disjointDomains(source, new double[] {0, 90, 180}, 20, 6)
                                .get(1)
                                .images()
                                .labels()));
    }

    private static int findExactly(float[][] images, float[] image) {
        for (int i = 0; i < images.length; i++) {
            if (Arrays.equals(images[i], image)) {
                return i;
            }
        }
        throw new AssertionError("rotated image is not a rotation of a source image");
    }
}
