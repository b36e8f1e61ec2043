package dev.peft4j.adapters.lora;

import java.util.ServiceLoader;

/** Looks up {@link LoraInitializer}s on the class path. */
final class LoraInitializers {

    private LoraInitializers() {}

    static LoraInitializer forName(String init) {
        for (LoraInitializer i : ServiceLoader.load(LoraInitializer.class)) {
            if (i.handles(init)) {
                return i;
            }
        }
        throw new IllegalArgumentException("init_lora_weights '" + init + "' is unknown: use true, false,"
                + " 'gaussian', or put peft-init on the class path for 'pissa', 'pissa_niter_N', 'lora_ga', 'eva'");
    }
}
