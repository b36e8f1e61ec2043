package dev.peft4j.adapters.pego;

import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/** Registers PEGO under {@code peft_type} "PEGO". */
public final class PegoMethod implements AdapterMethod {

    @Override
    public String peftType() {
        return PegoConfig.PEFT_TYPE;
    }

    @Override
    public AdapterConfig fromJson(ConfigJson json) {
        return PegoConfig.fromJson(json);
    }
}
