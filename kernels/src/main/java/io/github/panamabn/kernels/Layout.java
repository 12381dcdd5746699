package io.github.panamabn.kernels;

/**
 * Memory layout of a batch-norm tensor with dimensions N, C and spatial dimensions S1..Sk.
 *
 * <p>With no spatial dimension (or all spatial dimensions of size 1) both layouts describe the
 * same memory, {@code [N][C]}, and the kernels treat them alike.
 */
public enum Layout {
    /** {@code [N][C][S1]..[Sk]}: NC, NCL, NCHW, NCDHW. A channel is N contiguous runs. */
    CHANNELS_FIRST,
    /** {@code [N][S1]..[Sk][C]}: NLC, NHWC, NDHWC. A channel is strided by C. */
    CHANNELS_LAST
}
