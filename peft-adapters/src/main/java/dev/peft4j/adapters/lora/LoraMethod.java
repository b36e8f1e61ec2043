package dev.peft4j.adapters.lora;

import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/** Registers LoRA under {@code peft_type} "LORA". */
public final class LoraMethod implements AdapterMethod {

    @Override
    public String peftType() {
        return LoraConfig.PEFT_TYPE;
    }

    @Override
    public AdapterConfig fromJson(ConfigJson json) {
        return LoraConfig.fromJson(json);
    }
}
