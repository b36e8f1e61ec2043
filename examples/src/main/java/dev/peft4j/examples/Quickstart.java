package dev.peft4j.examples;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.train.TrainLoop;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The smallest end-to-end LoRA run, on built-in data: pre-train an MLP on two spirals, see it fail
 * on the same spirals rotated by 90 degrees, fine-tune a LoRA adapter (the base stays frozen),
 * save it as a PEFT adapter folder, reload it onto a fresh copy of the base and check that the
 * predictions are the same.
 */
public final class Quickstart {

    private static final int FEATURES = 64;
    private static final int BATCH = 64;

    private Quickstart() {}

    /** Runs the quickstart; the optional argument is the output folder (default runs/quickstart). */
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "runs/quickstart");
        run(out);
    }

    /** Runs the quickstart writing the adapter under {@code out}. */
    public static void run(Path out) throws Exception {
        Engine.getInstance().setRandomSeed(42); // weight init and batch shuffling
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("mlp")) {
            float[][] freq = fourierFrequencies(new SplittableRandom(7));
            Data a = spirals(manager, freq, 0, 4000, 1);
            Data b = spirals(manager, freq, Math.PI / 2, 4000, 2);
            Block block = mlp();
            block.initialize(manager, DataType.FLOAT32, new Shape(BATCH, FEATURES));
            model.setBlock(block);
            System.out.println("1. Pre-training a 3-layer MLP (all parameters) on two spirals ...");
            try (Trainer t = model.newTrainer(config(1e-2f))) {
                train(t, a, 12, null);
            }
            System.out.printf(
                    Locale.ROOT,
                    "   accuracy: spirals %.1f%%, rotated spirals %.1f%%%n",
                    accuracy(block, a.testX, a.testY),
                    accuracy(block, b.testX, b.testY));
            List<NDArray> baseWeights = copyWeights(block, manager);

            System.out.println(
                    "2. LoRA (r 8, alpha 16) on every Linear, fine-tuned on the rotated spirals"
                            + " ...");
            PeftModel pm =
                    PeftModel.create(
                            block,
                            LoraConfig.builder()
                                    .optRank(8)
                                    .optAlpha(16)
                                    .setTargetModules("0", "2", "4")
                                    .build());
            System.out.println("   " + pm.trainableSummary());
            try (Trainer t = pm.newTrainer(model, config(1e-3f))) {
                train(
                        t,
                        b,
                        8,
                        (step, epoch, loss) -> {
                            if (step <= 10 || step % 50 == 0 && step <= 200 || step % 100 == 0) {
                                System.out.printf(
                                        Locale.ROOT, "   step %4d  loss %.4f%n", step, loss);
                            }
                        });
            }
            NDArray adapted = predict(block, b.testX);
            System.out.printf(
                    Locale.ROOT,
                    "   accuracy on rotated spirals with the adapter: %.1f%%%n",
                    accuracy(block, b.testX, b.testY));

            Path dir = out.resolve("adapter");
            pm.save(dir);
            System.out.println("3. Saved the adapter (PEFT layout) to " + dir.toAbsolutePath());

            Block fresh = mlp();
            fresh.initialize(manager, DataType.FLOAT32, new Shape(BATCH, FEATURES));
            setWeights(fresh, baseWeights);
            PeftModel reloaded = PeftModel.load(fresh, dir);
            NDArray again = predict(reloaded.root(), b.testX);
            long same = adapted.argMax(1).eq(again.argMax(1)).sum().getLong();
            float diff = adapted.sub(again).abs().max().getFloat();
            System.out.printf(
                    Locale.ROOT,
                    "4. Reloaded onto a fresh base: %d/%d identical predictions,"
                            + " max |logit difference| %.2e, accuracy %.1f%%%n",
                    same,
                    b.testY.size(),
                    diff,
                    accuracy(reloaded.root(), b.testX, b.testY));
        }
    }

    private static Block mlp() {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(128).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(128).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(2).build());
    }

    private static DefaultTrainingConfig config(float lr) {
        return new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(lr)).build());
    }

    private static void train(Trainer trainer, Data d, int epochs, TrainLoop.StepListener onStep) {
        ArrayDataset ds =
                new ArrayDataset.Builder()
                        .setData(d.trainX)
                        .optLabels(d.trainY)
                        .setSampling(BATCH, true)
                        .build();
        TrainLoop.builder()
                .setTrainer(trainer)
                .setTrainData(ds)
                .optEpochs(epochs)
                .optProgress(false)
                .optOnStep(onStep)
                .build()
                .run();
    }

    /** Random Fourier features make spirals learnable by a small MLP. */
    private static float[][] fourierFrequencies(SplittableRandom rnd) {
        float[][] w = new float[FEATURES / 2][2];
        for (float[] row : w) {
            row[0] = (float) (rnd.nextGaussian() * 2);
            row[1] = (float) (rnd.nextGaussian() * 2);
        }
        return w;
    }

    /** Labelled points of two interleaved spirals rotated by {@code angle}; 3/4 train, 1/4 test. */
    private static Data spirals(NDManager m, float[][] freq, double angle, int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n * FEATURES];
        float[] y = new float[n];
        for (int i = 0; i < n; i++) {
            int label = i % 2;
            double t = rnd.nextDouble() * 3 * Math.PI + 0.5;
            double r = t / (3 * Math.PI);
            double px = r * Math.cos(t + label * Math.PI) + rnd.nextGaussian() * 0.02;
            double py = r * Math.sin(t + label * Math.PI) + rnd.nextGaussian() * 0.02;
            double qx = px * Math.cos(angle) - py * Math.sin(angle);
            double qy = px * Math.sin(angle) + py * Math.cos(angle);
            for (int f = 0; f < freq.length; f++) {
                double z = freq[f][0] * qx + freq[f][1] * qy;
                x[i * FEATURES + 2 * f] = (float) Math.cos(Math.PI * z);
                x[i * FEATURES + 2 * f + 1] = (float) Math.sin(Math.PI * z);
            }
            y[i] = label;
        }
        int train = n * 3 / 4;
        NDArray all = m.create(x, new Shape(n, FEATURES));
        NDArray labels = m.create(y);
        return new Data(
                all.get("0:" + train),
                labels.get("0:" + train),
                all.get(train + ":"),
                labels.get(train + ":"));
    }

    private record Data(NDArray trainX, NDArray trainY, NDArray testX, NDArray testY) {}

    private static NDArray predict(Block block, NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false)
                .singletonOrThrow();
    }

    private static double accuracy(Block block, NDArray x, NDArray y) {
        NDArray pred = predict(block, x).argMax(1).toType(DataType.FLOAT32, false);
        return 100.0 * pred.eq(y).sum().getLong() / y.size();
    }

    private static List<NDArray> copyWeights(Block block, NDManager m) {
        List<NDArray> out = new ArrayList<>();
        for (Parameter p : block.getParameters().values()) {
            out.add(p.getArray().duplicate());
        }
        return out;
    }

    private static void setWeights(Block block, List<NDArray> weights) {
        int i = 0;
        for (Parameter p : block.getParameters().values()) {
            p.getArray().set(weights.get(i++).toFloatArray());
        }
    }
}
