/** Trainable layers built on the panama-bn kernels. */
module io.github.panamabn.nn {
    requires transitive io.github.panamabn.kernels;

    exports io.github.panamabn.nn;
    exports io.github.panamabn.nn.norm;
    exports io.github.panamabn.nn.safetensors;
}
