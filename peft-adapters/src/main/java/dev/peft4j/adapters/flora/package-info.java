/** FLoRA: a Tucker-decomposed weight change for Linear (2 modes) and Conv2d (4 modes) layers. */
package dev.peft4j.adapters.flora;
