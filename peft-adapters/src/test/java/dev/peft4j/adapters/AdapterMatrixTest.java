package dev.peft4j.adapters;

import dev.peft4j.core.testing.AdapterMatrix;
import dev.peft4j.core.testing.MethodCatalogue;

/** The generic test matrix ({@link AdapterMatrix}) over this module's catalogue rows. */
class AdapterMatrixTest extends AdapterMatrix {

    @Override
    protected MethodCatalogue.Module module() {
        return MethodCatalogue.Module.ADAPTERS;
    }
}
