/** PEGO: a group of LoRA modules per layer trained with an orthogonal regularizer. */
package dev.peft4j.adapters.pego;
