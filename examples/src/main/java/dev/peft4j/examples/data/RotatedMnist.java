package dev.peft4j.examples.data;

import dev.peft4j.train.text.Splits;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Rotated MNIST domains in the DomainBed style (Ghifary et al. 2015; Gulrajani and Lopez-Paz
 * 2021): each domain is a rotation angle applied to its own images.
 */
public final class RotatedMnist {

    /** The six DomainBed angles, in degrees. */
    public static final double[] ANGLES = {0, 15, 30, 45, 60, 75};

    private RotatedMnist() {}

    /**
     * One domain.
     *
     * @param degrees the counter-clockwise rotation of its images
     * @param images its rotated images and their labels
     */
    public record Domain(double degrees, MnistSet images) {}

    /** Returns every image of the set rotated by the angle (the same digits in a new domain). */
    public static MnistSet rotate(MnistSet set, double degrees) {
        float[][] rotated = new float[set.size()][];
        for (int i = 0; i < set.size(); i++) {
            rotated[i] = ImageRotation.rotate(set.images()[i], set.rows(), set.cols(), degrees);
        }
        return new MnistSet(rotated, set.labels().clone(), set.rows(), set.cols());
    }

    /**
     * Builds one domain per angle from disjoint images, as DomainBed does: a seeded permutation of
     * the source is cut into consecutive blocks of {@code perDomain} images, block {@code i}
     * rotated by {@code angles[i]}.
     *
     * @param source the images to draw from (e.g. MNIST train)
     * @param angles the angles, one domain each
     * @param perDomain the images per domain
     * @param seed the permutation seed
     * @return the domains in the order of the angles
     */
    public static List<Domain> disjointDomains(
            MnistSet source, double[] angles, int perDomain, long seed) {
        if (perDomain <= 0 || (long) perDomain * angles.length > source.size()) {
            throw new IllegalArgumentException(
                    angles.length
                            + " domains of "
                            + perDomain
                            + " images need more than the "
                            + source.size()
                            + " available");
        }
        int[] order = Splits.permutation(source.size(), new Random(seed));
        List<Domain> domains = new ArrayList<>();
        for (int i = 0; i < angles.length; i++) {
            int[] block = Arrays.copyOfRange(order, i * perDomain, (i + 1) * perDomain);
            domains.add(new Domain(angles[i], rotate(source.subset(block), angles[i])));
        }
        return domains;
    }
}
