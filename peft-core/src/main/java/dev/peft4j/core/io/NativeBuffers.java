package dev.peft4j.core.io;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frees direct and mapped buffers right away instead of at some later garbage collection, so a
 * streaming loop over many tensors keeps flat native memory and few live file mappings. Uses
 * {@code sun.misc.Unsafe.invokeCleaner} (module jdk.unsupported) when present; otherwise the
 * buffers are left to the garbage collector.
 */
final class NativeBuffers {

    private static final Logger LOG = LoggerFactory.getLogger(NativeBuffers.class);
    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method cleaner = null;
        try {
            Class<?> type = Class.forName("sun.misc.Unsafe");
            Field field = type.getDeclaredField("theUnsafe");
            field.setAccessible(true);
            unsafe = field.get(null);
            cleaner = type.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("sun.misc.Unsafe.invokeCleaner unavailable; buffers are freed by the GC", e);
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = cleaner;
    }

    private NativeBuffers() {}

    /**
     * Unmaps or frees {@code buffer}. The caller guarantees nothing reads it afterwards: every
     * NDArray created over it must already be closed, or reading it would crash the JVM.
     */
    static void release(ByteBuffer buffer) {
        if (buffer == null || !buffer.isDirect() || INVOKE_CLEANER == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, buffer);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // slices and duplicates have no cleaner of their own; the GC frees those
            LOG.debug("Buffer left to the GC", e);
        }
    }
}
