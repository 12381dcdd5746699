package io.github.panamabn.kernels.internal;

/**
 * Per-thread scratch of the kernels, grown on demand and reused, so that a call allocates nothing
 * once its thread has seen a shape of that channel count.
 */
public final class Workspace {
    private static final ThreadLocal<Workspace> PER_THREAD = ThreadLocal.withInitial(Workspace::new);

    /** Per-channel center, scale and shift of the normalization, {@code y = (x - center) * scale + shift}. */
    public float[] center = new float[0];
    /** See {@link #center}. */
    public float[] scale = new float[0];
    /** See {@link #scale}. */
    public float[] shift = new float[0];
    /** Per-channel statistics when the caller keeps none; the gradient sums in backward. */
    public double[] mean = new double[0];
    /** See {@link #mean}. */
    public double[] m2 = new double[0];
    /** Backward: per-channel coefficients of {@code dx = gradScale * g + centeredScale * (x - mean) + gradShift}. */
    public float[] gradScale = new float[0];
    /** See {@link #gradScale}. */
    public float[] centeredScale = new float[0];
    /** See {@link #gradScale}. */
    public float[] gradShift = new float[0];
    /** Backend scratch. */
    public float[] scratch = new float[0];

    private Workspace() {
    }

    /** This thread's workspace, with room for {@code channels} channels and the backend's scratch. */
    public static Workspace get(int channels, KernelBackend backend) {
        Workspace w = PER_THREAD.get();
        if (w.scale.length < channels) {
            w.center = new float[channels];
            w.scale = new float[channels];
            w.shift = new float[channels];
            w.gradScale = new float[channels];
            w.centeredScale = new float[channels];
            w.gradShift = new float[channels];
            w.mean = new double[channels];
            w.m2 = new double[channels];
        }
        if (w.scratch.length < backend.scratchFloats()) {
            w.scratch = new float[backend.scratchFloats()];
        }
        return w;
    }
}
