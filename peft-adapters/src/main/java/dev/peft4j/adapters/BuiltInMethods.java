package dev.peft4j.adapters;

import dev.peft4j.adapters.bone.BoneConfig;
import dev.peft4j.adapters.flora.FloraConfig;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.nola.NolaConfig;
import dev.peft4j.adapters.pego.PegoConfig;
import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.AdapterMethodProvider;
import java.util.List;

/** Registers this module's methods: one line per method (see {@code docs/contributing.md}). */
public final class BuiltInMethods implements AdapterMethodProvider {

    @Override
    public List<AdapterMethod> methods() {
        return List.of(
                AdapterMethod.of(LoraConfig.PEFT_TYPE, LoraConfig::fromJson),
                AdapterMethod.of(NolaConfig.PEFT_TYPE, NolaConfig::fromJson),
                AdapterMethod.of(
                        BoneConfig.PEFT_TYPE, BoneConfig::fromJson), // Bone and Bat, as MISS
                AdapterMethod.of(FloraConfig.PEFT_TYPE, FloraConfig::fromJson),
                AdapterMethod.of(PegoConfig.PEFT_TYPE, PegoConfig::fromJson));
    }
}
