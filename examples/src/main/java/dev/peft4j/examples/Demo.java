package dev.peft4j.examples;

/** The main job of the README's first command: the LoRA quickstart on built-in data. */
public final class Demo {

    private Demo() {}

    /** Runs the default end-to-end job. */
    public static void main(String[] args) throws Exception {
        Quickstart.main(args);
    }
}
