package dev.peft4j.core.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.Scalars;
import dev.peft4j.core.tree.LookupTable;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Small seeded models for the generic adapter tests. */
public final class TinyModels {

    private TinyModels() {}

    /** A model, the shape of its input, and module names to target. */
    public record TinyModel(String name, Block block, Shape inputShape, List<String> targets) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** A 3-layer MLP as a {@link SequentialBlock} (module paths {@code 0}, {@code 2}, {@code 4}). */
    public static TinyModel mlp(NDManager manager, long seed) {
        SequentialBlock b =
                new SequentialBlock()
                        .add(Linear.builder().setUnits(16).build())
                        .add(Activation.reluBlock())
                        .add(Linear.builder().setUnits(12).build())
                        .add(Activation.reluBlock())
                        .add(Linear.builder().setUnits(4).build());
        Shape in = new Shape(5, 8);
        init(b, manager, in, seed);
        return new TinyModel("mlp", b, in, List.of("0", "2"));
    }

    /**
     * A 2-layer transformer-like user block that keeps its layers in {@code Linear}-typed fields
     * (module paths {@code embed}, {@code layers.0.query}, ..., {@code head}).
     */
    public static TinyModel transformer(NDManager manager, long seed) {
        TinyTransformer b = new TinyTransformer(12, 2, 6);
        Shape in = new Shape(3, 4, 10);
        init(b, manager, in, seed);
        return new TinyModel("transformer", b, in, List.of("query", "value", "fc1"));
    }

    /**
     * A small CNN as a {@link SequentialBlock}: a 3x3 convolution with stride 2 and padding 1
     * (path {@code 0}), a 3x2 convolution with dilation (2, 1), padding (2, 1) and 2 groups
     * ({@code 2}), then flatten and a Linear head ({@code 5}). Kernel, input and image are not square
     * so that swapped axes show up in tests.
     */
    public static TinyModel cnn(NDManager manager, long seed) {
        SequentialBlock b =
                new SequentialBlock()
                        .add(
                                Conv2d.builder()
                                        .setKernelShape(new Shape(3, 3))
                                        .setFilters(4)
                                        .optStride(new Shape(2, 2))
                                        .optPadding(new Shape(1, 1))
                                        .build())
                        .add(Activation.reluBlock())
                        .add(
                                Conv2d.builder()
                                        .setKernelShape(new Shape(3, 2))
                                        .setFilters(6)
                                        .optDilation(new Shape(2, 1))
                                        .optPadding(new Shape(2, 1))
                                        .optGroups(2)
                                        .build())
                        .add(Activation.reluBlock())
                        .add(Blocks.batchFlattenBlock())
                        .add(Linear.builder().setUnits(5).build());
        Shape in = new Shape(2, 3, 8, 6);
        init(b, manager, in, seed);
        return new TinyModel("cnn", b, in, List.of("0", "2", "5"));
    }

    /**
     * A CNN with the convolutions PEFT's Conv2d LoRA adapts (one group, no dilation): a 3x2
     * convolution with stride (2, 1) and padding (1, 0) (path {@code 0}), a 1x1 convolution
     * ({@code 2}), then flatten and a Linear head ({@code 5}).
     */
    public static TinyModel convnet(NDManager manager, long seed) {
        SequentialBlock b =
                new SequentialBlock()
                        .add(
                                Conv2d.builder()
                                        .setKernelShape(new Shape(3, 2))
                                        .setFilters(4)
                                        .optStride(new Shape(2, 1))
                                        .optPadding(new Shape(1, 0))
                                        .build())
                        .add(Activation.reluBlock())
                        .add(Conv2d.builder().setKernelShape(new Shape(1, 1)).setFilters(5).build())
                        .add(Activation.reluBlock())
                        .add(Blocks.batchFlattenBlock())
                        .add(Linear.builder().setUnits(3).build());
        Shape in = new Shape(2, 3, 7, 5);
        init(b, manager, in, seed);
        return new TinyModel("convnet", b, in, List.of("0", "2", "5"));
    }

    /**
     * A lookup table between two layers: inputs in [-1, 1) are turned into ids {@code 0..9} (path
     * {@code 0}, not differentiable, as ids are not), looked up in a table {@code [10, 6]} ({@code
     * 1}) and fed to a Linear ({@code 2}).
     */
    public static TinyModel embedder(NDManager manager, long seed) {
        int rows = 10;
        SequentialBlock b =
                new SequentialBlock()
                        .add(
                                new LambdaBlock(
                                        in ->
                                                new NDList(
                                                        in.head()
                                                                .add(1)
                                                                .mul(rows / 2.0)
                                                                .floor()
                                                                .clip(0, rows - 1)
                                                                .toType(DataType.INT64, false)),
                                        "ids"))
                        .add(new LookupTable(rows, 6))
                        .add(Linear.builder().setUnits(4).build());
        Shape in = new Shape(3, 5);
        init(b, manager, in, seed);
        return new TinyModel("embedder", b, in, List.of("1", "2"));
    }

    /** Initializes a block and overwrites every parameter with seeded uniform values. */
    public static void init(Block block, NDManager manager, Shape input, long seed) {
        init(block, manager, input, seed, DataType.FLOAT32);
    }

