/**
 * OPCM, orthogonal-projection continual merging: {@link dev.peft4j.merge.opcm.Opcm} (the method),
 * {@link dev.peft4j.merge.opcm.OpcmMerger} (models one at a time, the merge available after each).
 */
package dev.peft4j.merge.opcm;
