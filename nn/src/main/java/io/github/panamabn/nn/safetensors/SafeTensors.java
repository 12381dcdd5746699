package io.github.panamabn.nn.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
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
    /** How deep the header's JSON may nest: tensors need 3 levels; more is refused, not recursed into. */
    private static final int MAX_DEPTH = 64;
    private static final String METADATA = "__metadata__";

    private SafeTensors() {
    }

    /**
     * One tensor: dtype ("F32" or "I64"), shape, and its little-endian bytes. A tensor is always
     * consistent: its data holds exactly the bytes its dtype and shape need. The arrays are copied in
     * and out, so a tensor never changes.
     *
     * @param dtype "F32" or "I64"
     * @param shape the dimensions, none negative
     * @param data the little-endian bytes
     */
    public record Tensor(String dtype, long[] shape, byte[] data) {
        /**
         * A tensor of these values.
         *
         * @throws NullPointerException if an argument is null
         * @throws IllegalArgumentException for an unsupported dtype, a negative dimension, a shape whose
         *     byte count exceeds what an array holds, or data of another length
         */
        public Tensor {
            if (dtype == null || shape == null || data == null) {
                throw new NullPointerException("dtype, shape and data must not be null");
            }
            shape = shape.clone();
            long bytes = byteCount(dtype, shape, "tensor");
            if (data.length != bytes) {
                throw new IllegalArgumentException("tensor of dtype " + dtype + " and shape " + Arrays.toString(shape)
                        + " needs " + bytes + " data bytes, got " + data.length);
            }
            data = data.clone();
        }

        /** The shape (a copy). */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** The little-endian bytes (a copy). */
        @Override
        public byte[] data() {
            return data.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && dtype.equals(t.dtype) && Arrays.equals(shape, t.shape)
                    && Arrays.equals(data, t.data);
        }

        @Override
        public int hashCode() {
            return (dtype.hashCode() * 31 + Arrays.hashCode(shape)) * 31 + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "Tensor[" + dtype + " " + Arrays.toString(shape) + "]";
        }

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
            return data.length / elementSize(dtype);
        }
    }

    private static int elementSize(String dtype) {
        return switch (dtype) {
            case "F32" -> 4;
            case "I64" -> 8;
            default -> throw new IllegalArgumentException("unsupported dtype " + dtype + " (supported: F32, I64)");
        };
    }

    /**
     * The bytes a tensor of this dtype and shape holds.
     *
     * @throws IllegalArgumentException naming {@code what} for an unsupported dtype, a negative dimension,
     *     or more bytes than one array holds (which also rules out products that wrap around)
     */
    private static long byteCount(String dtype, long[] shape, String what) {
        int size;
        try {
            size = elementSize(dtype);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": " + e.getMessage());
        }
        long limit = Integer.MAX_VALUE - 8;
        long bytes = size;
        boolean empty = false;
        boolean tooLarge = false;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(what + ": negative dimension in shape " + Arrays.toString(shape));
            }
            // bounded before each product, so none wraps around
            if (d == 0) {
                empty = true;
            } else if (tooLarge || bytes > limit / d) {
                tooLarge = true;
            } else {
                bytes *= d;
            }
        }
        if (empty) {
            return 0;
        }
        if (tooLarge) {
            throw new IllegalArgumentException(what + ": dtype " + dtype + " and shape " + Arrays.toString(shape)
                    + " need more bytes than one array holds (at most " + limit + ")");
        }
        return bytes;
    }

    /**
     * The file's bytes for these tensors, in name order (as the reference implementation sorts them).
     *
     * @throws IllegalArgumentException for a null name or tensor, the reserved name {@code __metadata__},
     *     or more data than one file image holds
     */
    public static byte[] write(Map<String, Tensor> tensors) {
        if (tensors == null) {
            throw new NullPointerException("tensors must not be null");
        }
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new IllegalArgumentException("tensor names and tensors must not be null, got " + e.getKey()
                        + " -> " + e.getValue());
            }
            if (e.getKey().equals(METADATA)) {
                throw new IllegalArgumentException("'" + METADATA + "' is reserved for the file's metadata, not a "
                        + "tensor name");
            }
        }
        Map<String, Tensor> sorted = new TreeMap<>(tensors);
        List<byte[]> data = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            Tensor t = e.getValue();
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
        byte[] h;
        try {
            ByteBuffer encoded = StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).encode(CharBuffer.wrap(header));
            h = new byte[encoded.remaining()];
            encoded.get(h);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("a tensor name is not valid Unicode (an unpaired surrogate): "
                    + e.getMessage());
        }
        int padded = (h.length + 7) / 8 * 8;
        if (8L + padded + offset > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the tensors need " + (8L + padded + offset) + " bytes, more than one "
                    + "file image holds (at most " + (Integer.MAX_VALUE - 8) + ")");
        }
        ByteBuffer out = ByteBuffer.allocate((int) (8 + padded + offset)).order(ByteOrder.LITTLE_ENDIAN);
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

    /**
     * Reads a file.
     *
     * @throws IOException if it cannot be read or is not a valid safetensors file of supported dtypes (the
     *     message names the entry and what was expected)
     */
    public static Map<String, Tensor> read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return read(bytes);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
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
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 8, (int) headerLength)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("safetensors header is not valid UTF-8 (" + e.getMessage() + ")");
        }
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
            if (name.equals(METADATA)) {
                if (!(e.getValue() instanceof Map<?, ?> meta) || !meta.values().stream().allMatch(v -> v instanceof String)) {
                    throw new IllegalArgumentException(METADATA + " must be an object of strings, got " + e.getValue());
                }
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> info)) {
                throw new IllegalArgumentException("tensor " + name + ": entry must be an object");
            }
            String dtype = info.get("dtype") instanceof String s ? s : null;
            if (dtype == null) {
                throw new IllegalArgumentException("tensor " + name + ": missing dtype");
            }
            long[] shape = longs(info.get("shape"), "tensor " + name + ": shape");
            long[] offsets = longs(info.get("data_offsets"), "tensor " + name + ": data_offsets");
            if (offsets.length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength) {
                throw new IllegalArgumentException("tensor " + name + ": data_offsets " + Arrays.toString(offsets)
                        + " outside the " + dataLength + " data bytes");
            }
            long bytesNeeded = byteCount(dtype, shape, "tensor " + name);
            if (offsets[1] - offsets[0] != bytesNeeded) {
                throw new IllegalArgumentException("tensor " + name + ": " + (offsets[1] - offsets[0])
                        + " bytes, but dtype " + dtype + " and shape " + Arrays.toString(shape) + " need " + bytesNeeded);
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

    /** {@code s} as the inside of a JSON string: quotes, backslashes and control characters escaped. */
    private static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** A small JSON reader for the header: objects, arrays, strings, integers, and literals. */
    private static final class Json {
        private final String s;
        private int i;
        private int depth;

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
            if (c == '{' || c == '[') {
                if (++depth > MAX_DEPTH) {
                    throw error("nested deeper than " + MAX_DEPTH + " levels");
                }
                Object v = c == '{' ? object() : array();
                depth--;
                return v;
            } else if (c == '"') {
                return string();
            } else if (c == '-' || isDigit(c)) {
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
                if (m.containsKey(key)) {
                    throw error("duplicate key " + key);
                }
                m.put(key, value());
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
                            if (i + 4 > s.length() || !s.substring(i, i + 4).matches("[0-9a-fA-F]{4}")) {
                                throw error("\\u must be followed by four hex digits");
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

        /** ASCII digits only: JSON has no others (Character.isDigit would take any script's). */
        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private Object number() {
            int start = i;
            if (s.charAt(i) == '-') {
                i++;
            }
            while (i < s.length() && isDigit(s.charAt(i))) {
                i++;
            }
            boolean integral = true;
            while (i < s.length() && (".eE+-".indexOf(s.charAt(i)) >= 0 || isDigit(s.charAt(i)))) {
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
