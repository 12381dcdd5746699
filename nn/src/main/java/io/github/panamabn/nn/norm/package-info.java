/**
 * The normalization layers side by side, with PyTorch's names, defaults and state_dict keys, on the
 * kernels of {@code io.github.panamabn.kernels}: batch norm ({@link io.github.panamabn.nn.norm.BatchNorm1d}/2d/3d
 * on {@link io.github.panamabn.nn.norm.BatchNormLayer}, which keeps running statistics, and
 * {@link io.github.panamabn.nn.norm.FrozenBatchNorm} for serving), and the per-sample norms on
 * {@link io.github.panamabn.nn.norm.NormLayer}: {@link io.github.panamabn.nn.norm.LayerNorm},
 * {@link io.github.panamabn.nn.norm.RMSNorm}, {@link io.github.panamabn.nn.norm.GroupNorm} and
 * {@link io.github.panamabn.nn.norm.InstanceNorm1d}/2d/3d.
 */
package io.github.panamabn.nn.norm;
