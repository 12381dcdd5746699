package io.github.panamabn.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The generated loops are what the template says: a change to one storage's loops that did not go
 * through the template fails here. {@code -Dpanamabn.regenerate=true} writes them instead.
 */
class GeneratedLoopsTest {
    private static final String PACKAGE = "io/github/panamabn/kernels/internal/";
    private static final Path TEMPLATE = Path.of("src/main/template", PACKAGE, "Loops.java.template");

    @Test
    void generatedLoopsMatchTheTemplate() throws IOException {
        String template = Files.readString(TEMPLATE, StandardCharsets.UTF_8);
        boolean regenerate = Boolean.getBoolean("panamabn.regenerate");
        for (LoopsGenerator.Storage storage : LoopsGenerator.Storage.values()) {
            Path file = Path.of("src/main/java", PACKAGE, storage.className + ".java");
            String generated = LoopsGenerator.generate(template, storage);
            if (regenerate) {
                Files.writeString(file, generated, StandardCharsets.UTF_8);
            }
            assertEquals(generated, Files.readString(file, StandardCharsets.UTF_8),
                    file + " differs from what " + TEMPLATE + " generates: edit the template and run this test"
                            + " with -Dpanamabn.regenerate=true");
        }
    }

    @Test
    void macrosExpandPerStorageAndVariant() {
        assertEquals("FloatVector.fromArray(SPECIES, x, (int) (a + i))",
                LoopsGenerator.expand("$LOAD(x, a + i)", LoopsGenerator.Storage.ARRAY, false));
        assertEquals("FloatVector.fromMemorySegment(SPECIES, x, i * Float.BYTES, ORDER)",
                LoopsGenerator.expand("$LOAD(x, i)", LoopsGenerator.Storage.SEGMENT, false));
        assertEquals("v.max(f).intoArray(y, (int) (at + f(1, 2)))",
                LoopsGenerator.expand("$STORE(v.max(f), y, at + f(1, 2))", LoopsGenerator.Storage.ARRAY, false));
        assertEquals("FloatVector.fromArray(SPECIES, dy, (int) i)",
                LoopsGenerator.expand("$GRAD($LOAD(dy, i), y, i)", LoopsGenerator.Storage.ARRAY, false));
        assertEquals("FloatVector.zero(SPECIES).blend(FloatVector.fromArray(SPECIES, dy, (int) i), "
                        + "FloatVector.fromArray(SPECIES, y, (int) i).compare(VectorOperators.GT, 0f))",
                LoopsGenerator.expand("$GRAD($LOAD(dy, i), y, i)", LoopsGenerator.Storage.ARRAY, true));
        assertEquals("(y.getAtIndex(Memory.FLOAT, i) > 0 ? g : 0f)",
                LoopsGenerator.expand("$GRADS(g, y, i)", LoopsGenerator.Storage.SEGMENT, true));
        assertEquals("f(null, null, x, null)",
                LoopsGenerator.expand("f($OPERAND_Y(y), $OPERAND(x))", LoopsGenerator.Storage.ARRAY, false));
    }

    @Test
    void reluBlocksComeTwiceAndUnknownMacrosAreRefused() {
        String text = LoopsGenerator.generate("a\n// $BEGIN_RELU_VARIANTS\nvoid f$R() {}\n// $END_RELU_VARIANTS\n"
                + "segmentLine(); // $SEGMENT_ONLY", LoopsGenerator.Storage.ARRAY);
        assertTrue(text.contains("void f() {}\nvoid fRelu() {}"), text);
        assertTrue(!text.contains("segmentLine"), text);
        assertThrows(IllegalArgumentException.class,
                () -> LoopsGenerator.generate("$NOPE(x)", LoopsGenerator.Storage.ARRAY));
        assertThrows(IllegalArgumentException.class,
                () -> LoopsGenerator.generate("$LOAD(x)", LoopsGenerator.Storage.ARRAY));
    }
}
