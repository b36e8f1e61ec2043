package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A fully fine-tuned model (a Hugging Face folder, single or sharded). Its tensors are matched to
 * the base's by name, or where the name is absent by the only tensor that differs from it by a
 * leading prefix ({@code bert.encoder...} in a fine-tuned classifier against {@code encoder...}
 * in the base encoder, or the other way round).
 */
public final class ModelCandidate implements Candidate {

    private final String name;
    private final TensorSource source;
    private final String location;
    private final List<String> ignored = new ArrayList<>();
    private final Map<String, String> keyOf = new HashMap<>();

    /**
     * Wraps a tensor source.
     *
     * @param name the short name
     * @param source its tensors (closed with this candidate)
     * @param location where it comes from, for messages
     */
    public ModelCandidate(String name, TensorSource source, String location) {
        this.name = name;
        this.source = source;
        this.location = location;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String describe() {
        return "'" + name + "' (" + location + ")";
    }

    /** Every floating-point base tensor must be present with the same shape; extra tensors are ignored. */
    @Override
    public void validate(TensorSource base) {
        List<String> missing = new ArrayList<>();
        keyOf.clear();
        Set<String> used = new HashSet<>();
        for (String key : base.keys()) {
            TensorInfo info = base.info(key);
            String own = TensorNames.match(key, source);
            if (own != null) {
                used.add(own);
            }
            if (!info.dtype().isFloating()) {
                continue; // integer buffers are copied from the base
            }
            if (own == null) {
                missing.add(key);
                continue;
            }
            keyOf.put(key, own);
            TensorChecks.requireSameShape(this, own, info.shape(), source.info(own).shape());
        }
        if (!missing.isEmpty()) {
            String hint = "";
            try {
                source.info(missing.get(0));
            } catch (IllegalArgumentException e) {
                hint = " (" + e.getMessage() + ")";
            }
            throw new IllegalArgumentException(
                    "candidate "
                            + describe()
                            + ": missing tensor '"
                            + missing.get(0)
                            + "'"
                            + (missing.size() > 1 ? " and " + (missing.size() - 1) + " more" : "")
                            + " that the base has"
                            + hint);
        }
        ignored.clear();
        for (String key : source.keys()) {
            if (!used.contains(key) && !base.contains(key)) {
                ignored.add(key);
            }
        }
    }

    @Override
    public Delta taskVector(String key, NDArray theta0, NDManager manager) throws IOException {
        return Delta.dense(
                weights(key, theta0, manager).subi(theta0)); // in place: no second model-size array
    }

    /** The stored tensor itself, as float32 (exact: no {@code theta0 + (theta_t - theta0)} rounding). */
    @Override
    public NDArray weights(String key, NDArray theta0, NDManager manager) throws IOException {
        String own = keyOf.getOrDefault(key, key);
        TensorChecks.requireSameShape(this, own, theta0.getShape(), source.info(own).shape());
        return TensorChecks.loadFinite(this, source, own, theta0, manager);
    }

    /**
     * Adds the stored tensor matching base tensor {@code key}, as float32, into {@code acc}: one
     * read of the stored data where the file is mapped. Not checked for NaN or Inf: the caller
     * checks the sum and, when it is not finite, {@link #weights} names the candidate.
     */
    public void addWeightsInto(String key, NDArray acc) throws IOException {
        String own = keyOf.getOrDefault(key, key);
        TensorChecks.requireSameShape(this, own, acc.getShape(), source.info(own).shape());
        source.addInto(own, acc);
    }

    @Override
    public List<String> ignoredTensors() {
        return List.copyOf(ignored);
    }

    @Override
    public void close() throws IOException {
        source.close();
    }
}
