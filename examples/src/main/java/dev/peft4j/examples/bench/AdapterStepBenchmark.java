package dev.peft4j.examples.bench;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.google.gson.JsonObject;
import com.sun.management.OperatingSystemMXBean;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.SafeL2Loss;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertModel;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * One training step of every adapter method against LoRA r 8, on a randomly initialized
 * {@link BertModel} with MiniLM-L6-H384's config (6 layers, hidden 384, 12 heads, MLP 1536,
 * dropout 0.1), random token ids, batch 16 x sequence 128, adapters on {@code query} and
 * {@code value}, L2 loss on the last hidden states against random targets, Adam.
 * Each method's trainable count is printed beside its median step time and its ratio to LoRA
 * (target at most 1.5, Bat reported only: it builds {@code W + dW} every step).
 *
 * <p>All methods train side by side, one step each in turn, so machine noise hits them alike; the
 * process's CPU time per step is printed too, steadier than wall time when other jobs share the
 * cores. The methods are the {@link MethodCatalogue}'s; a method joins with its catalogue row.
 */
public final class AdapterStepBenchmark {

    /** sentence-transformers/all-MiniLM-L6-v2's {@code config.json}, the architecture part. */
    private static final String MINILM =
            "{\"model_type\": \"bert\", \"hidden_size\": 384, \"num_hidden_layers\": 6,"
                + " \"num_attention_heads\": 12, \"intermediate_size\": 1536, \"hidden_act\":"
                + " \"gelu\", \"hidden_dropout_prob\": 0.1, \"attention_probs_dropout_prob\": 0.1,"
                + " \"vocab_size\": 30522, \"max_position_embeddings\": 512, \"type_vocab_size\":"
                + " 2, \"layer_norm_eps\": 1e-12}";

