/**
 * Batch-normalization kernels for {@code float} tensors on the Panama Vector API, with a scalar
 * twin that runs where the incubating {@code jdk.incubator.vector} module is not present.
 */
module io.github.panamabn.kernels {
    // Optional at run time: without it the scalar kernels are selected.
    requires static jdk.incubator.vector;

    exports io.github.panamabn.kernels;
}
