/** The safetensors file format, for exchanging layer state with PyTorch. */
package io.github.panamabn.nn.safetensors;
