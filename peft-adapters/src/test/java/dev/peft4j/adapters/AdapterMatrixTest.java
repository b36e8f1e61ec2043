package dev.peft4j.adapters;

import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.bone.BoneConfig;
import dev.peft4j.adapters.flora.FloraConfig;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.nola.NolaConfig;
import dev.peft4j.adapters.pego.PegoConfig;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.testing.AdapterChecks.MethodRow;
import dev.peft4j.core.testing.AdapterMatrix;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The generic test matrix (see {@link AdapterMatrix}) for this module's methods. A new method joins
 * by adding its row to {@link #rows()}.
 */
class AdapterMatrixTest extends AdapterMatrix {

    /** One row per method: name, config for a model's target names, trainable count per layer. */
    static List<MethodRow> rows() {
        List<MethodRow> rows = new ArrayList<>();
        rows.add(
                new MethodRow(
                        "lora",
                        t ->
                                LoraConfig.builder()
                                        .optRank(4)
                                        .optAlpha(8)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> 4L * (base.outFeatures() + base.inFeatures())));
        rows.add(
                new MethodRow(
                        "lora-rslora-patterns",
                        t ->
                                LoraConfig.builder()
                                        .optRank(2)
                                        .optAlpha(4)
                                        .optUseRslora(true)
                                        .optDropout(0.1)
                                        .optRankPattern(Map.of(t.get(0), 3))
                                        .optAlphaPattern(Map.of(t.get(0), 7.5))
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) ->
                                (path.endsWith(firstTarget(path)) ? 3L : 2L)
                                        * (base.outFeatures() + base.inFeatures())));
        // Bone: r = 5 divides no input width of the tiny models, so every layer has a zero-padded
        // tail block
        rows.add(
                new MethodRow(
                        "bone",
                        t ->
                                BoneConfig.builder()
                                        .optRank(5)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> 5L * base.outFeatures()));
        rows.add(
                new MethodRow(
                        "bat",
                        t ->
                                BoneConfig.builder()
                                        .optRank(4)
                                        .optVariant(BoneConfig.Variant.BAT)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> (base.outFeatures() / 4) * 4L * 4L));
        // NOLA: the count is k_A + k_B whatever the layer; chunks of 5 leave a partial last chunk
        rows.add(
                new MethodRow(
                        "nola",
                        t ->
                                NolaConfig.builder()
                                        .optRank(3)
                                        .optAlpha(6)
                                        .optNumBases(12, 7)
                                        .optSeed(3)
                                        .optBasisChunk(5)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> 12L + 7L));
        rows.add(
                new MethodRow(
                        "flora",
                        t ->
                                FloraConfig.builder()
                                        .optRank(3)
                                        .optScale(2)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> floraCount(base.weightShape(), 3)));
        rows.add(
                new MethodRow(
                        "pego",
                        t ->
                                PegoConfig.builder()
                                        .optRank(2)
                                        .optNumLoras(3)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> 3L * 2 * (base.outFeatures() + base.inFeatures())));
        return rows;
    }

    // methods.md: prod(r_i) + sum(dims_i r_i), modes [in / groups, out, kh, kw], kernel modes at
    // full rank
    private static long floraCount(Shape weight, int r) {
        long prod = (long) r * r;
        long sum = r * (weight.get(0) + weight.get(1));
        for (int k = 2; k < weight.dimension(); k++) {
            prod *= weight.get(k);
            sum += weight.get(k) * weight.get(k);
        }
        return prod + sum;
    }

    // the first target of both tiny models ("0" / "query") selects the pattern rank 3
    private static String firstTarget(String path) {
        return path.equals("0") ? "0" : "query";
    }

    @Override
    protected List<MethodRow> methodRows() {
        return rows();
    }
}
