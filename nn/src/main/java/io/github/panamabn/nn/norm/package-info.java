/**
 * The per-sample normalization layers, side by side on one base ({@link io.github.panamabn.nn.norm.NormLayer}):
 * {@link io.github.panamabn.nn.norm.LayerNorm}, {@link io.github.panamabn.nn.norm.RMSNorm},
 * {@link io.github.panamabn.nn.norm.GroupNorm} and {@link io.github.panamabn.nn.norm.InstanceNorm1d}/2d/3d,
 * with PyTorch's names, defaults and state_dict keys, on the kernels of {@code io.github.panamabn.kernels}.
 */
package io.github.panamabn.nn.norm;
