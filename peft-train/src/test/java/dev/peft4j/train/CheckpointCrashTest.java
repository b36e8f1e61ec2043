package dev.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import dev.peft4j.core.testing.KilledChild;
import dev.peft4j.train.TrainingCheckpointsTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run killed with SIGKILL at a seeded random moment resumes from its last complete
 * checkpoint and ends exactly as the uninterrupted run: the same losses and weights, bit for bit.
 * Each kill lands in a different place (while a step runs, while a checkpoint is written).
 */
class CheckpointCrashTest {

    private static final Pattern CHECKPOINT = Pattern.compile("checkpoint-(\\d+)");

    @TempDir Path tmp;

    @Test
    void aKilledRunResumesFromItsLastCompleteCheckpoint() throws Exception {
        Random schedule = new Random(11);
        int resumedAfterAKill = 0;
        for (int kill = 0; kill < 4; kill++) {
            Path dir = tmp.resolve("run-" + kill);
            KilledChild.run(Child.class, List.of(), 300 + schedule.nextInt(1500), dir.toString());
            if (!Files.isDirectory(dir)) {
                continue; // killed before the run started
            }
            List<String> left = TrainingCheckpointsTest.names(dir);
            int last = -1;
            for (String n : left) {
                Matcher m = CHECKPOINT.matcher(n);
                if (m.matches()) {
                    last = Math.max(last, Integer.parseInt(m.group(1)));
                }
            }
            if (last < 0) {
                continue; // killed before the first checkpoint
            }
            resumedAfterAKill++;
            int end = last + 4;
            Run resumed = TrainingCheckpointsTest.train(dir, end, true);
            Run whole = TrainingCheckpointsTest.train(tmp.resolve("whole-" + kill), end, false);
            assertEquals(
                    whole.losses(), resumed.losses(), "kill " + kill + " after checkpoint " + last);
            whole.weights().forEach((k, v) -> assertArrayEquals(v, resumed.weights().get(k), k));
        }
        assertTrue(resumedAfterAKill >= 2, "most kills came after a first checkpoint");
    }

    /** Trains with a checkpoint every 3 steps, printing {@code ready} first, until killed. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Engine.getInstance(); // load the natives first, so the kill lands in training
            System.out.println("ready");
            System.out.flush();
            TrainingCheckpointsTest.train(Path.of(args[0]), 1_000_000, false);
        }
    }
}
