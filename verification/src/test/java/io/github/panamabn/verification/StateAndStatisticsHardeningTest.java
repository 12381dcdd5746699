package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.norm.BatchNormLayer;
import io.github.panamabn.nn.norm.NonFiniteBatchException;
import io.github.panamabn.nn.norm.NonFinitePolicy;
import io.github.panamabn.nn.safetensors.SafeTensors;
import io.github.panamabn.nn.safetensors.SafeTensors.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the independent reliability check found (issue: running statistics poisoned by a finite batch,
 * half-loaded state, malformed files refused by JVM exceptions, small APIs), one test each.
 */
class StateAndStatisticsHardeningTest {
    private static final float[] HUGE_BATCH = {1e20f, 1, -1e20f, 2, 1e20f, 3, -1e20f, 4};

    // ---------------------------------------------------------------- running statistics

    @Test
    void aFiniteBatchWhoseVarianceOverflowsFloatIsRefusedBeforeAnythingIsWritten() {
        BatchNorm1d bn = new BatchNorm1d(2);
        float[] y = {7, 7, 7, 7, 7, 7, 7, 7};
        NonFiniteBatchException e = assertThrows(NonFiniteBatchException.class,
                () -> bn.forward(TensorShape.nc(4, 2), HUGE_BATCH, y));
        assertTrue(e.getMessage().contains("channel 0") && e.getMessage().contains("float's range"), e.getMessage());
        assertArrayEquals(new float[] {7, 7, 7, 7, 7, 7, 7, 7}, y);
        assertArrayEquals(new float[] {0, 0}, bn.runningMean());
        assertArrayEquals(new float[] {1, 1}, bn.runningVar());
        assertEquals(0, bn.numBatchesTracked());
    }

    @Test
    void underSkipUpdateSuchABatchIsNormalizedRightAndCountedButNotTracked() {
        BatchNorm1d bn = new BatchNorm1d(2);
        bn.setNonFinitePolicy(NonFinitePolicy.SKIP_UPDATE);
        float[] y = new float[8];
        bn.forward(TensorShape.nc(4, 2), HUGE_BATCH, y);
        assertEquals(1, bn.skippedBatches());
        assertEquals(0, bn.numBatchesTracked());
        assertArrayEquals(new float[] {0, 0}, bn.runningMean());
        assertArrayEquals(new float[] {1, 1}, bn.runningVar());
        // channel 0 is +-1e20 around 0: normalized to +-1; channel 1 is 1..4
        double mean1 = 2.5;
        double sd1 = Math.sqrt(1.25 + 1e-5);
        float[] expected = {1, (float) ((1 - mean1) / sd1), -1, (float) ((2 - mean1) / sd1), 1,
            (float) ((3 - mean1) / sd1), -1, (float) ((4 - mean1) / sd1)};
        for (int i = 0; i < 8; i++) {
            assertEquals(expected[i], y[i], 1e-6, "y[" + i + "]");
        }
    }

