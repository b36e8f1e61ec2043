package dev.peft4j.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/**
 * Runs the {@code peft} command line in-process: its exit code, stdout, the error lines of the
 * command's error handler, and everything else written to System.err (progress, logs).
 */
record CliRun(int code, String out, String err, String progress) {

    /** Runs {@code peft args...}. */
    static CliRun of(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(progress, true, StandardCharsets.UTF_8));
        CommandLine cl = PeftCli.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        try {
            int code = cl.execute(args);
            return new CliRun(
                    code,
                    out.toString(StandardCharsets.UTF_8),
                    err.toString(),
                    progress.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
