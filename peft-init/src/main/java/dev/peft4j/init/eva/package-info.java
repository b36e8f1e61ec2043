/**
 * EVA: LoRA A initialized with the principal components of each layer's inputs on the task data,
 * ranks redistributed by explained variance.
 */
package dev.peft4j.init.eva;
