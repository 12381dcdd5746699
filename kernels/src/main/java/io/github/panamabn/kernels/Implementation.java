package io.github.panamabn.kernels;

/** A kernel implementation. Both compute the same results within the documented tolerances. */
public enum Implementation {
    /** Plain Java loops; the reference for behaviour, and the fallback without the Vector API. */
    SCALAR,
    /** SIMD loops on the Panama Vector API ({@code jdk.incubator.vector}). */
    PANAMA
}
