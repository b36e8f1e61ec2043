package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted reader of the {@code data.pkl} pickle of a {@code torch.save} archive: it
 * interprets the pickle opcodes a state dict uses and builds only dictionaries, lists, tuples,
 * numbers, strings and tensor references. The only callables it accepts are {@code
 * collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2}, {@code
 * torch._utils._rebuild_parameter} and the storage types; any other global is an error naming it,
 * and nothing is ever executed (Python's unpickler would call any global the file names).
 */
final class TorchPickle {

    /** A tensor's storage, offset, shape and strides, as {@code _rebuild_tensor_v2} receives them. */
    record TensorRef(String storageKey, DataType dtype, long offset, long[] shape, long[] stride) {}

    private record Global(String module, String name) {}

    private record Storage(String key, DataType dtype, long numel) {}

    private static final Object MARK = new Object();

    private static final Map<String, DataType> STORAGES =
            Map.ofEntries(
                    Map.entry("FloatStorage", DataType.FLOAT32),
                    Map.entry("HalfStorage", DataType.FLOAT16),
                    Map.entry("BFloat16Storage", DataType.BFLOAT16),
                    Map.entry("DoubleStorage", DataType.FLOAT64),
                    Map.entry("LongStorage", DataType.INT64),
                    Map.entry("IntStorage", DataType.INT32),
                    Map.entry("CharStorage", DataType.INT8),
                    Map.entry("ByteStorage", DataType.UINT8),
                    Map.entry("BoolStorage", DataType.BOOLEAN));

    private final Path file;
    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private TorchPickle(Path file, byte[] data) {
        this.file = file;
        this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The state dict in a pickle: tensor name to reference, in the file's order. */
    static Map<String, TensorRef> stateDict(Path file, byte[] pickle)
            throws CheckpointFormatException {
        Object root;
        try {
            root = new TorchPickle(file, pickle).run();
        } catch (RuntimeException e) {
            throw new CheckpointFormatException(
                    file, null, "unreadable pickle: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new CheckpointFormatException(
                    file, null, "the pickle holds " + describe(root) + ", not a state dict");
        }
        Map<String, TensorRef> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getKey() instanceof String key) || !(e.getValue() instanceof TensorRef ref)) {
                throw new CheckpointFormatException(
                        file,
                        String.valueOf(e.getKey()),
                        "state dict entry is " + describe(e.getValue()) + ", not a tensor");
            }
            out.put(key, ref);
        }
        return out;
    }

    private static String describe(Object o) {
        return o == null ? "None" : o.getClass().getSimpleName();
    }

    private CheckpointFormatException refuse(String what) {
        return new CheckpointFormatException(file, null, what);
    }

    private Object run() throws CheckpointFormatException {
        while (true) {
            int op = Byte.toUnsignedInt(in.get());
            switch (op) {
                case 0x80: // PROTO
                    in.get();
                    break;
                case 0x95: // FRAME
                    in.getLong();
                    break;
                case '}':
                    stack.add(new LinkedHashMap<>());
                    break;
                case ']':
                    stack.add(new ArrayList<>());
                    break;
                case ')':
                    stack.add(List.of());
                    break;
                case '(':
                    stack.add(MARK);
                    break;
                case 'X':
                    stack.add(string(in.getInt()));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    stack.add(string(Byte.toUnsignedInt(in.get())));
                    break;
                case 0x8d: // BINUNICODE8
                    stack.add(string(Math.toIntExact(in.getLong())));
                    break;
                case 'U': // SHORT_BINSTRING
                    stack.add(string(Byte.toUnsignedInt(in.get())));
                    break;
                case 'T': // BINSTRING
                    stack.add(string(in.getInt()));
                    break;
                case 'q':
                    memo.put((long) Byte.toUnsignedInt(in.get()), top());
                    break;
                case 'r':
                    memo.put(Integer.toUnsignedLong(in.getInt()), top());
                    break;
                case 0x94: // MEMOIZE
                    memo.put((long) memo.size(), top());
                    break;
                case 'h':
                    stack.add(memo(Byte.toUnsignedInt(in.get())));
                    break;
                case 'j':
                    stack.add(memo(Integer.toUnsignedLong(in.getInt())));
                    break;
                case 'c': // GLOBAL module\nname\n
                    stack.add(global(line(), line()));
                    break;
                case 0x93:
                    { // STACK_GLOBAL
                        String name = (String) pop();
                        String module = (String) pop();
                        stack.add(global(module, name));
                        break;
                    }
                case 'J':
                    stack.add((long) in.getInt());
                    break;
                case 'K':
                    stack.add((long) Byte.toUnsignedInt(in.get()));
                    break;
                case 'M':
                    stack.add((long) Short.toUnsignedInt(in.getShort()));
                    break;
                case 0x8a:
                    { // LONG1
                        int n = Byte.toUnsignedInt(in.get());
                        long v = 0;
                        for (int i = 0; i < n; i++) {
                            v |= (long) Byte.toUnsignedInt(in.get()) << (8 * i);
                        }
                        if (n > 0 && n < 8 && (v >> (8 * n - 1) & 1) == 1) {
                            v -= 1L << (8 * n);
                        }
                        stack.add(v);
                        break;
                    }
                case 'G':
                    stack.add(in.order(ByteOrder.BIG_ENDIAN).getDouble());
                    in.order(ByteOrder.LITTLE_ENDIAN);
                    break;
                case 0x88:
                    stack.add(Boolean.TRUE);
                    break;
                case 0x89:
                    stack.add(Boolean.FALSE);
                    break;
                case 'N':
                    stack.add(null);
                    break;
                case 't':
                    stack.add(java.util.Collections.unmodifiableList(popMark()));
                    break;
                case 0x85:
                    stack.add(tuple(1));
                    break;
                case 0x86:
                    stack.add(tuple(2));
                    break;
                case 0x87:
                    stack.add(tuple(3));
                    break;
                case 'Q': // BINPERSID
                    stack.add(persistent(pop()));
                    break;
                case 'R':
                    { // REDUCE
                        Object args = pop();
                        Object f = pop();
                        stack.add(reduce(f, (List<?>) args));
                        break;
                    }
                case 'b':
                    { // BUILD: the state of an OrderedDict (state_dict's _metadata) is dropped
                        Object state = pop();
                        Object target = top();
                        if (!(target instanceof Map) || !(state == null || state instanceof Map)) {
                            throw refuse(
                                    "BUILD on "
                                            + describe(target)
                                            + " is not part of a state dict");
                        }
                        break;
                    }
                case 's':
                    {
                        Object v = pop();
                        Object k = pop();
                        map(top()).put(k, v);
                        break;
                    }
                case 'u':
                    {
                        List<Object> items = popMark();
                        Map<Object, Object> m = map(top());
                        for (int i = 0; i + 1 < items.size(); i += 2) {
                            m.put(items.get(i), items.get(i + 1));
                        }
                        break;
                    }
                case 'a':
                    {
                        Object v = pop();
                        list(top()).add(v);
                        break;
                    }
                case 'e':
                    {
                        List<Object> items = popMark();
                        list(top()).addAll(items);
                        break;
                    }
                case '.':
                    return pop();
                default:
                    throw refuse(
                            String.format("pickle opcode 0x%02x is not part of a state dict", op));
            }
        }
    }

    private List<Object> tuple(int n) {
        List<Object> t = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            t.add(0, pop());
        }
        return java.util.Collections.unmodifiableList(t);
    }

    private Object global(String module, String name) throws CheckpointFormatException {
        boolean ok =
                (module.equals("collections") && name.equals("OrderedDict"))
                        || (module.equals("torch._utils")
                                && (name.equals("_rebuild_tensor_v2")
                                        || name.equals("_rebuild_parameter")))
                        || (module.equals("torch") && STORAGES.containsKey(name));
        if (!ok) {
            throw refuse(
                    "the pickle refers to "
                            + module
                            + "."
                            + name
                            + "; peft4j reads state dicts of tensors only and runs no code from a"
                            + " pickle (convert the file to safetensors)");
        }
        return new Global(module, name);
    }

    private Object persistent(Object pid) throws CheckpointFormatException {
        if (!(pid instanceof List<?> t)
                || t.size() < 5
                || !"storage".equals(t.get(0))
                || !(t.get(1) instanceof Global g)) {
            throw refuse("persistent id " + pid + " is not a storage");
        }
        return new Storage(
                String.valueOf(t.get(2)), STORAGES.get(g.name()), ((Number) t.get(4)).longValue());
    }

    private Object reduce(Object f, List<?> args) throws CheckpointFormatException {
        if (!(f instanceof Global g)) {
            throw refuse("REDUCE on " + describe(f));
        }
        switch (g.name()) {
            case "OrderedDict":
                return new LinkedHashMap<>();
            case "_rebuild_parameter":
                return args.get(0);
            case "_rebuild_tensor_v2":
                {
                    if (!(args.get(0) instanceof Storage s)) {
                        throw refuse("_rebuild_tensor_v2 without a storage");
                    }
                    return new TensorRef(
                            s.key(),
                            s.dtype(),
                            ((Number) args.get(1)).longValue(),
                            longs(args.get(2)),
                            longs(args.get(3)));
                }
            default:
                throw refuse("a storage type called as a function");
        }
    }

    private static long[] longs(Object o) {
        List<?> l = (List<?>) o;
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) l.get(i)).longValue();
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> map(Object o) throws CheckpointFormatException {
        if (!(o instanceof Map)) {
            throw refuse("SETITEM on " + describe(o));
        }
        return (Map<Object, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) throws CheckpointFormatException {
        if (!(o instanceof ArrayList)) {
            throw refuse("APPEND on " + describe(o));
        }
        return (List<Object>) o;
    }

    private Object memo(long i) throws CheckpointFormatException {
        if (!memo.containsKey(i)) {
            throw refuse("memo entry " + i + " read before it was written");
        }
        return memo.get(i);
    }

    private String string(int n) {
        byte[] b = new byte[n];
        in.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        byte c;
        while ((c = in.get()) != '\n') {
            sb.append((char) c);
        }
        return sb.toString();
    }

    private Object top() {
        return stack.get(stack.size() - 1);
    }

    private Object pop() {
        Object o = stack.remove(stack.size() - 1);
        if (o == MARK) {
            throw new IllegalStateException("MARK popped as a value");
        }
        return o;
    }

    private List<Object> popMark() {
        List<Object> items = new ArrayList<>();
        while (true) {
            Object o = stack.remove(stack.size() - 1);
            if (o == MARK) {
                break;
            }
            items.add(0, o);
        }
        return items;
    }
}
