package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.panamabn.kernels.internal.PanamaBackend;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The loops run at the width asked for: the build runs the property suites again with
 * {@code -Dpanamabn.vectorBits=128} and {@code 256} (the pom's width executions), so a machine with
 * wider vectors also proves the narrower widths, and this test fails if the property did not take; the
 * same for the order of channels-first statistics (the pom's memory-order execution).
 */
class VectorWidthTest {
    @Test
    void theLoopsRunAtTheAskedWidthOrThePreferredOne() {
        int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        String asked = System.getProperty(PanamaBackend.WIDTH_PROPERTY);
        int expected = asked == null ? preferred : Math.min(Integer.parseInt(asked), preferred);
        assertEquals(expected, PanamaBackend.vectorBitSize());
        System.out.println("Vector width: " + PanamaBackend.vectorBitSize() + " bits (preferred " + preferred + ")");
    }

    /** Likewise the memory-order execution's {@code -Dpanamabn.residentBytes=0}. */
    @Test
    void channelsFirstStatisticsRunInTheAskedOrder() {
        String asked = System.getProperty(PanamaBackend.RESIDENT_PROPERTY);
        assertEquals(asked == null ? 256 << 10 : Long.parseLong(asked), PanamaBackend.RESIDENT);
    }
}