    /** {@link #init(Block, NDManager, Shape, long)} with parameters of {@code type} (float16...). */
    public static void init(Block block, NDManager manager, Shape input, long seed, DataType type) {
        block.initialize(manager, type, input);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (Parameter p : block.getParameters().values()) {
            NDArray a = p.getArray();
            float[] v = new float[(int) a.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextDouble() - 0.5);
            }
            if (type == DataType.FLOAT32) {
                a.set(v);
            } else {
                try (NDArray f = manager.create(v, a.getShape());
                        NDArray t = f.toType(type, false)) {
                    a.set(new ai.djl.ndarray.index.NDIndex("..."), t);
                }
            }
        }
    }

    /** A seeded uniform input of a shape. */
    public static NDArray input(NDManager manager, Shape shape, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return manager.create(v, shape);
    }

    /** Runs a block in inference mode. */
    public static NDArray forward(Block block, NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false)
                .singletonOrThrow();
    }

    /** A list of blocks named "0", "1", ... like {@code nn.ModuleList}. */
    static final class ModuleList extends AbstractBlock {
        final List<Block> items = new ArrayList<>();

        ModuleList(List<? extends Block> blocks) {
            for (int i = 0; i < blocks.size(); i++) {
                items.add(addChildBlock(String.valueOf(i), blocks.get(i)));
            }
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps,
                NDList inputs,
                boolean training,
                PairList<String, Object> params) {
            throw new UnsupportedOperationException("ModuleList is a container");
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    /** Attention + MLP with residuals and LayerNorm, its projections in typed fields. */
    static final class TinyLayer extends AbstractBlock {
        private Linear query;
        private Linear key;
        private Linear value;
        private final Linear dense;
        private final Linear fc1;
        private final Linear fc2;
        private final LayerNorm norm;
        private final int d;

        TinyLayer(int d, int ff) {
            this.d = d;
            query = addChildBlock("query", Linear.builder().setUnits(d).build());
            key = addChildBlock("key", Linear.builder().setUnits(d).build());
            value = addChildBlock("value", Linear.builder().setUnits(d).build());
            dense = addChildBlock("dense", Linear.builder().setUnits(d).build());
            fc1 = addChildBlock("fc1", Linear.builder().setUnits(ff).build());
            fc2 = addChildBlock("fc2", Linear.builder().setUnits(d).build());
            norm = addChildBlock("norm", LayerNorm.builder().build());
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps,
                NDList inputs,
                boolean training,
                PairList<String, Object> params) {
            NDArray x = inputs.singletonOrThrow();
            NDArray q = query.forward(ps, new NDList(x), training).singletonOrThrow();
            NDArray k = key.forward(ps, new NDList(x), training).singletonOrThrow();
            NDArray v = value.forward(ps, new NDList(x), training).singletonOrThrow();
            NDArray att =
                    Scalars.div(q.matMul(k.transpose(0, 2, 1)), Math.sqrt(d)).softmax(-1).matMul(v);
            NDArray h = x.add(dense.forward(ps, new NDList(att), training).singletonOrThrow());
            h = norm.forward(ps, new NDList(h), training).singletonOrThrow();
            NDArray f = fc1.forward(ps, new NDList(h), training).singletonOrThrow();
            f = Activation.relu(f);
            return new NDList(h.add(fc2.forward(ps, new NDList(f), training).singletonOrThrow()));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }

        @Override
        protected void initializeChildBlocks(
                NDManager manager, DataType dataType, Shape... inputShapes) {
            Shape s = inputShapes[0];
            for (Block b : new Block[] {query, key, value, dense}) {
                b.initialize(manager, dataType, s);
            }
            norm.initialize(manager, dataType, s);
            fc1.initialize(manager, dataType, s);
            fc2.initialize(manager, dataType, fc1.getOutputShapes(new Shape[] {s})[0]);
        }
    }

    /** Embedding projection, a ModuleList of layers, mean pooling and a head. */
    static final class TinyTransformer extends AbstractBlock {
        private final Linear embed;
        private final ModuleList layers;
        private final Linear head;
        private final int outputs;

        TinyTransformer(int d, int nLayers, int outputs) {
            this.outputs = outputs;
            embed = addChildBlock("embed", Linear.builder().setUnits(d).build());
            List<TinyLayer> ls = new ArrayList<>();
            for (int i = 0; i < nLayers; i++) {
                ls.add(new TinyLayer(d, 2 * d));
            }
            layers = addChildBlock("layers", new ModuleList(ls));
            head = addChildBlock("head", Linear.builder().setUnits(outputs).build());
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps,
                NDList inputs,
                boolean training,
                PairList<String, Object> params) {
            NDArray x = embed.forward(ps, inputs, training).singletonOrThrow();
            for (Block layer : layers.items) {
                x = layer.forward(ps, new NDList(x), training).singletonOrThrow();
            }
            return head.forward(ps, new NDList(x.mean(new int[] {1})), training);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(inputShapes[0].get(0), outputs)};
        }

        @Override
        protected void initializeChildBlocks(
                NDManager manager, DataType dataType, Shape... inputShapes) {
            embed.initialize(manager, dataType, inputShapes[0]);
            Shape h = embed.getOutputShapes(inputShapes)[0];
            for (Block layer : layers.items) {
                layer.initialize(manager, dataType, h);
            }
            head.initialize(manager, dataType, new Shape(h.get(0), h.get(2)));
        }
    }
}
