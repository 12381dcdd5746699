package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.TensorShape;

/**
 * One kernel call: its arguments, the pieces its work is cut into, and the per-channel state between
 * its phases. Each thread has one, reused from call to call, so a call allocates nothing once its
 * thread has seen a tensor of that size. References to the caller's tensors are dropped when the
 * call returns. The facade binds the call's {@link Operand}s, then runs one entry point with the
 * values that are not tensors.
 *
 * <p>Determinism: how a tensor is cut for a reduction depends on its shape alone, and partial results
 * are merged in a fixed order, so the result is the same bits on one thread or many. Channels-first
 * channels are cut into chunks of whole samples of at least {@link #CHUNK} floats; channels-last rows
 * into stripes of at least {@link #STRIPE} floats, and those into blocks of channels. Elementwise
 * work may be cut anywhere.
 *
 * <p>Memory order: every phase reads the tensor front to back, as the hardware prefetchers like best.
 * A reduction phase and an elementwise phase run one after the other, with a merge of the partial
 * results on the calling thread between them. (Normalizing each channels-first channel right after
 * its statistics, while it is cached, measured slower here: the channel's runs lie far apart, and the
 * pass that writes y is bound by the writes, which no cache saves.)
 */
public final class KernelCall implements WorkerPool.Tasks {
    /** Channels-first: the least floats of one channel in a statistics chunk (whole samples). */
    static final long CHUNK = 1 << 13;
    /** Channels-last: the least floats in a stripe of rows. */
    static final long STRIPE = 1 << 18;
    /** Channels-last: stripes are whole multiples of this many rows (the backends' row blocks). */
    static final long STRIPE_ROWS = 256;
    /** Channels-last: channels per block of a stripe. */
    static final int CHANNEL_BLOCK = 512;
    /**
     * Channels-first backward: runs shorter than this (a group of four vectors at the widest vectors)
     * are summed channel by channel (see {@link #gradientSumsTask}).
     */
    static final long SHORT_RUN = 64;
    /** Floats per elementwise task. */
    static final long TASK = 1 << 16;
    /** Tensors with fewer elements run on the calling thread alone: waking workers would cost more. */
    public static final long PARALLEL_MIN = 1 << 17;
    /** Below this variance float products may underflow: such a channel is recomputed in double. */
    static final double TINY_VARIANCE = 0x1p-100;
    /**
     * A pivot at least this large proves a channel with M2 exactly 0 constant: any other element is at
     * least 2^-74 away from it, and float Welford then adds at least 2^-149 to M2.
     */
    static final float PROVING_PIVOT = 0x1p-50f;
    /** Beyond this, x - mean may overflow float, so a channel's largest deviation is checked. */
    static final double MAX_CENTERED = Float.MAX_VALUE / 4;

    private static final ThreadLocal<KernelCall> PER_THREAD = ThreadLocal.withInitial(KernelCall::new);

    // What run(task) does.
    private static final int STATISTICS = 0;
    private static final int NORMALIZE = 1;
    private static final int GRADIENT_SUMS = 2;
    private static final int APPLY = 3;

    /** This thread's scratch for the backend's loops, whichever call it works for. */
    private float[] scratch = new float[0];
    /** This thread's decoded elementwise task, whichever call it works for. */
    private final Piece piece = new Piece();

    private KernelBackend backend;
    private WorkerPool pool;
    private boolean parallel;
    private int op;

    private TensorShape shape;
    private int channels;
    private long spatial;
    private long batch;
    private long count;
    private boolean channelsLast;
    /** Channels-last: x (and dy) exceed the last-level cache, so their rows stream from memory. */
    private boolean streaming;

    /** The input. */
    public final Operand x = new Operand();
    /** The output of a forward. */
    public final Operand y = new Operand();
    /** The output gradient of a backward. */
    public final Operand dy = new Operand();
    /** A backward's forward output, read for a fused ReLU's mask; unset without one. */
    public final Operand relu = new Operand();
    /** The input gradient of a backward; unset when only the parameter gradients are asked for. */
    public final Operand dx = new Operand();

