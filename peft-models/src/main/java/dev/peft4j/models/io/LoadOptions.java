package dev.peft4j.models.io;

import java.util.ArrayList;
import java.util.List;

/**
 * How checkpoint keys map onto a model's HF names, and which differences are tolerated.
 *
 * <p>Built like a DJL builder: {@code LoadOptions.builder().optAddPrefix("bert.")
 * .optAllowMissing("classifier.").build()}. Prefixes are plain string prefixes of a name ({@code
 * "classifier."} covers {@code classifier.weight} and {@code classifier.bias}).
 */
public final class LoadOptions {

    private static final LoadOptions STRICT = builder().build();

    private final String stripPrefix;
    private final String addPrefix;
    private final List<String> allowMissing;
    private final List<String> ignoreUnexpected;

    private LoadOptions(Builder builder) {
        stripPrefix = builder.stripPrefix;
        addPrefix = builder.addPrefix;
        allowMissing = List.copyOf(builder.allowMissing);
        ignoreUnexpected = List.copyOf(builder.ignoreUnexpected);
    }

    /**
     * Returns options that require an exact match between checkpoint and model.
     *
     * @return the strict options
     */
    public static LoadOptions strict() {
        return STRICT;
    }

    /**
     * Starts building options.
     *
     * @return a builder with strict defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Maps a checkpoint key to the model name it loads into.
     *
     * @param key a checkpoint key
     * @return the model name, or {@code null} if the key lacks the prefix to strip
     */
    public String targetName(String key) {
        if (!key.startsWith(stripPrefix)) {
            return null;
        }
        return addPrefix + key.substring(stripPrefix.length());
    }

    /**
     * Returns whether a model parameter may stay freshly initialized when the checkpoint lacks it.
     *
     * @param name a model name
     * @return whether it may be missing
     */
    public boolean isAllowedMissing(String name) {
        return matches(allowMissing, name);
    }

    /**
     * Returns whether a checkpoint key that matches no model parameter is skipped silently.
     *
     * @param key a checkpoint key
     * @return whether it is ignored
     */
    public boolean isIgnoredUnexpected(String key) {
        return matches(ignoreUnexpected, key);
    }

    private static boolean matches(List<String> prefixes, String name) {
        for (String prefix : prefixes) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /** Builds {@link LoadOptions}. */
    public static final class Builder {

        private String stripPrefix = "";
        private String addPrefix = "";
        private final List<String> allowMissing = new ArrayList<>();
        private final List<String> ignoreUnexpected = new ArrayList<>();

        private Builder() {}

        /**
         * Strips a prefix from checkpoint keys (loading a base model out of a task model's
         * checkpoint, e.g. {@code "bert."}); keys without it are unexpected.
         *
         * @param prefix the prefix
         * @return this builder
         */
        public Builder optStripPrefix(String prefix) {
            stripPrefix = prefix;
            return this;
        }

        /**
         * Prepends a prefix to checkpoint keys (loading a base model's checkpoint into a task
         * model, e.g. {@code "bert."}).
         *
         * @param prefix the prefix
         * @return this builder
         */
        public Builder optAddPrefix(String prefix) {
            addPrefix = prefix;
            return this;
        }

        /**
         * Lets model parameters under these name prefixes stay freshly initialized when the
         * checkpoint lacks them (new heads: {@code "classifier."}; a tied {@code "lm_head."}).
         *
         * @param prefixes model-name prefixes
         * @return this builder
         */
        public Builder optAllowMissing(String... prefixes) {
            allowMissing.addAll(List.of(prefixes));
            return this;
        }

        /**
         * Skips checkpoint keys under these prefixes that match no model parameter (buffers such
         * as {@code "embeddings.position_ids"}, heads the model does not have).
         *
         * @param prefixes checkpoint-key prefixes
         * @return this builder
         */
        public Builder optIgnoreUnexpected(String... prefixes) {
            ignoreUnexpected.addAll(List.of(prefixes));
            return this;
        }

        /**
         * Builds the options.
         *
         * @return the options
         */
        public LoadOptions build() {
            return new LoadOptions(this);
        }
    }
}
