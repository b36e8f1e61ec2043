package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.Finiteness;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.util.Locale;

/** The checks every candidate runs on its tensors, with messages naming the candidate and tensor. */
public final class TensorChecks {

    private TensorChecks() {}

    /**
     * Requires a candidate tensor to have the base tensor's shape; a difference in the rows of an
     * embedding (or output) matrix is reported as a vocabulary size mismatch.
     */
    public static void requireSameShape(Candidate c, String key, Shape base, Shape candidate) {
        if (base.equals(candidate)) {
            return;
        }
        if (isVocabularyMatrix(key)
                && base.dimension() == 2
                && candidate.dimension() == 2
                && base.get(1) == candidate.get(1)) {
            throw new IllegalArgumentException(
                    String.format(
                            Locale.ROOT,
                            "candidate %s: different vocabulary size: tensor '%s' has %d rows, the"
                                    + " base has %d (models fine-tuned with added tokens cannot be"
                                    + " merged with this base)",
                            c.describe(),
                            key,
                            candidate.get(0),
                            base.get(0)));
        }
        throw new IllegalArgumentException(
                "candidate "
                        + c.describe()
                        + ": shape mismatch for tensor '"
                        + key
                        + "': "
                        + shape(candidate)
                        + ", the base has "
                        + shape(base));
    }

    /** Requires an array to be finite ({@link Finiteness#isFinite}). */
    public static void requireFinite(Candidate c, String key, NDArray a) {
        if (!Finiteness.isFinite(a)) {
            throw new IllegalArgumentException(
                    "candidate " + c.describe() + ": tensor '" + key + "' contains NaN or Inf");
        }
    }

    /**
     * Loads tensor {@code fileKey} of a candidate's file as float32 on {@code like}'s device,
     * refusing NaN and Inf.
     */
    public static NDArray loadFinite(
            Candidate c, TensorSource source, String fileKey, NDArray like, NDManager manager)
            throws IOException {
        NDArray a = source.load(fileKey, manager, DataType.FLOAT32);
        requireFinite(c, fileKey, a);
        if (!a.getDevice().equals(like.getDevice())) {
            NDArray moved = a.toDevice(like.getDevice(), false);
            a.close();
            a = moved;
        }
        return a;
    }

    /** Whether a tensor name looks like a token embedding or output vocabulary matrix. */
    static boolean isVocabularyMatrix(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        return k.contains("word_embeddings")
                || k.contains("embed_tokens")
                || k.contains("wte.")
                || k.contains("lm_head")
                || k.contains("shared.weight")
                || k.endsWith("embeddings.weight");
    }

    /** A shape as {@code [a, b]}. */
    public static String shape(Shape s) {
        return s.toString().replace('(', '[').replace(')', ']');
    }
}
