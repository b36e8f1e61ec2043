package dev.peft4j.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The property every reader's fuzz test checks, and a seeded mutation run of it for {@code mvn
 * verify}. A reader given any bytes either reads them or refuses them with an {@link
 * IllegalArgumentException} or {@link IOException} whose message names the file; anything else (an
 * {@code ArrayIndexOutOfBoundsException}, a {@code NullPointerException}, an {@code
 * OutOfMemoryError} from a lying length, a stack overflow) escapes and is a finding. The fuzz tests
 * run under Jazzer ({@code @FuzzTest}: their corpus in {@code mvn verify}, coverage-guided with
 * {@code JAZZER_FUZZ=1}, see docs/contributing.md).
 */
public final class Refusals {

    /** Mutations per corpus file in {@link #mutateCorpus}. */
    public static final int ROUNDS = 150;

    private Refusals() {}

    /** A read that may throw. */
    @FunctionalInterface
    public interface Read {
        /** Reads the input. */
        void run() throws IOException;
    }

    /** Runs {@code read}; a refusal must be one of the two clean kinds and name {@code origin}. */
    public static void refusesCleanly(String origin, Read read) {
        try {
            read.run();
        } catch (IllegalArgumentException | IOException | UncheckedIOException e) {
            String message = e.getMessage();
            if (message == null || !message.contains(origin)) {
                throw new AssertionError("the error does not name " + origin + ": " + e, e);
            }
        }
    }

    /** The files of a Jazzer corpus folder ({@code <Test>Inputs/<method>} in the test resources). */
    public static List<byte[]> corpus(Class<?> test, String method) throws IOException {
        Path dir =
                Path.of("src/test/resources")
                        .resolve(test.getPackageName().replace('.', '/'))
                        .resolve(test.getSimpleName() + "Inputs")
                        .resolve(method);
        List<byte[]> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files.sorted()::iterator) {
                out.add(Files.readAllBytes(f));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("empty corpus " + dir);
        }
        return out;
    }

    /**
     * Feeds {@link #ROUNDS} seeded mutations of every corpus file to {@code target}: byte flips,
     * cuts, repeated and inserted runs, 8-byte words replaced by extreme integers (lying lengths
     * and offsets), and digits of text replaced by long or negative numbers.
     */
    public static void mutateCorpus(List<byte[]> corpus, long seed, Consumer<byte[]> target) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (byte[] original : corpus) {
            target.accept(original);
            for (int round = 0; round < ROUNDS; round++) {
                target.accept(mutate(original, rnd));
            }
        }
    }

    private static byte[] mutate(byte[] in, SplittableRandom rnd) {
        byte[] b = in.clone();
        int n = 1 + rnd.nextInt(3);
        for (int i = 0; i < n; i++) {
            b = mutateOnce(b, rnd);
        }
        return b;
    }

    private static final long[] EXTREMES = {
        0, -1, 1, Long.MAX_VALUE, Long.MIN_VALUE, Integer.MAX_VALUE, 0x100000000L, 1L << 40
    };

    private static final String[] NUMBERS = {
        "0", "-1", "-9999999999", "99999999999999999999", "1e308", "NaN", "2147483648", "\"x\""
    };

    private static byte[] mutateOnce(byte[] b, SplittableRandom rnd) {
        if (b.length == 0) {
            return new byte[] {(byte) rnd.nextInt(256)};
        }
        int at = rnd.nextInt(b.length);
        switch (rnd.nextInt(6)) {
            case 0: // flip a byte
                b[at] ^= (byte) (1 + rnd.nextInt(255));
                return b;
            case 1: // cut the tail
                return Arrays.copyOf(b, at);
            case 2: // repeat a run
                {
                    int len = Math.min(b.length - at, 1 + rnd.nextInt(16));
                    byte[] out = new byte[b.length + len];
                    System.arraycopy(b, 0, out, 0, at + len);
                    System.arraycopy(b, at, out, at + len, b.length - at);
                    return out;
                }
            case 3: // an extreme little-endian word
                {
                    long v = EXTREMES[rnd.nextInt(EXTREMES.length)];
                    for (int i = 0; i < 8 && at + i < b.length; i++) {
                        b[at + i] = (byte) (v >>> (8 * i));
                    }
                    return b;
                }
            case 4: // a number of text replaced
                {
                    String s = new String(b, StandardCharsets.ISO_8859_1);
                    int digit = -1;
                    for (int i = 0; i < s.length(); i++) {
                        int j = (at + i) % s.length();
                        if (Character.isDigit(s.charAt(j))) {
                            digit = j;
                            break;
                        }
                    }
                    if (digit < 0) {
                        return b;
                    }
                    int end = digit;
                    while (end < s.length() && Character.isDigit(s.charAt(end))) {
                        end++;
                    }
                    String r = NUMBERS[rnd.nextInt(NUMBERS.length)];
                    return (s.substring(0, digit) + r + s.substring(end))
                            .getBytes(StandardCharsets.ISO_8859_1);
                }
            default: // insert random bytes
                {
                    int len = 1 + rnd.nextInt(8);
                    byte[] out = new byte[b.length + len];
                    System.arraycopy(b, 0, out, 0, at);
                    for (int i = 0; i < len; i++) {
                        out[at + i] = (byte) rnd.nextInt(256);
                    }
                    System.arraycopy(b, at, out, at + len, b.length - at);
                    return out;
                }
        }
    }
}
