package dev.peft4j.examples.bench;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.testing.SafeL2Loss;
import java.util.Locale;

/**
 * LoRA's cost on a 4-layer, width-1024 stack of Linear layers, batch 64, all in one run:
 * (a) a LoRA training step (r 8 on every Linear) against a full fine-tuning step (target ratio
 * at most 0.9: no base-weight gradients, no base-weight updates); (b) the unmerged LoRA forward
 * against the plain forward (at most 1.15); (c) the merged forward against the plain forward
 * (1.0 within noise). Same optimizer (Adam), same inputs; training: median step after warm-up;
 * inference: three models timed in interleaved rounds, the best per-round median of each.
 */
public final class LoraBenchmark {

    private static final int WIDTH = 1024;
    private static final int LAYERS = 4;
    private static final int BATCH = 64;

    private LoraBenchmark() {}

    /** Runs the benchmark; optional args: training reps, inference reps. */
    public static void main(String[] args) throws Exception {
        int trainReps = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int inferReps = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        Engine.getInstance().setRandomSeed(1);
        System.out.printf(
                Locale.ROOT,
                "LoRA benchmark: %d x Linear(%d), batch %d, %s, %d threads, OMP_WAIT_POLICY=%s"
                        + " GOMP_SPINCOUNT=%s%n",
                LAYERS,
                WIDTH,
                BATCH,
                Engine.getInstance().defaultDevice(),
                Runtime.getRuntime().availableProcessors(),
                System.getenv("OMP_WAIT_POLICY"),
                System.getenv("GOMP_SPINCOUNT"));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(BATCH, WIDTH));
            NDArray y = m.randomNormal(new Shape(BATCH, WIDTH));

            double full = trainStep(m, x, y, false, trainReps);
            double lora = trainStep(m, x, y, true, trainReps);

            // three separate models timed in interleaved rounds, so machine noise hits all of them
            // alike
            Block plainModel = stack(m);
            PeftModel unmergedModel = loraStack(m);
            PeftModel mergedModel = loraStack(m);
            mergedModel.merge();
            Block[] models = {plainModel, unmergedModel.root(), mergedModel.root()};
            double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
            for (Block b : models) {
                forward(b, x, 20);
            }
            int rounds = 5;
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < 3; i++) {
                    best[i] = Math.min(best[i], forward(models[i], x, inferReps / rounds));
                }
            }
            double plain = best[0];
            double unmerged = best[1];
            double merged = best[2];

            System.out.println(
                    BenchTimer.row("(a) full fine-tuning training step", full, full, "baseline"));
            System.out.println(
                    BenchTimer.row("(a) LoRA r 8 training step", lora, full, "target <= 0.90"));
            System.out.println(BenchTimer.row("(b) plain forward", plain, plain, "baseline"));
            System.out.println(
                    BenchTimer.row("(b) unmerged LoRA forward", unmerged, plain, "target <= 1.15"));
            System.out.println(
                    BenchTimer.row(
                            "(c) merged LoRA forward", merged, plain, "target 1.0 within noise"));
        }
    }

    private static Block stack(NDManager m) {
        SequentialBlock b = new SequentialBlock();
        for (int i = 0; i < LAYERS; i++) {
            b.add(Linear.builder().setUnits(WIDTH).build());
            if (i < LAYERS - 1) {
                b.add(Activation.reluBlock());
            }
        }
        b.initialize(m, DataType.FLOAT32, new Shape(BATCH, WIDTH));
        return b;
    }

    /** A stack with LoRA r 8 on every Linear and non-zero B. */
    private static PeftModel loraStack(NDManager m) {
        return PeftModel.create(
                stack(m),
                LoraConfig.builder()
                        .optRank(8)
                        .optAlpha(16)
                        .optInitLoraWeights("false")
                        .setTargetModules(TargetModules.allLinear())
                        .build());
    }

    private static double trainStep(NDManager m, NDArray x, NDArray y, boolean lora, int reps)
            throws Exception {
        Block block = stack(m);
        try (Model model = Model.newInstance(lora ? "lora" : "full")) {
            model.setBlock(block);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(new SafeL2Loss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-4f))
                                            .build());
            Trainer trainer;
            if (lora) {
                PeftModel pm =
                        PeftModel.create(
                                block,
                                LoraConfig.builder()
                                        .optRank(8)
                                        .optAlpha(16)
                                        .setTargetModules(TargetModules.allLinear())
                                        .build());
                trainer = pm.newTrainer(model, cfg);
            } else {
                trainer = model.newTrainer(cfg);
            }
            try (trainer) {
                return BenchTimer.medianMillis(
                        3,
                        reps,
                        () -> {
                            try (GradientCollector gc = trainer.newGradientCollector()) {
                                NDList pred = trainer.forward(new NDList(x));
                                NDArray loss = trainer.getLoss().evaluate(new NDList(y), pred);
                                gc.backward(loss);
                                pred.close();
                                loss.close();
                            }
                            trainer.step();
                        });
            }
        }
    }

    private static double forward(Block block, NDArray x, int reps) throws Exception {
        ParameterStore ps = new ParameterStore(x.getManager(), false);
        return BenchTimer.medianMillis(
                10,
                reps,
                () -> {
                    try (NDManager scope = x.getManager().newSubManager()) {
                        NDArray in = x.duplicate();
                        in.attach(scope);
                        NDList out = block.forward(ps, new NDList(in), false);
                        out.attach(scope);
                    }
                });
    }
}
