/** LoRA-GA: LoRA initialized from the singular vectors of the full-weight gradient (paper-code variant). */
package dev.peft4j.init.loraga;
