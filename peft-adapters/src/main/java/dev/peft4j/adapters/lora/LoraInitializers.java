package dev.peft4j.adapters.lora;

import java.util.ServiceLoader;

/** Looks up {@link LoraInitializer}s on the class path. */
final class LoraInitializers {

    private LoraInitializers() {}

    /** Whether PEFT's built-in initialization handles the value (no initializer needed). */
    static boolean builtIn(String init) {
        return "true".equals(init) || "false".equals(init) || "gaussian".equals(init);
    }

    /**
     * Whether loading a folder with this value needs its initializer (PEFT redoes PiSSA and OLoRA
     * on the base at load): loading it as plain LoRA without one would give other outputs.
     */
    static boolean neededAtLoad(String init) {
        return init.matches("pissa(_niter_\\d+)?") || "olora".equals(init);
    }

    /** Whether the value names an initialization that changes the base weight (PiSSA, OLoRA, LoRA-GA). */
    static boolean changesTheBase(String init) {
        return neededAtLoad(init) || "lora_ga".equals(init);
    }

    /** The initializer for a value, or null for a built-in value or when none is on the class path. */
    static LoraInitializer find(String init) {
        if (builtIn(init)) {
            return null;
        }
        for (LoraInitializer i : ServiceLoader.load(LoraInitializer.class)) {
            if (i.handles(init)) {
                return i;
            }
        }
        return null;
    }

    static LoraInitializer forName(String init) {
        LoraInitializer i = find(init);
        if (i == null) {
            throw new IllegalArgumentException(
                    "init_lora_weights '"
                            + init
                            + "' is unknown: use true, false, 'gaussian', or put peft-init on the"
                            + " class path for 'pissa', 'pissa_niter_N', 'olora', 'orthogonal',"
                            + " 'lora_ga', 'eva'");
        }
        return i;
    }
}
