/**
 * Bone (block-shared) and Bat (block-affine) adapters, saved as PEFT's MiSS ({@code peft_type}
 * "MISS", tensor {@code miss_block}).
 */
package dev.peft4j.adapters.bone;
