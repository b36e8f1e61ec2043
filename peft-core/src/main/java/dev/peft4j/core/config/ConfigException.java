package dev.peft4j.core.config;

/** A config that cannot be used; the message starts with the file (or other source) it came from. */
public final class ConfigException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** An error about {@code source}: the message is {@code "source: message"}. */
    public ConfigException(String source, String message, Throwable cause) {
        super(source + ": " + message, cause);
    }
}
