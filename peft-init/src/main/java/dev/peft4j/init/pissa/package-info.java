/** PiSSA: LoRA initialized with the principal singular components of the weight (exact or randomized SVD). */
package dev.peft4j.init.pissa;
