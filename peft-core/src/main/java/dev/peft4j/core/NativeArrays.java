package dev.peft4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;

/**
 * Arrays made from Java values in memory the engine owns. DJL's {@code NDManager.create(float[],
 * Shape)} wraps a Java direct buffer ({@code torch::from_blob}) that lives only as long as the
 * returned array object: an array that autograd keeps for backward after it was closed (a chunk of
 * NOLA's regenerated bases) would be read after the garbage collector freed it. A copy made here
 * is reference-counted by the engine, so closing the array never frees memory still in use.
 */
public final class NativeArrays {

    private NativeArrays() {}

    /** {@code values} as an array of {@code shape} on {@code manager}, in engine-owned memory. */
    public static NDArray create(NDManager manager, float[] values, Shape shape) {
        try (NDArray view = manager.create(values, shape)) {
            return view.duplicate();
        }
    }

    /**
     * Collects garbage and waits until the reference handler has run the cleaners of the direct
     * buffers it found unreachable (a sentinel reference is enqueued by the same pass), so that
     * their memory is freed now rather than at some later collection. The diagnostic mode of
     * training calls it before every backward pass.
     */
    public static void freeUnreachableBuffers() {
        ReferenceQueue<Object> queue = new ReferenceQueue<>();
        WeakReference<Object> sentinel = new WeakReference<>(new Object(), queue);
        try {
            Reference<?> done = null;
            for (int i = 0; i < 5 && done == null; i++) {
                System.gc();
                done = queue.remove(50);
            }
            Thread.sleep(2); // the cleaners of the same collection run around the enqueue
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sentinel.clear();
    }
}
