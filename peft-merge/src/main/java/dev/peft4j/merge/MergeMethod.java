package dev.peft4j.merge;

import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * A model merging method: combines the candidates' task vectors with the base, streaming tensor by
 * tensor, and writes the result to an output it commits when done.
 *
 * <pre>{@code
 * try (CheckpointReader base = CheckpointReader.open(baseDir);
 *      Candidate a = Candidate.open(dirA, "a", base); Candidate b = Candidate.open(dirB, "b", base);
 *      ModelFolderOutput out = ModelFolderOutput.builder().setDirectory(outDir).optCopyFilesFrom(baseDir).build()) {
 *     MergeReport report = Ties.builder().optK(0.2).build().merge(base, List.of(a, b), out);
 * }
 * }</pre>
 */
public interface MergeMethod {

    /** The method's name ({@code task_arithmetic}, {@code ties}, {@code opcm}...). */
    String name();

    /** The options in effect, for reports. */
    Map<String, Object> options();

    /**
     * Merges the candidates into {@code base} and commits {@code output}.
     *
     * @throws IllegalArgumentException naming the candidate and tensor for bad input; the output is
     *     then left uncommitted
     */
    MergeReport merge(
            TensorSource base,
            List<? extends Candidate> candidates,
            MergeOutput output,
            MergeContext context)
            throws IOException;

    /** Merges with {@link MergeContext#defaults()}. */
    default MergeReport merge(
            TensorSource base, List<? extends Candidate> candidates, MergeOutput output)
            throws IOException {
        return merge(base, candidates, output, MergeContext.defaults());
    }
}
