/**
 * NOLA: LoRA factors as linear combinations of frozen random bases regenerated from a seed; only
 * the combination coefficients train and are saved.
 */
package dev.peft4j.adapters.nola;
