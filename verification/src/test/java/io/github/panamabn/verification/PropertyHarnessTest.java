package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The harness itself: edge cases first, seeded reproducibility, shrinking, and a useful message. */
class PropertyHarnessTest {

    @Test
    void failureShrinksToTheSmallestFailingShapeAndPrintsTheSeed() {
        Gen<TensorCase> gen = TensorCase.generator(50_000, DataFamily.GAUSSIAN);
        AssertionError e = assertThrows(AssertionError.class, () -> Property.forAll("shrinks", 200, gen, tc -> {
            if (tc.shape().channels() >= 5 && tc.shape().batch() >= 2) {
                throw new AssertionError("too many channels");
            }
        }));
        String m = e.getMessage();
        assertTrue(m.contains("seed "), m);
        assertTrue(m.contains("-Dpanamabn.seed="), m);
        // From any failing case, shrinking reaches exactly C=5, N=2 with every spatial dimension dropped.
        assertTrue(m.contains("smallest: NC[2x5] GAUSSIAN"), m);
    }

    @Test
    void theSameSeedGivesTheSameCases() {
        Gen<TensorCase> gen = TensorCase.generator(50_000, DataFamily.values());
        StringBuilder a = new StringBuilder();
        StringBuilder b = new StringBuilder();
        int tried = Property.forAll("repeat", 20, gen, tc -> a.append(tc).append('\n'));
        Property.forAll("repeat", 20, gen, tc -> b.append(tc).append('\n'));
        assertEquals(a.toString(), b.toString());
        int random = (int) Math.max(1, 20 * Double.parseDouble(System.getProperty("panamabn.tries", "1")));
        assertEquals(gen.edgeCases().size() + random, tried);
    }
}
