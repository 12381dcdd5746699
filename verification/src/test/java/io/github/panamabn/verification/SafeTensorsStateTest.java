package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.BatchNormLayer;
import io.github.panamabn.nn.norm.BatchNormOptions;
import io.github.panamabn.nn.safetensors.SafeTensors;
import io.github.panamabn.nn.safetensors.SafeTensors.Tensor;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layer state as safetensors with PyTorch's state_dict names, against fixtures built from the format's spec. */
class SafeTensorsStateTest {

    /** The spec: u64 little-endian header size, the JSON header, then the little-endian data. */
    static byte[] fixture(String header, int padTo8, byte[] data) {
        return fixture(header.getBytes(StandardCharsets.UTF_8), padTo8, data);
    }

    /** As {@link #fixture(String, int, byte[])} with the header's bytes as given (for invalid UTF-8). */
    static byte[] fixture(byte[] h, int padTo8, byte[] data) {
        int size = padTo8 > 0 ? (h.length + 7) / 8 * 8 : h.length;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < 8; i++) {
            out.write((int) ((long) size >>> (8 * i)) & 0xFF);
        }
        out.writeBytes(h);
        for (int i = h.length; i < size; i++) {
            out.write(' ');
        }
        out.writeBytes(data);
        return out.toByteArray();
    }

    private static void putFloat(ByteArrayOutputStream out, float v) {
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) {
            out.write((bits >>> (8 * i)) & 0xFF);
        }
    }

    private static void putLong(ByteArrayOutputStream out, long v) {
        for (int i = 0; i < 8; i++) {
            out.write((int) (v >>> (8 * i)) & 0xFF);
        }
    }

    /** BatchNorm1d(2) state: weight [1.5, -2], bias [0.25, 0], running_mean [3, 4], running_var [0.5, 2], 7 batches. */
    private static byte[] data() {
        ByteArrayOutputStream d = new ByteArrayOutputStream();
        putFloat(d, 0.25f);
        putFloat(d, 0f);
        putLong(d, 7);
        putFloat(d, 3f);
        putFloat(d, 4f);
        putFloat(d, 0.5f);
        putFloat(d, 2f);
        putFloat(d, 1.5f);
        putFloat(d, -2f);
        return d.toByteArray();
    }

    private static final String HEADER = "{\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
            + "\"running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
            + "\"running_var\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
            + "\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}";

    @Test
    void loadsAFileBuiltFromTheSpecification() {
        // Metadata, another key order and spacing, as other writers produce.
        String header = "{ \"__metadata__\": {\"format\": \"pt\"}, \"weight\": {\"dtype\": \"F32\", \"shape\": [2], "
                + "\"data_offsets\": [32, 40]}, \"running_var\": {\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                + "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
                + "\"running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]} }";
        BatchNorm1d bn = new BatchNorm1d(2);
        bn.loadStateDict(SafeTensors.read(fixture(header, 0, data())), "");
        assertArrayEquals(new float[] {1.5f, -2f}, bn.weight());
        assertArrayEquals(new float[] {0.25f, 0f}, bn.bias());
        assertArrayEquals(new float[] {3f, 4f}, bn.runningMean());
        assertArrayEquals(new float[] {0.5f, 2f}, bn.runningVar());
        assertEquals(7, bn.numBatchesTracked());
    }

    @Test
    void writesExactlyTheBytesOfTheSpecification() {
        BatchNorm1d bn = new BatchNorm1d(2);
        bn.loadStateDict(SafeTensors.read(fixture(HEADER, 1, data())), "");
        assertArrayEquals(fixture(HEADER, 1, data()), SafeTensors.write(bn.stateDict("")));
    }

    @Test
    void saveThenLoadGivesIdenticalOutputs(@TempDir Path dir) throws Exception {
        TensorShape shape = TensorShape.nhwc(4, 3, 3, 6);
        BatchNorm2d trained = new BatchNorm2d(6);
        float[] y = new float[(int) shape.elementCount()];
        for (int step = 0; step < 4; step++) {
            trained.forward(shape, BatchNormLayerTest.batch(shape, step), y);
        }
        for (int c = 0; c < 6; c++) {
            trained.weight()[c] = 1 + c / 10f;
            trained.bias()[c] = -c / 7f;
        }
        Path file = dir.resolve("bn.safetensors");
        trained.save(file);
        BatchNorm2d loaded = new BatchNorm2d(6);
        loaded.load(file);
        trained.eval();
        loaded.eval();
        float[] x = BatchNormLayerTest.batch(shape, 99);
        float[] a = new float[x.length];
        float[] b = new float[x.length];
        trained.forward(shape, x, a);
        loaded.forward(shape, x, b);
        assertArrayEquals(a, b);
        assertEquals(trained.numBatchesTracked(), loaded.numBatchesTracked());
        assertTrue(Files.size(file) > 8);
    }

    @Test
    void prefixesSelectOneLayerOfAModel() {
        BatchNorm1d first = new BatchNorm1d(2);
        first.weight()[0] = 5;
        BatchNorm1d second = new BatchNorm1d(3);
        second.weight()[2] = 6;
        Map<String, Tensor> model = new LinkedHashMap<>(first.stateDict("bn1."));
        model.putAll(second.stateDict("bn2."));
        BatchNorm1d again = new BatchNorm1d(3);
        again.loadStateDict(SafeTensors.read(SafeTensors.write(model)), "bn2.");
        assertEquals(6f, again.weight()[2]);
    }

    private static void assertRejectedUnchanged(Map<String, Tensor> state, String mentions) {
        BatchNormLayer bn = new BatchNorm1d(2);
        bn.weight()[0] = 42;
        bn.runningMean()[1] = 17;
        Throwable t = assertThrows(IllegalArgumentException.class, () -> bn.loadStateDict(state, ""));
        assertTrue(t.getMessage().contains(mentions), t.getMessage());
        assertEquals(42f, bn.weight()[0]);
        assertEquals(17f, bn.runningMean()[1]);
        assertEquals(1f, bn.runningVar()[0]);
        assertEquals(0, bn.numBatchesTracked());
    }

    @Test
    void missingExtraMisshapenOrMistypedEntriesAreRejectedAndChangeNothing() {
        Map<String, Tensor> good = SafeTensors.read(fixture(HEADER, 1, data()));
        Map<String, Tensor> missing = new LinkedHashMap<>(good);
        missing.remove("running_var");
        assertRejectedUnchanged(missing, "missing entry 'running_var'");
        Map<String, Tensor> extra = new LinkedHashMap<>(good);
        extra.put("running_std", Tensor.ofFloats(new float[2], 2));
        assertRejectedUnchanged(extra, "unexpected entry 'running_std'");
        Map<String, Tensor> shape = new LinkedHashMap<>(good);
        shape.put("bias", Tensor.ofFloats(new float[3], 3));
        assertRejectedUnchanged(shape, "entry 'bias'");
        Map<String, Tensor> type = new LinkedHashMap<>(good);
        type.put("num_batches_tracked", Tensor.ofFloats(new float[] {7}));
        assertRejectedUnchanged(type, "entry 'num_batches_tracked' has dtype F32");
        Map<String, Tensor> negativeVar = new LinkedHashMap<>(good);
        negativeVar.put("running_var", Tensor.ofFloats(new float[] {1, -1}, 2));
        assertRejectedUnchanged(negativeVar, "running_var[1]");
        // Without affine, weight and bias are unexpected.
        BatchNorm1d plain = new BatchNorm1d(2, BatchNormOptions.defaults().withAffine(false));
        assertThrows(IllegalArgumentException.class, () -> plain.loadStateDict(good, ""));
    }

    @Test
    void malformedFilesAreRejected() {
        byte[] good = fixture(HEADER, 1, data());
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(new byte[5]));
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 4);
        Throwable t = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(truncated));
        assertTrue(t.getMessage().contains("data_offsets"), t.getMessage());
        byte[] trailing = java.util.Arrays.copyOf(good, good.length + 4);
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(trailing));
        byte[] badJson = fixture(HEADER.replace("\"shape\":[2]", "\"shape\":[2"), 1, data());
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(badJson));
        byte[] f16 = fixture(HEADER.replace("\"F32\",\"shape\":[2],\"data_offsets\":[0,8]",
                "\"F16\",\"shape\":[4],\"data_offsets\":[0,8]"), 1, data());
        t = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(f16));
        assertTrue(t.getMessage().contains("unsupported dtype F16"), t.getMessage());
        byte[] hugeHeader = good.clone();
        hugeHeader[7] = 0x7F;
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(hugeHeader));
    }
}