    // Reductions: channels-first chunks (and groups of channels per task), channels-last stripes and
    // channel blocks.
    private long samplesPerChunk;
    private int chunks;
    private int channelGroup;
    private int channelGroups;
    private long rowsPerStripe;
    private int stripes;
    private int channelBlocks;
    // Elementwise tasks: channels-last row ranges; channels-first a grid of samples x channels x pieces.
    private long rowsPerTask;
    private long samplesPerTask;
    private int channelsPerTask;
    private int piecesPerRun;
    private int elementTasks;
    /** Channels-first backward: the gradient sums taken channel by channel rather than in memory order. */
    private boolean channelByChannel;

    // Per channel. mean and m2 hold the gradient sums in backward.
    private double[] mean = new double[0];
    private double[] m2 = new double[0];
    private double[] invStd = new double[0];
    private double[] scaleD = new double[0];
    private double[] shiftD = new double[0];
    private float[] pivots = new float[0];
    private float[] center = new float[0];
    private float[] scale = new float[0];
    private float[] shift = new float[0];
    private float[] k1 = new float[0];
    private float[] k2 = new float[0];
    private float[] k3 = new float[0];
    private boolean[] doublePath = new boolean[0];
    // Partial results, one per (channel, chunk) or per (stripe, channel).
    private double[] partA = new double[0];
    private double[] partB = new double[0];

    private float[] gamma;
    private float[] invStdIn;
    private float eps;
    private float floor;
    private long statCount;
    private boolean training;

    private KernelCall() {
    }

