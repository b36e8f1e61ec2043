/**
 * Model merging, streaming tensor by tensor: memory holds the base tensor, the method's running
 * state for it and one candidate tensor at a time, whatever the number of models.
 *
 * <ul>
 *   <li>Inputs: the base as a {@link dev.peft4j.core.io.TensorSource} (a Hugging Face folder through
 *       {@link dev.peft4j.core.io.CheckpointReader}, memory-mapped, single or sharded), candidates as
 *       {@link dev.peft4j.merge.Candidate}s: {@link dev.peft4j.merge.ModelCandidate} (full
 *       fine-tunes) and {@link dev.peft4j.merge.AdapterCandidate} (adapter folders; LoRA task vectors
 *       stay factored as {@link dev.peft4j.merge.Delta.LowRank}). Every candidate is validated before
 *       any work; errors name the candidate and the tensor.
 *   <li>Methods ({@link dev.peft4j.merge.MergeMethod}): {@code ta} (task arithmetic, average),
 *       {@code ties}, {@code opcm} (continual), {@code fw} (FW-Merging with a proxy objective);
 *       {@link dev.peft4j.merge.MergeMethods} builds the first four by name.
 *   <li>Outputs ({@link dev.peft4j.merge.MergeOutput}): {@link dev.peft4j.merge.ModelFolderOutput}
 *       (sharded safetensors + index, the base's config and tokenizer files, published atomically),
 *       {@link dev.peft4j.merge.AdapterFolderOutput} (a LoRA adapter: exact factors or SVD
 *       truncation), {@link dev.peft4j.merge.MemoryOutput}.
 * </ul>
 *
 * <p>All arithmetic runs as NDArray operations on {@link dev.peft4j.merge.MergeContext#device()};
 * only scalars (norms, cosines) and the small factorizations of {@code dev.peft4j.core.linalg}
 * leave the device. DJL's {@code toDevice(d, true)} and {@code toType(t, true)} return an alias of
 * the input when nothing changes, so copies are made with {@code duplicate()}.
 *
 * <pre>{@code
 * try (CheckpointReader base = CheckpointReader.open(baseDir);
 *      Candidate a = Candidate.open(adapterA, "a", base);
 *      Candidate b = Candidate.open(adapterB, "b", base);
 *      MergeOutput out = ModelFolderOutput.builder().setDirectory(outDir).optCopyFilesFrom(baseDir).build()) {
 *     MergeReport r = Ties.builder().build().merge(base, List.of(a, b), out);
 *     r.summaryLines().forEach(System.out::println);
 * }
 * }</pre>
 */
package dev.peft4j.merge;
