package dev.peft4j.adapters.flora;

import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/** Registers FLoRA under {@code peft_type} "FLORA". */
public final class FloraMethod implements AdapterMethod {

    @Override
    public String peftType() {
        return FloraConfig.PEFT_TYPE;
    }

    @Override
    public AdapterConfig fromJson(ConfigJson json) {
        return FloraConfig.fromJson(json);
    }
}
