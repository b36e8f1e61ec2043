package dev.peft4j.examples.bench;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.merge.ta.TaskArithmetic;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.train.TrainLoop;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The soak: N LoRA steps on MiniLM through {@link TrainLoop} (batch 16, sequence 128, random
 * tokens, Adam), then M consecutive task-arithmetic merges of four MiniLM-size models into a model
 * folder, in one JVM with a fixed, pre-touched heap; the resident memory is sampled every 100
 * steps and every 10 merges. Native memory is scoped, so both curves must stay flat after warm-up
 * (target: within 5% of the value at the end of the warm-up, the first tenth of each phase). Prints
 * the curves and the drift; with {@code --png FILE} also plots them.
 *
 * <p>Args: {@code [--steps N] [--merges M] [--seq TOKENS] [--png FILE]} (defaults 10,000, 200,
 * 128).
 */
public final class SoakBenchmark {

    private static final int BATCH = 16;
    private static int seq = 128;

    private SoakBenchmark() {}

    /** Runs the soak in a child JVM with {@code -Xms1g -Xmx1g -XX:+AlwaysPreTouch}. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(args);
            return;
        }
        List<String> cmd = MiniLmFiles.childJvm("1g", SoakBenchmark.class, "--child");
        cmd.add(1, "-Djava.awt.headless=true");
        cmd.addAll(List.of(args));
        System.out.println("(child JVM: -Xms1g -Xmx1g -XX:+AlwaysPreTouch)");
        System.exit(new ProcessBuilder(cmd).inheritIO().start().waitFor());
    }

    private static void child(String[] args) throws Exception {
        int steps = 10_000;
        int merges = 200;
        Path png = null;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--steps":
                    steps = Integer.parseInt(args[++i]);
                    break;
                case "--merges":
                    merges = Integer.parseInt(args[++i]);
                    break;
                case "--seq":
                    seq = Integer.parseInt(args[++i]);
                    break;
                case "--png":
                    png = Path.of(args[++i]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        System.out.printf(
                Locale.ROOT,
                "Soak: %,d LoRA steps on MiniLM (batch %d x %d), then %d merges; %d cores%n",
                steps,
                BATCH,
                seq,
                merges,
                Runtime.getRuntime().availableProcessors());
        List<long[]> training = train(steps);
        List<long[]> merging = merge(merges);
        double trainDrift = report("training", "step", training);
        double mergeDrift = report("merging", "merge", merging);
        if (png != null) {
            plot(png, training, merging);
            System.out.println("plot: " + png);
        }
        System.out.printf(
                Locale.ROOT,
                "drift after warm-up: training %+.2f%%, merging %+.2f%% (target within 5%%)%n",
                trainDrift,
                mergeDrift);
    }

    private static List<long[]> train(int steps) throws IOException {
        List<long[]> curve = new ArrayList<>();
        Engine.getInstance().setRandomSeed(3);
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("soak")) {
            BertForSequenceClassification clf = MiniLm.CLASSIFIER.load(manager, 2);
            model.setBlock(clf);
            PeftModel pm = PeftModel.create(clf, Methods.byName("lora").config().get());
            int examples = 10 * BATCH;
            ArrayDataset data =
                    new ArrayDataset.Builder()
                            .setData(
                                    manager.randomInteger(
                                            1000, 30000, new Shape(examples, seq), DataType.INT64),
                                    manager.ones(new Shape(examples, seq), DataType.INT64),
                                    manager.zeros(new Shape(examples, seq), DataType.INT64))
                            .optLabels(
                                    manager.randomInteger(
                                            0, 2, new Shape(examples), DataType.INT64))
                            .setSampling(BATCH, true)
                            .build();
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(pm.trainingLoss(Loss.softmaxCrossEntropyLoss()))
                            .optOptimizer(pm.config(PeftModel.DEFAULT).recommendedOptimizer());
            try (Trainer trainer = pm.newTrainer(model, cfg)) {
                curve.add(new long[] {0, MiniLmFiles.rssKiB()});
                TrainLoop.builder()
                        .setTrainer(trainer)
                        .setTrainData(data)
                        .optEpochs(Integer.MAX_VALUE)
                        .optMaxSteps(steps)
                        .optProgress(false)
                        .optOnStep(
                                (step, epoch, loss) -> {
                                    if (step % 100 == 0) {
                                        sample(curve, step);
                                    }
                                })
                        .build()
                        .run();
            }
        }
        return curve;
    }

    private static List<long[]> merge(int merges) throws IOException {
        List<long[]> curve = new ArrayList<>();
        Path dir = Files.createTempDirectory("soak-merge");
        try {
            Path base = MiniLmFiles.writeModel(dir.resolve("base"), 1, 0);
            List<Path> tuned = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                tuned.add(MiniLmFiles.writeModel(dir.resolve("tuned-" + i), 10 + i, 0.01));
            }
            curve.add(new long[] {0, MiniLmFiles.rssKiB()});
            TaskArithmetic ta = TaskArithmetic.builder().build();
            for (int m = 1; m <= merges; m++) {
                try (CheckpointReader b = CheckpointReader.open(base)) {
                    List<Candidate> cs = new ArrayList<>();
                    try {
                        for (int i = 0; i < tuned.size(); i++) {
                            cs.add(Candidate.open(tuned.get(i), "t" + i, b));
                        }
                        try (ModelFolderOutput out =
                                ModelFolderOutput.builder()
                                        .setDirectory(dir.resolve("merged"))
                                        .build()) {
                            ta.merge(b, cs, out);
                        }
                    } finally {
                        for (Candidate c : cs) {
                            c.close();
                        }
                    }
                }
                if (m % 10 == 0) {
                    sample(curve, m);
                }
            }
        } finally {
            MiniLmFiles.delete(dir);
        }
        return curve;
    }

    private static void sample(List<long[]> curve, long at) {
        try {
            curve.add(new long[] {at, MiniLmFiles.rssKiB()});
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Prints a curve; returns the largest drift after warm-up against the end of the warm-up, in %. */
    private static double report(String phase, String unit, List<long[]> curve) {
        long last = curve.get(curve.size() - 1)[0];
        long warmUp = Math.max(1, last / 10);
        long reference = -1;
        double drift = 0;
        System.out.printf(Locale.ROOT, "%s: %s, RSS kB%n", phase, unit);
        for (long[] p : curve) {
            System.out.printf(Locale.ROOT, "  %6d %,12d%n", p[0], p[1]);
            if (reference < 0 && p[0] >= warmUp) {
                reference = p[1];
            } else if (reference > 0) {
                double d = 100.0 * (p[1] - reference) / reference;
                drift = Math.abs(d) > Math.abs(drift) ? d : drift;
            }
        }
        return drift;
    }

