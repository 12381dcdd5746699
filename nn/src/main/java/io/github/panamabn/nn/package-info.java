/**
 * Layers built on the panama-bn kernels. So far: {@link io.github.panamabn.nn.FrozenBatchNorm}, batch
 * norm with fixed statistics and affine parameters, as served for inference.
 */
package io.github.panamabn.nn;
