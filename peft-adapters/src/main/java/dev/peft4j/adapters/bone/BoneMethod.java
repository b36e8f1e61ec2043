package dev.peft4j.adapters.bone;

import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/** Registers Bone and Bat under PEFT's {@code peft_type} "MISS". */
public final class BoneMethod implements AdapterMethod {

    @Override
    public String peftType() {
        return BoneConfig.PEFT_TYPE;
    }

    @Override
    public AdapterConfig fromJson(ConfigJson json) {
        return BoneConfig.fromJson(json);
    }
}
