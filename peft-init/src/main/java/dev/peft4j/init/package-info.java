/**
 * Initializers of LoRA adapters beyond PEFT's default: PiSSA ({@code pissa}), LoRA-GA
 * ({@code loraga}), EVA ({@code eva}), and the save-time conversion to plain LoRA of those that
 * change the base weights ({@code convert}). They plug into peft-adapters' {@code LoraInitializer}
 * through {@code META-INF/services}, so {@code init_lora_weights} alone selects them;
 * {@link dev.peft4j.init.LoraInitialization#prepare} runs the data-driven ones.
 */
package dev.peft4j.init;
