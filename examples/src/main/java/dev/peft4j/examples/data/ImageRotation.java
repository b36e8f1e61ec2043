package dev.peft4j.examples.data;

/**
 * Rotates a grey-scale image about its centre with bilinear interpolation and zero fill.
 *
 * <p>A positive angle turns the picture counter-clockwise as displayed (row 0 at the top): at 90
 * degrees, output pixel {@code (r, c)} is input pixel {@code (c, cols - 1 - r)} of a square image.
 * Each output pixel samples the input at the inversely rotated position; source coordinates
 * within 1e-9 of an integer are snapped to it so multiples of 90 degrees are exact permutations.
 */
public final class ImageRotation {

    private static final double SNAP = 1e-9;

    private ImageRotation() {}

    /**
     * Returns the rotated image.
     *
     * @param image the row-major pixels, {@code rows * cols} of them
     * @param rows the height
     * @param cols the width
     * @param degrees the counter-clockwise angle
     * @return a new array of the same size
     */
    public static float[] rotate(float[] image, int rows, int cols, double degrees) {
        if (image.length != rows * cols) {
            throw new IllegalArgumentException(
                    "image has " + image.length + " pixels, expected " + rows + "x" + cols);
        }
        double cos = Math.cos(Math.toRadians(degrees));
        double sin = Math.sin(Math.toRadians(degrees));
        double cy = (rows - 1) / 2.0;
        double cx = (cols - 1) / 2.0;
        float[] out = new float[image.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double dx = c - cx;
                double dy = r - cy;
                double sourceCol = snap(cx + dx * cos - dy * sin);
                double sourceRow = snap(cy + dx * sin + dy * cos);
                out[r * cols + c] = (float) bilinear(image, rows, cols, sourceRow, sourceCol);
            }
        }
        return out;
    }

    private static double snap(double v) {
        double nearest = Math.rint(v);
        return Math.abs(v - nearest) < SNAP ? nearest : v;
    }

    private static double bilinear(float[] image, int rows, int cols, double row, double col) {
        int r0 = (int) Math.floor(row);
        int c0 = (int) Math.floor(col);
        double fr = row - r0;
        double fc = col - c0;
        return (1 - fr)
                        * ((1 - fc) * pixel(image, rows, cols, r0, c0)
                                + fc * pixel(image, rows, cols, r0, c0 + 1))
                + fr
                        * ((1 - fc) * pixel(image, rows, cols, r0 + 1, c0)
                                + fc * pixel(image, rows, cols, r0 + 1, c0 + 1));
    }

    private static double pixel(float[] image, int rows, int cols, int r, int c) {
        return r < 0 || r >= rows || c < 0 || c >= cols ? 0.0 : image[r * cols + c];
    }
}
