package dev.peft4j.core;

import java.util.List;

/**
 * The adapter methods one module registers: the one line of {@code
 * META-INF/services/dev.peft4j.core.AdapterMethodProvider} names the module's provider, and its
 * list has one {@link AdapterMethod#of} entry per method.
 */
public interface AdapterMethodProvider {

    /** The methods of this module. */
    List<AdapterMethod> methods();
}
