/**
 * FW-Merging, Frank-Wolfe merging driven by a proxy objective: {@link dev.peft4j.merge.fw.FwMerge},
 * and {@link dev.peft4j.merge.fw.ProxyObjective} with ready implementations over a DJL block
 * ({@link dev.peft4j.merge.fw.LabelledObjective}, {@link dev.peft4j.merge.fw.EntropyObjective}).
 */
package dev.peft4j.merge.fw;