    @Test
    void noFiniteBatchEverLeavesARunningStatisticInfinite() {
        java.util.Random random = new java.util.Random(5);
        for (int trial = 0; trial < 150; trial++) {
            BatchNorm1d bn = new BatchNorm1d(2);
            bn.setNonFinitePolicy(NonFinitePolicy.SKIP_UPDATE);
            float[] x = new float[8];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) ((random.nextBoolean() ? 1 : -1) * Math.pow(10, 20 + random.nextDouble() * 18));
            }
            bn.forward(TensorShape.nc(4, 2), x, new float[8]);
            for (int c = 0; c < 2; c++) {
                assertTrue(Float.isFinite(bn.runningMean()[c]) && Float.isFinite(bn.runningVar()[c]),
                        "trial " + trial + ": running statistics " + bn.runningMean()[c] + ", " + bn.runningVar()[c]);
            }
        }
    }

    // ---------------------------------------------------------------- state dicts

    private static Map<String, Tensor> validState(BatchNormLayer bn) {
        return new LinkedHashMap<>(bn.stateDict(""));
    }

    @Test
    void tensorsAreConsistentByConstruction() {
        IllegalArgumentException shortData = assertThrows(IllegalArgumentException.class,
                () -> new Tensor("F32", new long[] {3}, new byte[8]));
        assertTrue(shortData.getMessage().contains("needs 12 data bytes, got 8"), shortData.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Tensor("F32", new long[] {1L << 62}, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> new Tensor("F32", new long[] {(1L << 62) + 1}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> new Tensor("I64", new long[] {1L << 61}, new byte[0]));
        IllegalArgumentException wraps = assertThrows(IllegalArgumentException.class,
                () -> new Tensor("I64", new long[] {1L << 32, 1L << 32}, new byte[8]));
        assertTrue(wraps.getMessage().contains("more bytes than one array holds"), wraps.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Tensor("F16", new long[] {1}, new byte[2]));
        assertThrows(NullPointerException.class, () -> new Tensor("F32", null, new byte[0]));
        // empty tensors are tensors
        assertEquals(0, new Tensor("F32", new long[] {1L << 40, 0}, new byte[0]).elementCount());
        // copied in and out
        long[] shape = {1};
        byte[] data = new byte[4];
        Tensor t = new Tensor("F32", shape, data);
        shape[0] = 2;
        data[0] = 1;
        t.shape()[0] = 3;
        assertArrayEquals(new long[] {1}, t.shape());
        assertArrayEquals(new byte[4], t.data());
    }

    @Test
    void aNullEntryIsRefusedWithItsNameAndNothingIsLoaded() {
        BatchNorm1d bn = new BatchNorm1d(3);
        Map<String, Tensor> state = validState(bn);
        state.put("weight", Tensor.ofFloats(new float[] {9, 9, 9}, 3));
        state.put("bias", null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bn.loadStateDict(state, ""));
        assertTrue(e.getMessage().contains("'bias'") && e.getMessage().contains("is null"), e.getMessage());
        assertArrayEquals(new float[] {1, 1, 1}, bn.weight(), "weight must not have been loaded");
    }

    @Test
    void nullPrefixIsAnError() {
        BatchNorm1d bn = new BatchNorm1d(3);
        NullPointerException e = assertThrows(NullPointerException.class, () -> bn.stateDict(null));
        assertTrue(e.getMessage().contains("prefix"), e.getMessage());
    }

    // ---------------------------------------------------------------- safetensors files

    /** A file of this header, unpadded, and data (the specification's layout: see SafeTensorsStateTest). */
    private static byte[] file(String header, byte[] data) {
        return SafeTensorsStateTest.fixture(header, 0, data);
    }

    private static byte[] file(byte[] header, byte[] data) {
        return SafeTensorsStateTest.fixture(header, 0, data);
    }

    private static IllegalArgumentException refused(byte[] bytes) {
        return assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(bytes));
    }

    @Test
    void shapesWhoseByteCountOverflowsAreRefusedByName() {
        IllegalArgumentException e = refused(file(
                "{\"n\":{\"dtype\":\"I64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", new byte[8]));
        assertTrue(e.getMessage().contains("tensor n"), e.getMessage());
        refused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", new byte[0]));
        refused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905],\"data_offsets\":[0,4]}}", new byte[4]));
        refused(file("{\"w\":{\"dtype\":\"I64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", new byte[0]));
    }

    @Test
    void duplicateKeysAreRefusedEvenAfterANull() {
        String entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        IllegalArgumentException top = refused(file("{\"w\":null,\"w\":" + entry + "}", new byte[4]));
        assertTrue(top.getMessage().contains("duplicate key w"), top.getMessage());
        refused(file("{\"w\":{\"dtype\":null,\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]));
    }

    @Test
    void invalidUtf8InTheHeaderIsRefused() {
        byte[] name = "{\"w\u00e9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] broken = name.clone();
        for (int i = 0; i < broken.length; i++) {
            if (broken[i] == (byte) 0xC3) {
                broken[i + 1] = '!';  // a lead byte without its continuation
            }
        }
        assertEquals(1, SafeTensors.read(file(name, new byte[4])).size());
        assertTrue(refused(file(broken, new byte[4])).getMessage().contains("UTF-8"));
        byte[] meta = "{\"__metadata__\":{\"k\":\"\u00e9\"}}".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < meta.length; i++) {
            if (meta[i] == (byte) 0xA9) {
                meta[i] = (byte) 0xFF;
            }
        }
        refused(file(meta, new byte[0]));
    }

    @Test
    void deepNestingIsRefusedNotRecursedInto() {
        String deep = "[".repeat(200_000);
        IllegalArgumentException e = refused(file("{\"__metadata__\":" + deep + "}", new byte[0]));
        assertTrue(e.getMessage().contains("nested deeper"), e.getMessage());
    }

    @Test
    void malformedEntriesAreRefusedWithMessagesNotJvmExceptions() {
        String[] headers = {
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}",
            "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
            "{\"w\\uZZZZ\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[-],\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[\u0661],\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
            "{\"w\":[1,2]}",
            "{\"__metadata__\":{\"k\":1}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}",
        };
        for (String h : headers) {
            IllegalArgumentException e = refused(file(h, new byte[4]));
            assertEquals(IllegalArgumentException.class, e.getClass(), h);
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), h);
        }
    }

    @Test
    void aMalformedFileIsAnIOExceptionNamingTheFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, file("{\"w\":null,\"w\":null}", new byte[0]));
        IOException e = assertThrows(IOException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("duplicate"), e.getMessage());
        BatchNorm1d bn = new BatchNorm1d(2);
        assertThrows(IOException.class, () -> bn.load(f));
    }

    @Test
    void writtenNamesAreValidJsonAndReadBack() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("a\nb", Tensor.ofFloats(new float[] {1}, 1));
        t.put("c\u0001\"\\d", Tensor.ofFloats(new float[] {2}, 1));
        Map<String, Tensor> back = SafeTensors.read(SafeTensors.write(t));
        assertEquals(t.keySet(), back.keySet());
        assertEquals(t.get("a\nb"), back.get("a\nb"));
        String header = new String(SafeTensors.write(t), 8, 40, StandardCharsets.UTF_8);
        assertTrue(!header.contains("\n") && !header.contains("\u0001"), header);
    }

    @Test
    void writeRefusesWhatItsReaderWouldRefuse() {
        Map<String, Tensor> meta = Map.of("__metadata__", Tensor.ofFloats(new float[] {1}, 1));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(meta)).getMessage()
                .contains("reserved"));
        Map<String, Tensor> nul = new LinkedHashMap<>();
        nul.put("w", null);
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(nul));
        Map<String, Tensor> surrogate = Map.of("w\ud800", Tensor.ofFloats(new float[] {1}, 1));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(surrogate));
    }

    // ---------------------------------------------------------------- small APIs

    @Test
    void anOverflowingMergeIsRefusedAndChangesNothing() {
        ChannelStatistics a = ChannelStatistics.of(Long.MAX_VALUE, new double[] {1}, new double[] {1});
        ChannelStatistics b = ChannelStatistics.of(1, new double[] {1}, new double[] {0});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.merge(b));
        assertTrue(e.getMessage().contains("overflows"), e.getMessage());
        assertEquals(Long.MAX_VALUE, a.count());
        assertEquals(1, a.m2(0));
    }

    @Test
    void aPartialOverlapOfDxWithDyNamesBoth() {
        TensorShape shape = TensorShape.nc(4, 2);
        float[] buf = new float[16];
        float[] x = new float[8];
        float[] stat = {0, 0};
        float[] inv = {1, 1};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Calls.backward(BatchNorm.get(), shape, x, 0, buf, 0, null, 0, buf, 2, null, stat, inv, true, Activation.IDENTITY, null, null));
        assertTrue(e.getMessage().startsWith("dx overlaps dy"), e.getMessage());
        MemorySegment seg = MemorySegment.ofArray(new float[16]);
        IllegalArgumentException s = assertThrows(IllegalArgumentException.class, () -> Calls.backward(BatchNorm.get(), shape, MemorySegment.ofArray(x), seg.asSlice(0, 32), null, seg.asSlice(8, 32), null, stat, inv,
                        true, Activation.IDENTITY, null, null));
        assertTrue(s.getMessage().startsWith("dx overlaps dy"), s.getMessage());
    }
}