    private static final BertConfig CONFIG = BertConfig.parse(MINILM);
    private static final int BATCH = 16;
    private static final int SEQ = 128;
    private static final List<String> TARGETS = List.of("query", "value");
    private static final OperatingSystemMXBean CPU =
            (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private AdapterStepBenchmark() {}

    /**
     * One benchmarked method: a name, its config for the target modules, whether its training
     * regularizer (PEGO's) is part of the step, and its bound on the ratio to LoRA (null: reported
     * only).
     */
    record Method(
            String name, Supplier<AdapterConfig> config, boolean regularized, Double target) {}

    /**
     * The catalogue's peft-adapters rows at the MiniLM budget, LoRA first (the baseline); a method
     * with a training regularizer runs a second time with the task loss only (reported).
     */
    static List<Method> methods() {
        List<Method> out = new ArrayList<>();
        for (Entry e : MethodCatalogue.budgetRows()) {
            if (e.module() != MethodCatalogue.Module.ADAPTERS) {
                continue;
            }
            Supplier<AdapterConfig> config = () -> e.budgetConfig(TARGETS, new JsonObject());
            String name = e.name() + " " + e.budget();
            out.add(new Method(name, config, true, e.stepRatioTarget()));
            if (hasRegularizer(config.get())) {
                out.add(new Method(name + ", task loss only", config, false, null));
            }
        }
        return out;
    }

    private static boolean hasRegularizer(AdapterConfig config) {
        try (NDManager m = NDManager.newBaseManager()) {
            Block bert = new BertModel(CONFIG, false);
            bert.initialize(m, DataType.FLOAT32, new Shape(1, 8));
            PeftModel pm = PeftModel.create(bert, config);
            Loss task = new SafeL2Loss();
            return pm.trainingLoss(task) != task;
        }
    }

    /**
     * Runs the benchmark; optional args: timed steps per method (default 20) and a comma-separated
     * list of name prefixes to run (LoRA always runs, as the baseline).
     */
    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        List<String> only = args.length > 1 ? Arrays.asList(args[1].split(",")) : List.of("");
        Engine.getInstance().setRandomSeed(1);
        System.out.printf(
                Locale.ROOT,
                "Adapter step benchmark: random MiniLM-L6-H384 (BertModel), batch %d x %d, "
                        + "targets %s, Adam; %s, %d processors%n",
                BATCH,
                SEQ,
                TARGETS,
                Engine.getInstance().defaultDevice(),
                Runtime.getRuntime().availableProcessors());
        List<Method> methods = new ArrayList<>();
        for (Method method : methods()) {
            if (methods.isEmpty() || only.stream().anyMatch(method.name()::startsWith)) {
                methods.add(method);
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x =
                    m.randomInteger(0, CONFIG.vocabSize(), new Shape(BATCH, SEQ), DataType.INT64);
            NDArray y = m.randomNormal(new Shape(BATCH, SEQ, CONFIG.hiddenSize()));
            List<Run> runs = new ArrayList<>();
            for (Method method : methods) {
                runs.add(new Run(method, m));
            }
            try {
                for (Run run : runs) {
                    for (int i = 0; i < 3; i++) {
                        run.step(x, y); // warm-up: allocator, optimizer state, lazily built bases
                    }
                }
                for (int i = 0; i < steps; i++) {
                    for (Run run : runs) {
                        run.timedStep(x, y);
                    }
                }
                report(runs);
            } finally {
                for (Run run : runs) {
                    run.close();
                }
            }
        }
    }

    /** Median wall and process-CPU time per step and their ratios to LoRA's. */
    private static void report(List<Run> runs) {
        double loraWall = median(runs.get(0).wall);
        double loraCpu = median(runs.get(0).cpu);
        System.out.printf(
                Locale.ROOT,
                "%-34s %10s %10s %7s %10s %7s   %s%n",
                "method",
                "trainable",
                "wall ms",
                "ratio",
                "cpu ms",
                "ratio",
                "target (wall ratio)");
        for (Run run : runs) {
            double wall = median(run.wall);
            double cpu = median(run.cpu);
            double ratio = wall / loraWall;
            Double target = run.method.target();
            String verdict =
                    run == runs.get(0)
                            ? "baseline"
                            : target == null
                                    ? "reported only"
                                    : String.format(
                                            Locale.ROOT,
                                            "<= %.1f %s",
                                            target,
                                            ratio <= target ? "ok" : "MISSED");
            System.out.printf(
                    Locale.ROOT,
                    "%-34s %,10d %10.1f %7.3f %10.1f %7.3f   %s%n",
                    run.method.name(),
                    run.trainable,
                    wall,
                    ratio,
                    cpu,
                    cpu / loraCpu,
                    verdict);
        }
    }

    private static double median(List<Double> values) {
        double[] t = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }

    /** One method's model, trainer and step times. */
    private static final class Run implements AutoCloseable {
        final Method method;
        final List<Double> wall = new ArrayList<>();
        final List<Double> cpu = new ArrayList<>();
        final long trainable;
        private final Model model;
        private final Trainer trainer;

        Run(Method method, NDManager manager) {
            this.method = method;
            Block bert = new BertModel(CONFIG, false);
            bert.initialize(manager, DataType.FLOAT32, new Shape(BATCH, SEQ));
            PeftModel pm = PeftModel.create(bert, method.config().get());
            this.trainable = pm.trainableParameterCount();
            this.model = Model.newInstance(method.name());
            model.setBlock(bert);
            Loss loss = method.regularized() ? pm.trainingLoss(new SafeL2Loss()) : new SafeL2Loss();
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(loss)
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-4f))
                                            .build());
            this.trainer = pm.newTrainer(model, cfg);
        }

        /** One step, recording its wall time and the process's CPU time (all threads) in milliseconds. */
        void timedStep(NDArray x, NDArray y) {
            long cpuStart = CPU.getProcessCpuTime();
            long start = System.nanoTime();
            step(x, y);
            wall.add((System.nanoTime() - start) / 1e6);
            cpu.add((CPU.getProcessCpuTime() - cpuStart) / 1e6);
        }

        /** One training step on {@code x} and labels {@code y}. */
        void step(NDArray x, NDArray y) {
            try (NDManager scope = x.getManager().newSubManager()) {
                // copies in the step's manager, so every intermediate of the step is freed with it
                NDArray in = x.duplicate();
                in.attach(scope);
                NDArray target = y.duplicate();
                target.attach(scope);
                NDList labels = new NDList(target);
                try (GradientCollector gc = trainer.newGradientCollector()) {
                    NDList pred = trainer.forward(new NDList(in));
                    NDArray loss = trainer.getLoss().evaluate(labels, pred);
                    gc.backward(loss);
                }
                trainer.step();
            }
        }

        @Override
        public void close() {
            trainer.close();
            model.close();
        }
    }
}
