/** Orthogonal LoRA initialization: A and B from orthogonal halves of a random rotation, B A = 0. */
package dev.peft4j.init.orthogonal;
