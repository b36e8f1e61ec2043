package dev.peft4j.merge;

import dev.peft4j.core.io.TensorSource;

/**
 * Matches tensor names between checkpoints that differ by a leading prefix: a classifier
 * fine-tuned from an encoder names {@code bert.encoder.layer.0...} what the encoder's own
 * checkpoint names {@code encoder.layer.0...}, and adapters saved on either carry the same prefix.
 */
public final class TensorNames {

    private TensorNames() {}

    /**
     * The name in {@code source} for {@code key}: {@code key} itself, else the only name that
     * ends with {@code "." + key} or that {@code key} ends with after a dot; null when there is
     * none or more than one.
     */
    public static String match(String key, TensorSource source) {
        if (source.contains(key)) {
            return key;
        }
        String found = null;
        for (String own : source.keys()) {
            if (own.endsWith("." + key) || key.endsWith("." + own)) {
                if (found != null) {
                    return null;
                }
                found = own;
            }
        }
        return found;
    }
}
