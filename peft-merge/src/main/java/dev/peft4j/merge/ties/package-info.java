/** TIES-Merging: per-tensor trim, sign election, disjoint mean. */
package dev.peft4j.merge.ties;
