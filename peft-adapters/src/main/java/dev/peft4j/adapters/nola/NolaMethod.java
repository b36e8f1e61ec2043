package dev.peft4j.adapters.nola;

import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/** Registers NOLA under {@code peft_type} "NOLA". */
public final class NolaMethod implements AdapterMethod {

    @Override
    public String peftType() {
        return NolaConfig.PEFT_TYPE;
    }

    @Override
    public AdapterConfig fromJson(ConfigJson json) {
        return NolaConfig.fromJson(json);
    }
}
