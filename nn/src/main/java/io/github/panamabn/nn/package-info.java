/**
 * The small training framework the layers plug into: {@link io.github.panamabn.nn.Layer},
 * {@link io.github.panamabn.nn.Sequential}, {@link io.github.panamabn.nn.Linear},
 * {@link io.github.panamabn.nn.Activations}, {@link io.github.panamabn.nn.SoftmaxCrossEntropy},
 * {@link io.github.panamabn.nn.Sgd} and {@link io.github.panamabn.nn.Parameter}. The normalization layers,
 * batch norm among them, are in {@link io.github.panamabn.nn.norm}.
 */
package io.github.panamabn.nn;
