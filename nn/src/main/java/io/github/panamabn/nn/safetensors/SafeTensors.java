package io.github.panamabn.nn.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * mapping each tensor name to its dtype, shape and byte range ({@code data_offsets}, relative to the
 * data), then the little-endian data. Only what batch-norm state needs is supported: dtypes F32 and
 * I64. Reading validates the whole file before returning anything.
 */
public final class SafeTensors {
    private static final long MAX_HEADER = 100L << 20;

    private SafeTensors() {
    }

    /** One tensor: dtype ("F32" or "I64"), shape, and its little-endian bytes. */
    public record Tensor(String dtype, long[] shape, byte[] data) {
        /** A float32 tensor. */
        public static Tensor ofFloats(float[] values, long... shape) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                b.putFloat(v);
            }
            return new Tensor("F32", shape.clone(), b.array());
        }

        /** An int64 tensor. */
        public static Tensor ofLongs(long[] values, long... shape) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : values) {
                b.putLong(v);
            }
            return new Tensor("I64", shape.clone(), b.array());
        }

        /** The values of an F32 tensor. */
        public float[] floats() {
            requireDtype("F32");
            float[] out = new float[data.length / 4];
            ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        /** The values of an I64 tensor. */
        public long[] longs() {
            requireDtype("I64");
            long[] out = new long[data.length / 8];
            ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
            return out;
        }

        private void requireDtype(String expected) {
            if (!dtype.equals(expected)) {
                throw new IllegalStateException("tensor has dtype " + dtype + ", not " + expected);
            }
        }

        /** Number of elements: the product of the shape (1 for a scalar). */
        public long elementCount() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private static int elementSize(String dtype) {
        return switch (dtype) {
            case "F32" -> 4;
            case "I64" -> 8;
            default -> throw new IllegalArgumentException("unsupported dtype " + dtype + " (supported: F32, I64)");
        };
    }

    /** The file's bytes for these tensors, in name order (as the reference implementation sorts them). */
    public static byte[] write(Map<String, Tensor> tensors) {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        Map<String, Tensor> sorted = new TreeMap<>(tensors);
        List<byte[]> data = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            Tensor t = e.getValue();
            if (t.data.length != t.elementCount() * elementSize(t.dtype)) {
                throw new IllegalArgumentException("tensor " + e.getKey() + " has " + t.data.length
                        + " bytes, its shape needs " + t.elementCount() * elementSize(t.dtype));
            }
            if (header.length() > 1) {
                header.append(',');
            }
            header.append('"').append(escape(e.getKey())).append("\":{\"dtype\":\"").append(t.dtype)
                    .append("\",\"shape\":").append(Arrays.toString(t.shape).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + t.data.length).append("]}");
            offset += t.data.length;
            data.add(t.data);
        }
        header.append('}');
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(8 + padded + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        for (byte[] d : data) {
            out.put(d);
        }
        return out.array();
    }

    /** Writes a file. */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        Files.write(file, write(tensors));
    }

    /** Reads a file. */
    public static Map<String, Tensor> read(Path file) throws IOException {
        return read(Files.readAllBytes(file));
    }

    /**
     * Parses a file's bytes; "__metadata__" is skipped.
     *
     * @throws IllegalArgumentException if the bytes are not a valid safetensors file of supported dtypes
     */
    public static Map<String, Tensor> read(byte[] bytes) {
        if (bytes.length < 8) {
            throw new IllegalArgumentException("not a safetensors file: " + bytes.length + " bytes, fewer than the 8 of the header length");
        }
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 2 || headerLength > MAX_HEADER || headerLength > bytes.length - 8) {
            throw new IllegalArgumentException("invalid safetensors header length " + headerLength + " for a file of "
                    + bytes.length + " bytes");
        }
        String json = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        Object parsed = new Json(json).parseDocument();
        if (!(parsed instanceof Map<?, ?> header)) {
            throw new IllegalArgumentException("safetensors header must be a JSON object");
        }
        int dataStart = 8 + (int) headerLength;
        long dataLength = bytes.length - dataStart;
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> info)) {
                throw new IllegalArgumentException("tensor " + name + ": entry must be an object");
            }
            String dtype = info.get("dtype") instanceof String s ? s : null;
            if (dtype == null) {
                throw new IllegalArgumentException("tensor " + name + ": missing dtype");
            }
            int size;
            try {
                size = elementSize(dtype);
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("tensor " + name + ": " + ex.getMessage());
            }
            long[] shape = longs(info.get("shape"), "tensor " + name + ": shape");
            long[] offsets = longs(info.get("data_offsets"), "tensor " + name + ": data_offsets");
            if (offsets.length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength) {
                throw new IllegalArgumentException("tensor " + name + ": data_offsets " + Arrays.toString(offsets)
                        + " outside the " + dataLength + " data bytes");
            }
            long count = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor " + name + ": negative dimension in " + Arrays.toString(shape));
                }
                count = Math.multiplyExact(count, d);
            }
            if (offsets[1] - offsets[0] != count * size) {
                throw new IllegalArgumentException("tensor " + name + ": " + (offsets[1] - offsets[0])
                        + " bytes, but dtype " + dtype + " and shape " + Arrays.toString(shape) + " need " + count * size);
            }
            ranges.add(offsets);
            out.put(name, new Tensor(dtype, shape,
                    Arrays.copyOfRange(bytes, dataStart + (int) offsets[0], dataStart + (int) offsets[1])));
        }
        // The data must be covered exactly, without holes or overlaps.
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        long expected = 0;
        for (long[] r : ranges) {
            if (r[0] != expected) {
                throw new IllegalArgumentException("safetensors data has a hole or overlap at byte " + expected);
            }
            expected = r[1];
        }
        if (expected != dataLength) {
            throw new IllegalArgumentException("safetensors data has " + (dataLength - expected) + " unused trailing bytes");
        }
        return out;
    }

    private static long[] longs(Object value, String what) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException(what + " must be an array of integers");
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long l)) {
                throw new IllegalArgumentException(what + " must be an array of integers, got " + list);
            }
            out[i] = l;
        }
        return out;
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    /** A small JSON reader for the header: objects, arrays, strings, integers, and literals. */
    private static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parseDocument() {
            Object v = value();
            skipSpace();
            if (i != s.length()) {
                throw error("trailing characters");
            }
            return v;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("invalid safetensors header JSON at character " + i + ": " + what);
        }

        private void skipSpace() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private Object value() {
            skipSpace();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            if (c == '{') {
                return object();
            } else if (c == '[') {
                return array();
            } else if (c == '"') {
                return string();
            } else if (c == '-' || Character.isDigit(c)) {
                return number();
            } else if (s.startsWith("true", i)) {
                i += 4;
                return Boolean.TRUE;
            } else if (s.startsWith("false", i)) {
                i += 5;
                return Boolean.FALSE;
            } else if (s.startsWith("null", i)) {
                i += 4;
                return null;
            }
            throw error("unexpected '" + c + "'");
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            skipSpace();
            if (i < s.length() && s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                skipSpace();
                if (i >= s.length() || s.charAt(i) != '"') {
                    throw error("expected a key");
                }
                String key = string();
                skipSpace();
                expect(':');
                if (m.put(key, value()) != null) {
                    throw error("duplicate key " + key);
                }
                skipSpace();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                expect('}');
                return m;
            }
        }

        private List<Object> array() {
            List<Object> a = new ArrayList<>();
            i++;
            skipSpace();
            if (i < s.length() && s.charAt(i) == ']') {
                i++;
                return a;
            }
            while (true) {
                a.add(value());
                skipSpace();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                expect(']');
                return a;
            }
        }

        private void expect(char c) {
            if (i >= s.length() || s.charAt(i) != c) {
                throw error("expected '" + c + "'");
            }
            i++;
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++;
            while (i < s.length()) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\\') {
                    if (i >= s.length()) {
                        break;
                    }
                    char e = s.charAt(i++);
                    switch (e) {
                        case '"', '\\', '/' -> b.append(e);
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'u' -> {
                            if (i + 4 > s.length()) {
                                throw error("short \\u escape");
                            }
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> throw error("bad escape \\" + e);
                    }
                } else {
                    b.append(c);
                }
            }
            throw error("unterminated string");
        }

        private Object number() {
            int start = i;
            if (s.charAt(i) == '-') {
                i++;
            }
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
            boolean integral = true;
            while (i < s.length() && ".eE+-".indexOf(s.charAt(i)) >= 0 || i < s.length() && Character.isDigit(s.charAt(i))) {
                integral = false;
                i++;
            }
            String text = s.substring(start, i);
            try {
                return integral ? (Object) Long.parseLong(text) : (Object) Double.parseDouble(text);
            } catch (NumberFormatException e) {
                throw error("bad number " + text);
            }
        }
    }
}