    /**
     * This thread's call, set up for a tensor of {@code shape} on {@code backend}, run by {@code pool}'s
     * threads or, when it is null, by the calling thread alone.
     */
    public static KernelCall begin(KernelBackend backend, WorkerPool pool, TensorShape shape) {
        KernelCall call = PER_THREAD.get();
        call.setUp(backend, pool, shape);
        return call;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private void setUp(KernelBackend backend, WorkerPool pool, TensorShape shape) {
        this.backend = backend;
        this.pool = pool;
        this.shape = shape;
        channels = shape.channels();
        spatial = shape.spatialSize();
        batch = shape.batch();
        count = shape.perChannelCount();
        channelsLast = shape.isChannelInnermost();
        streaming = channelsLast && Caches.streams(shape.elementCount() * Float.BYTES);
        int parts;
        if (channelsLast) {
            rowsPerStripe = Math.max(STRIPE_ROWS, STRIPE / channels / STRIPE_ROWS * STRIPE_ROWS);
            stripes = Math.toIntExact(ceilDiv(count, rowsPerStripe));
            channelBlocks = (channels + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
            parts = Math.toIntExact((long) stripes * channels);
            rowsPerTask = ceilDiv(Math.max(1, TASK / channels), 16) * 16;
            elementTasks = Math.toIntExact(ceilDiv(count, rowsPerTask));
        } else {
            samplesPerChunk = Math.max(1, CHUNK / spatial);
            chunks = Math.toIntExact(ceilDiv(batch, samplesPerChunk));
            channelGroup = backend.channelGroup();
            channelGroups = (channels + channelGroup - 1) / channelGroup;
            parts = Math.toIntExact((long) channels * chunks);
            piecesPerRun = Math.toIntExact(ceilDiv(spatial, TASK));
            channelsPerTask = (int) Math.max(1, Math.min(channels, TASK / spatial));
            samplesPerTask = Math.max(1, TASK / (spatial * channels));
            elementTasks = Math.toIntExact(ceilDiv(batch, samplesPerTask)
                    * ceilDiv(channels, channelsPerTask) * piecesPerRun);
            channelByChannel = spatial < SHORT_RUN;
        }
        if (mean.length < channels) {
            mean = new double[channels];
            m2 = new double[channels];
            invStd = new double[channels];
            scaleD = new double[channels];
            shiftD = new double[channels];
            pivots = new float[channels];
            center = new float[channels];
            scale = new float[channels];
            shift = new float[channels];
            k1 = new float[channels];
            k2 = new float[channels];
            k3 = new float[channels];
            doublePath = new boolean[channels];
        }
        if (partA.length < parts) {
            partA = new double[parts];
            partB = new double[parts];
        }
        scratch(backend);
    }

    /** The running thread's scratch, grown for {@code backend}. */
    private static float[] scratch(KernelBackend backend) {
        KernelCall own = PER_THREAD.get();
        if (own.scratch.length < backend.scratchFloats()) {
            own.scratch = new float[backend.scratchFloats()];
        }
        return own.scratch;
    }

    /** Whether this call may use the pool: a large tensor, and segments the workers may touch. */
    private boolean mayRunInParallel() {
        return pool != null && shape.elementCount() >= PARALLEL_MIN && pool.canShare(x.segment)
                && pool.canShare(y.segment) && pool.canShare(dy.segment) && pool.canShare(relu.segment)
                && pool.canShare(dx.segment);
    }

    /** Runs the call on arrays when every segment lies on one (see {@link Operand#liesOnArray}). */
    private void useBackingArrays() {
        if (x.liesOnArray() && y.liesOnArray() && dy.liesOnArray() && relu.liesOnArray() && dx.liesOnArray()) {
            x.moveToArray();
            y.moveToArray();
            dy.moveToArray();
            relu.moveToArray();
            dx.moveToArray();
        }
    }

    private void runTasks(int what, int tasks) {
        op = what;
        if (tasks > 1 && parallel && pool.run(this, tasks)) {
            return;
        }
        for (int t = 0; t < tasks; t++) {
            run(t);
        }
    }

    @Override
    public void run(int task) {
        switch (op) {
            case STATISTICS -> statisticsTask(task);
            case NORMALIZE -> normalizeTask(task);
            case GRADIENT_SUMS -> gradientSumsTask(task);
            case APPLY -> applyTask(task);
            default -> throw new AssertionError(op);
        }
    }

    /** Drops every reference to the caller's data. */
    private void release() {
        x.clear();
        y.clear();
        dy.clear();
        relu.clear();
        dx.clear();
        gamma = null;
        invStdIn = null;
        shape = null;
    }

    // ---------------------------------------------------------------- entry points

    /**
     * Per-channel mean and M2 of {@link #x} into {@code outMean} and {@code outM2}.
     *
     * @return the element count per channel
     */
    public long statistics(double[] outMean, double[] outM2) {
        try {
            prepare();
            computeStatistics();
            System.arraycopy(mean, 0, outMean, 0, channels);
            System.arraycopy(m2, 0, outM2, 0, channels);
            return count;
        } finally {
            release();
        }
    }

    /**
     * Training-mode forward of {@link #x} into {@link #y}: the batch statistics, then
     * {@code y = max((x - mean) * gamma / sqrt(var + eps) + beta, floor)}.
     *
     * @param outMean receives the means, or null; likewise {@code outM2}
     * @param saveMean receives the means as floats, or null; {@code saveInvStd} 1 / sqrt(var + eps)
     * @return the element count per channel
     */
    public long forwardTraining(float[] gamma, float[] beta, float eps, float floor, double[] outMean,
                                double[] outM2, float[] saveMean, float[] saveInvStd) {
        try {
            prepare();
            computeStatistics();
            statCount = count;
            normalizeWithStatistics(gamma, beta, eps, floor, saveMean, saveInvStd);
            if (outMean != null) {
                System.arraycopy(mean, 0, outMean, 0, channels);
                System.arraycopy(m2, 0, outM2, 0, channels);
            }
            return count;
        } finally {
            release();
        }
    }

    /**
     * As {@link #forwardTraining}, with given statistics (mean and M2 over {@code givenCount} elements
     * per channel) instead of the batch's.
     */
    public void forwardWithStatistics(double[] givenMean, double[] givenM2, long givenCount, float[] gamma,
                                      float[] beta, float eps, float floor, float[] saveMean, float[] saveInvStd) {
        try {
            prepare();
            System.arraycopy(givenMean, 0, mean, 0, channels);
            System.arraycopy(givenM2, 0, m2, 0, channels);
            statCount = givenCount;
            normalizeWithStatistics(gamma, beta, eps, floor, saveMean, saveInvStd);
        } finally {
            release();
        }
    }

    /** Normalizes with {@code mean}, {@code m2} and {@code statCount}, saving the mean and invStd asked for. */
    private void normalizeWithStatistics(float[] gamma, float[] beta, float eps, float floor, float[] saveMean,
                                         float[] saveInvStd) {
        this.eps = eps;
        this.floor = floor;
        for (int c = 0; c < channels; c++) {
            prepareNormalization(c, gamma, beta);
        }
        normalizeAll();
        for (int c = 0; c < channels; c++) {
            if (saveMean != null) {
                saveMean[c] = (float) mean[c];
            }
            if (saveInvStd != null) {
                saveInvStd[c] = (float) invStd[c];
            }
        }
    }

    /** Whether this call may use the workers, and its operands on arrays where they can be. */
    private void prepare() {
        parallel = mayRunInParallel();
        useBackingArrays();
    }

    /**
     * Forward of {@link #x} into {@link #y} with given statistics:
     * {@code y = max((x - mean) * gamma / sqrt(var + eps) + beta, floor)}.
     */
    public void forwardInference(float[] runningMean, float[] runningVar, float[] gamma, float[] beta, float eps,
                                 float floor) {
        try {
            prepare();
            this.floor = floor;
            for (int c = 0; c < channels; c++) {
                setAffine(c, runningMean[c], 1 / Math.sqrt((double) runningVar[c] + eps), gamma, beta);
                doublePath[c] = false;
            }
            runTasks(NORMALIZE, elementTasks);
        } finally {
            release();
        }
    }

    /**
     * Backward from {@link #dy} and {@link #x} ({@link #relu} bound for a fused ReLU): the gradient sums
     * per channel (when {@code training} or a parameter gradient is wanted), then, when {@link #dx} is
     * bound, {@code dx = k1 * g + k2 * (x - mean) + k3}; see the facade for the formulas.
     *
     * @param dgamma receives the weight gradient, or null; {@code dbeta} the bias gradient
     */
    public void backward(float[] gamma, float[] saveMean, float[] saveInvStd, boolean training, float[] dgamma,
                         float[] dbeta) {
        try {
            this.gamma = gamma;
            this.invStdIn = saveInvStd;
            this.training = training;
            prepare();
            System.arraycopy(saveMean, 0, center, 0, channels);
            if (!training && dgamma == null && dbeta == null) {
                for (int c = 0; c < channels; c++) {
                    mean[c] = 0;
                    m2[c] = 0;
                    coefficients(c);
                }
            } else {
                runTasks(GRADIENT_SUMS, reductionTasks());
                for (int c = 0; c < channels; c++) {
                    mergeSums(c);
                    coefficients(c);
                }
            }
            if (dx.isSet()) {
                runTasks(APPLY, elementTasks);
            }
            for (int c = 0; c < channels; c++) {
                if (dbeta != null) {
                    dbeta[c] = (float) mean[c];
                }
                if (dgamma != null) {
                    dgamma[c] = (float) (m2[c] * saveInvStd[c]);
                }
            }
        } finally {
            release();
        }
    }

    // ---------------------------------------------------------------- statistics

    private int reductionTasks() {
        return channelsLast ? stripes * channelBlocks : chunks * channelGroups;
    }

    /** Each channel's pivot: its first element. */
    private void setPivots() {
        for (int c = 0; c < channels; c++) {
            pivots[c] = x.get(channelsLast ? c : c * spatial);
        }
    }

    private void computeStatistics() {
        setPivots();
        runTasks(STATISTICS, reductionTasks());
        for (int c = 0; c < channels; c++) {
            mergeStatistics(c);
            finishStatistics(c);
        }
    }

    private void statisticsTask(int task) {
        if (channelsLast) {
            int s = task / channelBlocks;
            int c0 = task % channelBlocks * CHANNEL_BLOCK;
            long r0 = s * rowsPerStripe;
            backend.rowStatistics(x.array, x.segment, x.base + r0 * channels, Math.min(rowsPerStripe, count - r0),
                    channels, c0, Math.min(channels, c0 + CHANNEL_BLOCK), pivots, partA, partB, s * channels,
                            scratch(backend), streaming);
        } else {
            int k = task / channelGroups;
            int c0 = task % channelGroups * channelGroup;
            long n0 = k * samplesPerChunk;
            backend.sampleStatistics(x.array, x.segment, x.base + (n0 * channels + c0) * spatial,
                    Math.min(samplesPerChunk, batch - n0), Math.min(channelGroup, channels - c0), spatial,
                    channels * spatial, pivots, c0, partA, partB, c0 * chunks + k, chunks, scratch(backend));
        }
    }

    /** Channel c's statistics: its partial statistics merged in their fixed order. */
    private void mergeStatistics(int c) {
        long na = 0;
        if (channelsLast) {
            for (int s = 0; s < stripes; s++) {
                long nb = Math.min(rowsPerStripe, count - s * rowsPerStripe);
                Welford.merge(mean, m2, c, na, nb, partA[s * channels + c], partB[s * channels + c]);
                na += nb;
            }
        } else {
            for (int k = 0; k < chunks; k++) {
                long nb = Math.min(samplesPerChunk, batch - k * samplesPerChunk) * spatial;
                Welford.merge(mean, m2, c, na, nb, partA[c * chunks + k], partB[c * chunks + k]);
                na += nb;
            }
        }
    }

    /**
     * Recomputes channel c in double where float arithmetic may have failed it: its statistics are not
     * finite (squares overflowed, or the data are not finite), or its variance is so small that float
     * products may have underflowed. A channel with M2 exactly 0 is constant, and exact, when its pivot
     * proves it (see {@link #PROVING_PIVOT}) or a scan does.
     */
    private void finishStatistics(int c) {
        double m = mean[c];
        double q = m2[c];
        boolean recompute;
        if (!Double.isFinite(m) || !Double.isFinite(q)) {
            recompute = true;
        } else if (q / count >= TINY_VARIANCE) {
            recompute = false;
        } else if (q == 0 && m == pivots[c]) {
            recompute = !(Math.abs(pivots[c]) >= PROVING_PIVOT || isConstant(c));
        } else {
            recompute = true;
        }
        if (recompute) {
            Welford.recomputeInDouble(shape, x.array, x.segment, x.base, c, mean, m2);
        }
    }

    private boolean isConstant(int c) {
        if (!channelsLast) {
            return backend.runsEqual(x.array, x.segment, x.base + c * spatial, channels * spatial, spatial, batch,
                    pivots[c]);
        }
        for (long row = 0; row < count; row++) {
            if (x.get(row * channels + c) != pivots[c]) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- normalization

    /**
     * Center, scale and shift of channel c from its statistics; and whether the channel needs the
     * double path, its values lying further from the mean than float's range.
     */
    private void prepareNormalization(int c, float[] gamma, float[] beta) {
        double sigma = Math.sqrt(m2[c] / statCount);
        setAffine(c, mean[c], 1 / Math.sqrt(m2[c] / statCount + eps), gamma, beta);
        double range = sigma + Math.abs(mean[c]);
        doublePath[c] = Double.isFinite(range) && range >= MAX_CENTERED
                && Welford.largestDeviation(shape, x.array, x.segment, x.base, c, mean[c]) >= Float.MAX_VALUE / 2;
    }

    /**
     * The mean is split into its float part, subtracted from x exactly (or nearly: x is close to it),
     * and the rest, folded into the shift; so a large mean offset costs the output no accuracy, and a
     * constant channel still comes out as exactly beta.
     */
    private void setAffine(int c, double mu, double is, float[] gamma, float[] beta) {
        float ctr = (float) mu;
        double sc = gamma == null ? is : gamma[c] * is;
        double b = beta == null ? 0 : beta[c];
        invStd[c] = is;
        center[c] = ctr;
        scale[c] = (float) sc;
        shift[c] = (float) (b - (mu - ctr) * sc);
        scaleD[c] = sc;
        shiftD[c] = b;
    }

    private void normalizeAll() {
        boolean anyDouble = false;
        for (int c = 0; c < channels; c++) {
            anyDouble |= doublePath[c];
        }
        if (channelsLast && anyDouble) {
            normalizeMixedRows();
            return;
        }
        runTasks(NORMALIZE, elementTasks);
    }

    private void normalizeTask(int task) {
        if (channelsLast) {
            long r0 = task * rowsPerTask;
            backend.normalizeRows(x.array, x.segment, x.base + r0 * channels, y.array, y.segment,
                    y.base + r0 * channels, Math.min(rowsPerTask, count - r0), channels, center, scale, shift, floor,
                    scratch(backend));
            return;
        }
        Piece p = PER_THREAD.get().piece.of(this, task);
        for (int c = p.c0; c < p.c1; c++) {
            long at = (p.n0 * channels + c) * spatial + p.s0;
            if (doublePath[c]) {
                normalizeRunsInDouble(c, p.n0, p.runs, p.s0, p.length);
            } else {
                backend.normalizeRuns(x.array, x.segment, x.base + at, y.array, y.segment, y.base + at,
                        channels * spatial, p.length, p.runs, center[c], scale[c], shift[c], floor);
            }
        }
    }

    private void normalizeRunsInDouble(int c, long n0, long runs, long s0, long length) {
        for (long n = n0; n < n0 + runs; n++) {
            long at = (n * channels + c) * spatial + s0;
            Welford.normalizeInDouble(x.array, x.segment, x.base + at, y.array, y.segment, y.base + at, length,
                    mean[c], scaleD[c], shiftD[c], floor);
        }
    }

    /** Channels-last with some channel on the double path: element by element, on this thread. */
    private void normalizeMixedRows() {
        for (long row = 0; row < count; row++) {
            long r = row * channels;
            for (int c = 0; c < channels; c++) {
                if (doublePath[c]) {
                    Welford.normalizeInDouble(x.array, x.segment, x.base + r + c, y.array, y.segment, y.base + r + c,
                            1, mean[c], scaleD[c], shiftD[c], floor);
                } else {
                    ScalarBackend.normalizeRun(x.array, x.segment, x.base + r + c, y.array, y.segment, y.base + r + c,
                            1, center[c], scale[c], shift[c], floor);
                }
            }
        }
    }

    // ---------------------------------------------------------------- backward

    private void gradientSumsTask(int task) {
        if (channelsLast) {
            int s = task / channelBlocks;
            int c0 = task % channelBlocks * CHANNEL_BLOCK;
            long first = s * rowsPerStripe * channels;
            backend.rowGradientSums(dy.array, dy.segment, dy.base + first, x.array, x.segment, x.base + first,
                    relu.array, relu.segment, relu.base + first, Math.min(rowsPerStripe, count - s * rowsPerStripe),
                    channels, c0, Math.min(channels, c0 + CHANNEL_BLOCK), center, partA, partB, s * channels,
                    scratch(backend), streaming);
        } else {
            int k = task / channelGroups;
            int c0 = task % channelGroups * channelGroup;
            int c1 = Math.min(channels, c0 + channelGroup);
            long n0 = k * samplesPerChunk;
            long n1 = Math.min(batch, n0 + samplesPerChunk);
            float[] own = scratch(backend);
            for (int c = c0; c < c1; c++) {
                partA[c * chunks + k] = 0;
                partB[c * chunks + k] = 0;
            }
            // Runs in memory order, one call each; but short runs, where a reduction to double per run
            // would cost more than leaving memory order does, channel by channel: a channel's runs of the
            // chunk in one call, its accumulators carried across them.
            long runsPerCall = channelByChannel ? n1 - n0 : 1;
            for (long n = n0; n < n1; n += runsPerCall) {
                for (int c = c0; c < c1; c++) {
                    long at = (n * channels + c) * spatial;
                    backend.runGradientSums(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at,
                            relu.array, relu.segment, relu.base + at, channels * spatial, spatial, runsPerCall,
                            center[c], partA, partB, c * chunks + k, own);
                }
            }
        }
    }

    /** Channel c's gradient sums into mean[c] and m2[c]: the partial sums added in their fixed order. */
    private void mergeSums(int c) {
        double s1 = 0;
        double s2 = 0;
        int parts = channelsLast ? stripes : chunks;
        for (int p = 0; p < parts; p++) {
            int i = channelsLast ? p * channels + c : c * chunks + p;
            s1 += partA[i];
            s2 += partB[i];
        }
        mean[c] = s1;
        m2[c] = s2;
    }

    /** {@code dx = k1 * g + k2 * (x - mean) + k3} of channel c from its sums. */
    private void coefficients(int c) {
        double is = invStdIn[c];
        double g = gamma == null ? 1 : gamma[c];
        double m = count;
        k1[c] = (float) (g * is);
        k2[c] = training ? (float) (-g * is * is * is * m2[c] / m) : 0f;
        k3[c] = training ? (float) (-g * is * mean[c] / m) : 0f;
    }

    private void applyTask(int task) {
        if (channelsLast) {
            long first = task * rowsPerTask * channels;
            backend.applyGradientRows(dy.array, dy.segment, dy.base + first, x.array, x.segment, x.base + first,
                    relu.array, relu.segment, relu.base + first, dx.array, dx.segment, dx.base + first,
                    Math.min(rowsPerTask, count - task * rowsPerTask), channels, center, k1, k2, k3, scratch(backend));
            return;
        }
        Piece p = PER_THREAD.get().piece.of(this, task);
        for (int c = p.c0; c < p.c1; c++) {
            long at = (p.n0 * channels + c) * spatial + p.s0;
            backend.applyGradientRuns(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at,
                    relu.array, relu.segment, relu.base + at, dx.array, dx.segment, dx.base + at, channels * spatial,
                    p.length, p.runs, center[c], k1[c], k2[c], k3[c]);
        }
    }

    /**
     * One channels-first elementwise task of a call's grid (samples x groups of channels x pieces of a
     * run): channels {@code [c0, c1)} of {@code runs} samples from {@code n0}, spatial positions
     * {@code [s0, s0 + length)}.
     */
    private static final class Piece {
        int c0;
        int c1;
        long n0;
        long runs;
        long s0;
        long length;

        Piece of(KernelCall call, int task) {
            int piece = task % call.piecesPerRun;
            long rest = task / call.piecesPerRun;
            long groups = ceilDiv(call.channels, call.channelsPerTask);
            c0 = (int) (rest % groups) * call.channelsPerTask;
            c1 = Math.min(call.channels, c0 + call.channelsPerTask);
            n0 = rest / groups * call.samplesPerTask;
            runs = Math.min(call.samplesPerTask, call.batch - n0);
            long pieceLength = ceilDiv(call.spatial, call.piecesPerRun);
            s0 = piece * pieceLength;
            length = Math.min(pieceLength, call.spatial - s0);
            return this;
        }
    }
}
