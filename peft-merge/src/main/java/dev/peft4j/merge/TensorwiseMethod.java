package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A merge computed independently per tensor (task arithmetic, TIES, averaging): one pass over the
 * base, each tensor reading the candidates one after another, so memory holds the base tensor,
 * the method's running state for it and one candidate tensor.
 */
public abstract class TensorwiseMethod implements MergeMethod {

    /**
     * The merged change of one tensor.
     *
     * @param theta0 the base tensor (float32, merge device)
     * @param candidates the candidates, to be read one at a time with {@link Candidate#taskVector}
     * @param scope owns the result and temporaries (closed after the tensor is written)
     */
    public abstract Delta mergeTensor(
            String key, NDArray theta0, List<? extends Candidate> candidates, NDManager scope)
            throws IOException;

    @Override
    public final MergeReport merge(
            TensorSource base,
            List<? extends Candidate> candidates,
            MergeOutput output,
            MergeContext context)
            throws IOException {
        long start = System.nanoTime();
        List<String> notes = TensorLoop.validate(base, candidates);
        int[] changed = {0};
        try (NDManager root = NDManager.newBaseManager(context.device())) {
            TensorLoop.run(
                    base,
                    root,
                    context.listener(),
                    "merging " + candidates.size() + " models (" + name() + ")",
                    (key, theta0, scope) -> {
                        Delta d = mergeTensor(key, theta0, candidates, scope);
                        changed[0] += d.isZero() ? 0 : 1;
                        output.write(key, theta0, d, base.info(key).dtype());
                    },
                    (key, raw, scope) -> output.write(key, raw, Delta.zero(), raw.getDataType()));
        }
        output.commit();
        return new MergeReport(
                name(),
                options(),
                candidates.stream().map(Candidate::name).toList(),
                base.keys().size(),
                changed[0],
                (System.nanoTime() - start) / 1e9,
                output.describe(),
                output.bytes(),
                new LinkedHashMap<>(),
                notes);
    }
}