    private static void plot(Path file, List<long[]> training, List<long[]> merging)
            throws IOException {
        int w = 1000;
        int h = 420;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        panel(g, 60, 40, w / 2 - 100, h - 110, training, "LoRA training steps", "RSS MiB");
        panel(g, w / 2 + 40, 40, w / 2 - 100, h - 110, merging, "merges", "RSS MiB");
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    private static void panel(
            Graphics2D g,
            int x0,
            int y0,
            int pw,
            int ph,
            List<long[]> curve,
            String xLabel,
            String yLabel) {
        long maxX = Math.max(1, curve.get(curve.size() - 1)[0]);
        double minY = Double.MAX_VALUE;
        double maxY = 0;
        for (long[] p : curve) {
            minY = Math.min(minY, p[1] / 1024.0);
            maxY = Math.max(maxY, p[1] / 1024.0);
        }
        double lo = Math.floor(minY * 0.9 / 100) * 100;
        double hi = Math.ceil(maxY * 1.1 / 100) * 100;
        g.setColor(Color.BLACK);
        g.drawRect(x0, y0, pw, ph);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString(xLabel, x0 + pw / 2 - 40, y0 + ph + 35);
        g.drawString(yLabel, x0, y0 - 10);
        for (int i = 0; i <= 4; i++) {
            double v = lo + (hi - lo) * i / 4;
            int y = y0 + ph - (int) (ph * i / 4.0);
            g.drawString(String.format(Locale.ROOT, "%.0f", v), x0 - 45, y + 4);
            g.drawString(String.valueOf(maxX * i / 4), x0 + pw * i / 4 - 10, y0 + ph + 16);
        }
        g.setColor(new Color(0x1f77b4));
        g.setStroke(new BasicStroke(2));
        int px = -1;
        int py = -1;
        for (long[] p : curve) {
            int x = x0 + (int) (pw * p[0] / (double) maxX);
            int y = y0 + ph - (int) (ph * (p[1] / 1024.0 - lo) / (hi - lo));
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            px = x;
            py = y;
        }
    }
}
