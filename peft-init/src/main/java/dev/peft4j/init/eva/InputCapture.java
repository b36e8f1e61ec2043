package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;

/**
 * How EVA sees a layer's inputs: an adapter without parameters, added for the duration of the
 * PCA under a reserved name to the {@code AdaptedLinear} the LoRA injection already put there, and
 * made the only active adapter of its layer. Its {@link #addTo} remembers the layer's input and
 * returns the base output unchanged, so plain forward passes of the model both compute the base
 * model's function and record every target layer's input.
 */
final class InputCapture extends Adapter {

    /** The reserved adapter name. */
    static final String NAME = "__eva_input_capture";

    private boolean recording = true;
    private NDArray last;

    InputCapture(AdapterContext context) {
        super(context);
    }

    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        if (recording) {
            last = x;
        }
        return y;
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        throw new UnsupportedOperationException("EVA's input capture adds nothing to the output");
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        return manager.zeros(base.weightShape(), base.weight().getArray().getDataType());
    }

    /** Turns recording on or off (layers whose PCA has converged stop recording). */
    void setRecording(boolean recording) {
        this.recording = recording;
    }

    /** Returns the input of the last forward pass and forgets it (it belongs to the batch). */
    NDArray take() {
        NDArray x = last;
        last = null;
        return x;
    }
}
