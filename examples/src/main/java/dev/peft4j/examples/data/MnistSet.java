package dev.peft4j.examples.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.train.text.Splits;
import java.util.Arrays;
import java.util.Random;

/**
 * Grey-scale digit images with their labels.
 *
 * @param images one {@code rows * cols} row-major float array per image, values in [0, 1]
 * @param labels the digit of each image, 0 to 9
 * @param rows the image height
 * @param cols the image width
 */
public record MnistSet(float[][] images, int[] labels, int rows, int cols) {

    /** Checks that images and labels agree. */
    public MnistSet {
        if (images.length != labels.length) {
            throw new IllegalArgumentException(
                    images.length + " images but " + labels.length + " labels");
        }
        for (float[] image : images) {
            if (image.length != rows * cols) {
                throw new IllegalArgumentException(
                        "image of " + image.length + " pixels, expected " + rows + "x" + cols);
            }
        }
    }

    /** Returns the number of images. */
    public int size() {
        return labels.length;
    }

    /** Returns the images at the given indices, in that order (arrays shared, not copied). */
    public MnistSet subset(int[] indices) {
        float[][] chosenImages = new float[indices.length][];
        int[] chosenLabels = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            chosenImages[i] = images[indices[i]];
            chosenLabels[i] = labels[indices[i]];
        }
        return new MnistSet(chosenImages, chosenLabels, rows, cols);
    }

    /** Returns {@code n} distinct images chosen by a seeded permutation. */
    public MnistSet sample(int n, long seed) {
        if (n < 0 || n > size()) {
            throw new IllegalArgumentException("cannot sample " + n + " of " + size() + " images");
        }
        return subset(Arrays.copyOf(Splits.permutation(size(), new Random(seed)), n));
    }

    /** Returns the images as a float32 array {@code [N, 1, rows, cols]} on the manager. */
    public NDArray imageArray(NDManager manager) {
        float[] flat = new float[size() * rows * cols];
        for (int i = 0; i < size(); i++) {
            System.arraycopy(images[i], 0, flat, i * rows * cols, rows * cols);
        }
        return manager.create(flat, new Shape(size(), 1, rows, cols));
    }

    /** Returns the labels as an int64 array {@code [N]} on the manager. */
    public NDArray labelArray(NDManager manager) {
        long[] copy = new long[size()];
        for (int i = 0; i < size(); i++) {
            copy[i] = labels[i];
        }
        return manager.create(copy);
    }
}
