package dev.peft4j.core.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a main class of the test class path in a child JVM and kills it with SIGKILL (no shutdown
 * hooks, no finally blocks) a given time after it prints {@code ready}: the crash-safety tests'
 * way of interrupting a writer at a chosen moment.
 */
public final class KilledChild {

    private KilledChild() {}

    /**
     * Starts {@code main} with {@code args} (and {@code jvmArgs} before the class), waits for its
     * {@code ready} line, sleeps {@code millis} and kills it.
     *
     * @throws IllegalStateException when the child ends before printing {@code ready}
     */
    public static void run(Class<?> main, List<String> jvmArgs, long millis, String... args)
            throws IOException, InterruptedException {
        runAfter("ready", main, jvmArgs, millis, args);
    }

    /**
     * Like {@link #run}, waiting for the line {@code marker} instead of {@code ready} (a child that
     * prints one after its first complete write lets the kill land after it however slow the
     * machine is).
     */
    public static void runAfter(
            String marker, Class<?> main, List<String> jvmArgs, long millis, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out =
                new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = out.readLine()) != null && !line.equals(marker)) {
            seen.append(line).append('\n');
        }
        if (line == null) {
            p.waitFor();
            throw new IllegalStateException(
                    main.getSimpleName()
                            + " ended ("
                            + p.exitValue()
                            + ") before it printed '"
                            + marker
                            + "':\n"
                            + seen);
        }
        Thread.sleep(millis);
        p.destroyForcibly(); // SIGKILL on Linux
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(main.getSimpleName() + " did not die");
        }
    }
}
