package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;

/**
 * One call of a per-sample normalization (layer, RMS, group and instance norm) on this thread: the
 * statistics engine of batch norm cut another way. A <em>unit</em> is the set of elements one mean
 * and variance describe:
 * <ul>
 *   <li>layer and RMS norm: a row of {@code features} contiguous floats (the trailing dimensions);</li>
 *   <li>group norm, channels-first: a (sample, group), also contiguous: {@code C / G} channels' runs;</li>
 *   <li>group norm, channels-last: a (sample, group) spread over the sample's rows: each channel's
 *       moments are taken as batch norm takes them over rows, then the group's channels are merged
 *       with Chan's formula in double.</li>
 * </ul>
 * Instance norm is group norm with one channel per group. Contiguous units (rows, channels-first
 * groups) run a chunk at a time while it is in cache: its moments then its normalization (a fused
 * residual add first), its gradient sums, coefficients then dx; channels-last groups need a sample's
 * moments over all its rows before any output, so they take a pass for each, over a wave of samples at
 * a time when the tensor exceeds the last-level cache (the second pass then reads the wave from cache).
 * Every unit's arithmetic is the same whichever task runs it and however many threads there are: tasks
 * are cut from the shape alone, and sums across units (the parameter gradients) are taken in a fixed
 * order.
 *
 * <p>Like {@link KernelCall}, one instance per thread, set up per call; nothing is allocated once a
 * thread has seen a tensor of that size.
 */
public final class NormCall implements WorkerPool.Tasks {
    /** Floats per task, about. */
    static final long TASK = 1 << 16;
    /** Rows of a channels-last sample per elementwise task, at least. */
    static final long STRIPE_ROWS = 64;
    /** Channels-last: channels per block of a reduction. */
    static final int CHANNEL_BLOCK = 512;
    /** Layer norm parameter gradients: a task's columns are a multiple of this (of every tile width). */
    static final int COLUMN_TILE = 64;
    /**
     * Layer norm parameter gradients: columns per task, at most (their float sums, 128 KB, stay in L2).
     * Whole rows read in order beat narrow column tiles, whose rows' short runs far apart defeat the
     * prefetchers: 8192x4096 from memory took 1.7x a copy in one tile against 3.5x in tiles of 512.
     */
    static final int COLUMN_MAX = 16384;
    /**
     * Layer and RMS norm parameter gradients: the rows are cut into this many ranges (fewer when there are
     * fewer rows), each taking its chunks' column sums, into sums of its own added in range order, and
     * then (in a backward) their dx while the chunk is in cache: one read of x and dy instead of two.
     * Fixed, so that the bits do not depend on the thread count.
     */
    static final int ROW_PARTS = 8;
    /** Features up to which the parameter gradients go by row ranges (their sums: 16 MB at most). */
    static final long RANGE_FEATURES = 1 << 17;

    private static final ThreadLocal<NormCall> PER_THREAD = ThreadLocal.withInitial(NormCall::new);

    private static final int LAYER = 0;
    private static final int RMS = 1;
    private static final int GROUP = 2;

    // What a task runs: statistics alone; channels-last normalization, gradient sums and dx (stripes and
    // channel blocks); parameter-gradient columns; the fused passes of contiguous units.
    private static final int STATISTICS = 0;
    private static final int NORMALIZE = 1;
    private static final int GRADIENT_SUMS = 2;
    private static final int APPLY = 3;
    private static final int COLUMNS = 4;
    private static final int FORWARD = 5;
    private static final int ROWS_BACKWARD = 6;
    private static final int GROUP_BACKWARD = 7;
    private static final int ROW_RANGES = 8;

    /** The input. */
    public final Operand x = new Operand();
    /** The output of a forward. */
    public final Operand y = new Operand();
    /** The output gradient of a backward. */
    public final Operand dy = new Operand();
    /** The input gradient of a backward; unset when only the parameter gradients are asked for. */
    public final Operand dx = new Operand();
    /** A fused residual add's second input; unset for a plain norm. */
    public final Operand residual = new Operand();
    /** A fused residual add's sum {@code x + residual}, which is then normalized. */
    public final Operand h = new Operand();
    /** What the statistics and normalization read: x, or h after a fused residual add. */
    private Operand source = x;

    // This thread's own scratch, whichever call it works for.
    private float[] scratch = new float[0];
    /** What a forward's reading ahead read, kept so that it is not optimized away. */
    private float touched;
    private float[] ownPivots = new float[0];
    private float[] ownCenter = new float[0];
    private float[] ownScale = new float[0];
    private float[] ownShift = new float[0];
    private float[] ownK1 = new float[0];
    private float[] ownColumns = new float[0];
    /** Two sums of one row. */
    private final double[] pair = new double[2];

    private KernelBackend backend;
    private WorkerPool pool;
    private boolean parallel;
    private int op;
    private int kind;

    // Geometry. Rows kinds: units = rows of unitLength floats. Group: batch x groups units.
    private long units;
    private long unitLength;
    private long batch;
    private int channels;
    private int groups;
    private int perGroup;
    private long spatial;
    private boolean channelsLast;
    private long unitsPerTask;
    private long rowsPerStripe;
    private int stripes;
    private int channelBlocks;
    private int columnsPerTask;
    /** Channels-last groups: whether x streams from memory (it exceeds the last-level cache). */
    private boolean streaming;
    /** Channels-last groups: the samples one wave takes, and the first sample of the running wave. */
    private long wave;
    private long waveStart;

    // Per unit.
    private double[] mean = new double[0];
    private double[] m2 = new double[0];
    private double[] invStd = new double[0];
    private float[] pivots = new float[0];
    private float[] center = new float[0];
    private float[] scale = new float[0];
    private float[] shift = new float[0];
    private float[] k2 = new float[0];
    private float[] k3 = new float[0];
    private boolean[] doublePath = new boolean[0];
    // Per (sample, channel): channels-last moments and every group gradient's sums.
    private double[] partA = new double[0];
    private double[] partB = new double[0];
    private float[] partPivots = new float[0];
    // Per feature: layer and RMS norm parameter gradients.
    private double[] columnW = new double[0];
    private double[] columnB = new double[0];
    // Per (row range, feature): the parameter gradients' column sums, range by range.
    private double[] rangeW = new double[0];
    private double[] rangeB = new double[0];
    private float[] zeros = new float[0];

    private float[] weight;
    private float[] bias;
    private double eps;
    private float[] savedMean;
    private float[] savedInvStd;
    private float[] saveMean;
    private float[] saveInvStd;

    private NormCall() {
    }

    /** This thread's call on {@code backend}, run by {@code pool}'s threads or, when it is null, by this one. */
    public static NormCall begin(KernelBackend backend, WorkerPool pool) {
        NormCall call = PER_THREAD.get();
        call.backend = backend;
        call.pool = pool;
        return call;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    // ---------------------------------------------------------------- set-up

    private void rows(int what, long rows, long features) {
        kind = what;
        units = rows;
        unitLength = features;
        channelsLast = false;
        unitsPerTask = Math.max(1, TASK / features);
        // a column task per thread, each reading its columns of a row in order; per column the float sums
        // are the same whatever the tiling, so the thread count may decide it
        int threads = pool == null ? 1 : pool.threads();
        columnsPerTask = (int) Math.min(features,
                ceilDiv(Math.min(COLUMN_MAX, Math.max(COLUMN_TILE, ceilDiv(features, threads))), COLUMN_TILE)
                        * COLUMN_TILE);
        perUnit(Math.toIntExact(rows));
        if (columnW.length < features && features <= Integer.MAX_VALUE) {
            columnW = new double[(int) features];
            columnB = new double[(int) features];
        }
        if (what == RMS && zeros.length < rows) {
            zeros = new float[(int) rows];
        }
        prepare(rows * features);
    }

    private void group(TensorShape shape, int g) {
        kind = GROUP;
        batch = shape.batch();
        channels = shape.channels();
        groups = g;
        perGroup = channels / g;
        spatial = shape.spatialSize();
        // with one spatial position both layouts are the same memory: contiguous groups
        channelsLast = shape.layout() == Layout.CHANNELS_LAST && spatial > 1;
        units = batch * g;
        unitLength = perGroup * spatial;
        unitsPerTask = Math.max(1, TASK / unitLength);
        rowsPerStripe = Math.max(STRIPE_ROWS, TASK / channels);
        stripes = Math.toIntExact(ceilDiv(spatial, rowsPerStripe));
        channelBlocks = (channels + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        wave = batch;
        waveStart = 0;
        perUnit(Math.toIntExact(units));
        int pairs = Math.toIntExact(batch * channels);
        if (partA.length < pairs) {
            partA = new double[pairs];
            partB = new double[pairs];
            partPivots = new float[pairs];
        }
        prepare(batch * channels * spatial);
    }

    private void perUnit(int n) {
        if (mean.length < n) {
            mean = new double[n];
            m2 = new double[n];
            invStd = new double[n];
            pivots = new float[n];
            center = new float[n];
            scale = new float[n];
            shift = new float[n];
            k2 = new float[n];
            k3 = new float[n];
            doublePath = new boolean[n];
        }
    }

    private void prepare(long elements) {
        source = residual.isSet() ? h : x;
        streaming = Caches.streams(elements * Float.BYTES);
        parallel = pool != null && elements >= KernelCall.PARALLEL_MIN && pool.canShare(x.segment)
                && pool.canShare(y.segment) && pool.canShare(dy.segment) && pool.canShare(dx.segment)
                && pool.canShare(residual.segment) && pool.canShare(h.segment);
        if (x.liesOnArray() && y.liesOnArray() && dy.liesOnArray() && dx.liesOnArray() && residual.liesOnArray()
                && h.liesOnArray()) {
            x.moveToArray();
            y.moveToArray();
            dy.moveToArray();
            dx.moveToArray();
            residual.moveToArray();
            h.moveToArray();
        }
        own(this);
    }

    /** The running thread's own call, its scratch grown for this call's backend and channels. */
    private NormCall own(NormCall call) {
        NormCall own = PER_THREAD.get();
        if (own.scratch.length < call.backend.scratchFloats()) {
            own.scratch = new float[call.backend.scratchFloats()];
        }
        if (call.kind != GROUP && own.ownColumns.length < 2 * call.columnsPerTask) {
            own.ownColumns = new float[2 * call.columnsPerTask];
        }
        if (call.kind == GROUP && call.channelsLast && own.ownPivots.length < call.channels) {
            own.ownPivots = new float[call.channels];
            own.ownCenter = new float[call.channels];
            own.ownScale = new float[call.channels];
            own.ownShift = new float[call.channels];
            own.ownK1 = new float[call.channels];
        }
        return own;
    }

    private void release() {
        x.clear();
        y.clear();
        dy.clear();
        dx.clear();
        residual.clear();
        h.clear();
        source = x;
        weight = null;
        bias = null;
        savedMean = null;
        savedInvStd = null;
        saveMean = null;
        saveInvStd = null;
    }

    private void runTasks(int what, long tasks) {
        op = what;
        int count = Math.toIntExact(tasks);
        if (count > 1 && parallel && pool.run(this, count)) {
            return;
        }
        for (int t = 0; t < count; t++) {
            run(t);
        }
    }

    @Override
    public void run(int task) {
        switch (op) {
            case STATISTICS -> statisticsTask(task);
            case NORMALIZE -> normalizeStripe(task);
            case GRADIENT_SUMS -> gradientSumsTask(task);
            case APPLY -> applyStripe(task);
            case COLUMNS -> columnsTask(task);
            case FORWARD -> forwardTask(task);
            case ROWS_BACKWARD -> rowsBackwardTask(task);
            case GROUP_BACKWARD -> groupBackwardTask(task);
            case ROW_RANGES -> rowRangeTask(task);
            default -> throw new AssertionError(op);
        }
    }

    private long unitTasks() {
        return ceilDiv(units, unitsPerTask);
    }

    /** Channels-last group reductions: one task per sample of the wave and block of channels. */
    private long sampleTasks() {
        return waveSamples() * channelBlocks;
    }

    /** Channels-last group elementwise passes: one task per stripe of a wave's sample's rows. */
    private long stripeTasks() {
        return waveSamples() * stripes;
    }

    private long waveSamples() {
        return Math.min(wave, batch - waveStart);
    }

    private long waveUnitsEnd() {
        return (waveStart + waveSamples()) * groups;
    }

    /**
     * Channels-last passes over {@code tensors} inputs (x; x and dy): the samples whose reduction is taken
     * before their output is written. Inputs beyond the last-level cache go in waves of half of it (at
     * least one sample, and a multiple of the threads so that none waits), so that their second read is
     * from cache; inputs that fit go whole. The cut changes no unit's arithmetic.
     */
    private long wave(int tensors) {
        if (!Caches.streams(tensors * batch * spatial * channels * Float.BYTES)) {
            return batch;
        }
        long sampleBytes = tensors * spatial * channels * Float.BYTES;
        long fits = Math.max(1, Caches.LAST_LEVEL / 2 / sampleBytes);
        int threads = parallel ? pool.threads() : 1;
        long w = fits < threads ? threads : fits - fits % threads;
        return Math.min(batch, w);
    }

    // ---------------------------------------------------------------- entry points

    /**
     * Mean and M2 of each row of {@code features} floats of x into {@code outMean} and {@code outM2}
     * (layer norm's statistics; instance norm's of a channels-first tensor).
     */
    public void rowStatistics(long rows, long features, double[] outMean, double[] outM2) {
        try {
            rows(LAYER, rows, features);
            statistics();
            System.arraycopy(mean, 0, outMean, 0, (int) rows);
            System.arraycopy(m2, 0, outM2, 0, (int) rows);
        } finally {
            release();
        }
    }

    /** Mean and M2 of each (sample, group) of x, sample-major, into {@code outMean} and {@code outM2}. */
    public void groupStatistics(TensorShape shape, int groupCount, double[] outMean, double[] outM2) {
        try {
            group(shape, groupCount);
            statistics();
            System.arraycopy(mean, 0, outMean, 0, (int) units);
            System.arraycopy(m2, 0, outM2, 0, (int) units);
        } finally {
            release();
        }
    }

    /**
     * Layer norm forward: {@code y = (x - mean) / sqrt(var + eps) * weight + bias} per row, weight and
     * bias per feature (either may be null; a bias needs a weight), the row's mean and
     * {@code 1 / sqrt(var + eps)} into {@code saveMean} and {@code saveInvStd} when they are not null.
     */
    public void layerForward(long rows, long features, float[] w, float[] b, float epsilon, float[] saveMean,
                             float[] saveInvStd) {
        try {
            rows(LAYER, rows, features);
            weight = w;
            bias = b;
            eps = epsilon;
            this.saveMean = saveMean;
            this.saveInvStd = saveInvStd;
            runTasks(FORWARD, unitTasks());
        } finally {
            release();
        }
    }

    /**
     * RMS norm forward: {@code y = x / sqrt(mean(x^2) + eps) * weight} per row ({@code weight} null for
     * none), {@code 1 / sqrt(mean(x^2) + eps)} into {@code saveInvRms} when it is not null.
     */
    public void rmsForward(long rows, long features, float[] w, float epsilon, float[] saveInvRms) {
        try {
            rows(RMS, rows, features);
            weight = w;
            bias = null;
            eps = epsilon;
            saveInvStd = saveInvRms;
            runTasks(FORWARD, unitTasks());
        } finally {
            release();
        }
    }

    /**
     * Group norm forward over {@code groupCount} groups of channels per sample, weight and bias per
     * channel (either may be null), each (sample, group)'s mean and {@code 1 / sqrt(var + eps)},
     * sample-major, into {@code saveMean} and {@code saveInvStd} when they are not null.
     */
    public void groupForward(TensorShape shape, int groupCount, float[] w, float[] b, float epsilon,
                             float[] saveMean, float[] saveInvStd) {
        try {
            group(shape, groupCount);
            weight = w;
            bias = b;
            eps = epsilon;
            this.saveMean = saveMean;
            this.saveInvStd = saveInvStd;
            if (channelsLast) {
                // a wave's moments, then its output while the wave is still in cache
                wave = wave(1);
                for (waveStart = 0; waveStart < batch; waveStart += wave) {
                    statistics();
                    for (long u = waveStart * groups; u < waveUnitsEnd(); u++) {
                        finishUnit((int) u);
                    }
                    runTasks(NORMALIZE, stripeTasks());
                }
            } else {
                runTasks(FORWARD, unitTasks());
            }
        } finally {
            release();
        }
    }

    /**
     * Layer norm backward from the forward's saved per-row mean and invStd: dx (when bound) and the
     * per-feature gradients into {@code dWeight} and {@code dBias} (overwritten; either may be null).
     */
    public void layerBackward(long rows, long features, float[] w, float[] mu, float[] is, float[] dWeight,
                              float[] dBias) {
        try {
            rows(LAYER, rows, features);
            weight = w;
            savedMean = mu;
            savedInvStd = is;
            rowsBackward(dWeight, dBias);
        } finally {
            release();
        }
    }

    /** RMS norm backward from the forward's saved per-row invRms: dx (when bound) and {@code dWeight}. */
    public void rmsBackward(long rows, long features, float[] w, float[] invRms, float[] dWeight) {
        try {
            rows(RMS, rows, features);
            weight = w;
            savedMean = zeros;
            java.util.Arrays.fill(zeros, 0, (int) rows, 0f);
            savedInvStd = invRms;
            rowsBackward(dWeight, null);
        } finally {
            release();
        }
    }

    /**
     * Group norm backward from the forward's saved per-(sample, group) mean and invStd: dx (when bound)
     * and the per-channel gradients into {@code dWeight} and {@code dBias} (overwritten; either may be null).
     */
    public void groupBackward(TensorShape shape, int groupCount, float[] w, float[] mu, float[] is,
                              float[] dWeight, float[] dBias) {
        try {
            group(shape, groupCount);
            weight = w;
            savedMean = mu;
            savedInvStd = is;
            if (channelsLast) {
                // a wave's sums, then its dx while x and dy are still in cache
                wave = dx.isSet() ? wave(2) : batch;
                for (waveStart = 0; waveStart < batch; waveStart += wave) {
                    runTasks(GRADIENT_SUMS, sampleTasks());
                    for (long u = waveStart * groups; u < waveUnitsEnd(); u++) {
                        groupCoefficients((int) u);
                    }
                    if (dx.isSet()) {
                        runTasks(APPLY, stripeTasks());
                    }
                }
            } else {
                runTasks(GROUP_BACKWARD, unitTasks());
            }
            for (int c = 0; c < channels; c++) {
                double gw = 0;
                double gb = 0;
                for (long n = 0; n < batch; n++) {
                    int u = (int) (n * groups + c / perGroup);
                    gw += is[u] * partB[(int) (n * channels + c)];
                    gb += partA[(int) (n * channels + c)];
                }
                if (dWeight != null) {
                    dWeight[c] = (float) gw;
                }
                if (dBias != null) {
                    dBias[c] = (float) gb;
                }
            }
        } finally {
            release();
        }
    }

    private void rowsBackward(float[] dWeight, float[] dBias) {
        boolean sums = dWeight != null || dBias != null;
        // with dx or without, the same sums: the parameter gradients alone are the bits a backward gives
        if (sums && unitLength <= RANGE_FEATURES) {
            int f = (int) unitLength;
            int parts = rowParts();
            int n = parts * f;
            if (rangeW.length < n) {
                rangeW = new double[n];
                rangeB = new double[n];
            }
            java.util.Arrays.fill(rangeW, 0, n, 0);
            java.util.Arrays.fill(rangeB, 0, n, 0);
            runTasks(ROW_RANGES, parts);
            for (int i = 0; i < f; i++) {
                double w = 0;
                double b = 0;
                for (int q = 0; q < parts; q++) {
                    w += rangeW[q * f + i];
                    b += rangeB[q * f + i];
                }
                if (dWeight != null) {
                    dWeight[i] = (float) w;
                }
                if (dBias != null) {
                    dBias[i] = (float) b;
                }
            }
            return;
        }
        if (dx.isSet()) {
            runTasks(ROWS_BACKWARD, unitTasks());
        }
        if (sums) {
            int f = (int) unitLength;
            java.util.Arrays.fill(columnW, 0, f, 0);
            java.util.Arrays.fill(columnB, 0, f, 0);
            runTasks(COLUMNS, ceilDiv(unitLength, columnsPerTask));
            for (int i = 0; i < f; i++) {
                if (dWeight != null) {
                    dWeight[i] = (float) columnW[i];
                }
                if (dBias != null) {
                    dBias[i] = (float) columnB[i];
                }
            }
        }
    }

    // ---------------------------------------------------------------- statistics

    /** The moments of every unit (channels-last groups: of the running wave's). */
    private void statistics() {
        runTasks(STATISTICS, channelsLast ? sampleTasks() : unitTasks());
        long u0 = channelsLast ? waveStart * groups : 0;
        long u1 = channelsLast ? waveUnitsEnd() : units;
        for (long u = u0; u < u1; u++) {
            if (channelsLast) {
                mergeChannels((int) u);
            }
            finishStatistics((int) u);
        }
    }

    private void statisticsTask(int task) {
        NormCall mine = own(this);
        float[] own = mine.scratch;
        if (channelsLast) {
            long n = waveStart + task / channelBlocks;
            int c0 = task % channelBlocks * CHANNEL_BLOCK;
            int c1 = Math.min(channels, c0 + CHANNEL_BLOCK);
            long first = n * spatial * channels;
            float[] p = mine.ownPivots;
            for (int c = c0; c < c1; c++) {
                p[c] = source.get(first + c);
                partPivots[(int) (n * channels + c)] = p[c];
            }
            backend.rowStatistics(source.array, source.segment, source.base + first, spatial, channels, c0, c1, p,
                    partA, partB,
                    (int) (n * channels), own, streaming);
            return;
        }
        long u0 = task * unitsPerTask;
        long u1 = Math.min(units, u0 + unitsPerTask);
        int step = chunk();
        for (long u = u0; u < u1; u += step) {
            chunkStatistics(u, (int) Math.min(step, u1 - u), own);
        }
    }

    /**
     * Contiguous units: how many a chunk of the fused forward (and of the statistics) holds. RMS norm's
     * sums of squares go row by row; streaming, four rows let its normalization share parameter loads
     * (see {@link #normalizeRows}).
     */
    private int chunk() {
        return kind == RMS ? (streaming ? 4 : 1) : backend.channelGroup();
    }

    /** The moments of the k contiguous units from u on (RMS norm: their sums of squares). */
    private void chunkStatistics(long u, int k, float[] own) {
        if (kind == RMS) {
            for (long v = u; v < u + k; v++) {
                m2[(int) v] = backend.sumSquares(source.array, source.segment, source.base + v * unitLength, unitLength,
                        own);
            }
            return;
        }
        for (int j = 0; j < k; j++) {
            pivots[(int) u + j] = source.get((u + j) * unitLength);
        }
        backend.sampleStatistics(source.array, source.segment, source.base + u * unitLength, 1, k, unitLength, 0,
                pivots, (int) u, mean, m2, (int) u, 1, own);
    }

    /**
     * The forward of contiguous units, a chunk at a time while it is in cache: (x + residual into h,)
     * the chunk's moments, its normalization. Each unit's arithmetic is the same as in separate passes.
     * A tensor streaming from memory reads the next chunk while this one's output is written, on one
     * thread (see {@link KernelBackend#normalizeTouching}): layer norm of 32768 rows of 4096 took 110 ms
     * without, 97 with, on a 2-core Xeon; a residual add reads its chunk itself.
     */
    private void forwardTask(int task) {
        NormCall own = own(this);
        long u0 = task * unitsPerTask;
        long u1 = Math.min(units, u0 + unitsPerTask);
        int step = chunk();
        // on one thread the next task is this thread's too; several threads overlap reads and writes anyway
        boolean touching = streaming && !parallel && !residual.isSet();
        for (long u = u0; u < u1; u += step) {
            int k = (int) Math.min(step, u1 - u);
            if (residual.isSet()) {
                long at = u * unitLength;
                backend.add(x.array, x.segment, x.base + at, residual.array, residual.segment, residual.base + at,
                        h.array, h.segment, h.base + at, k * unitLength);
            }
            chunkStatistics(u, k, own.scratch);
            for (int j = 0; j < k; j++) {
                finishStatistics((int) u + j);
                finishUnit((int) u + j);
            }
            // the next chunk, unit j of it read beside unit j of this one
            long ahead = touching ? k * unitLength : 0;
            long aheadEnd = Math.min(units, u + k + step) * unitLength;
            own.touched += kind == GROUP ? normalizeGroups(u, u + k, ahead, aheadEnd)
                    : normalizeRows(u, u + k, ahead, aheadEnd);
        }
    }

    /**
     * {@code length} floats from element {@code at} (relative to x's base) of a forward's output, reading
     * meanwhile the floats {@code ahead} further on that lie before {@code aheadEnd} ({@code ahead} 0: none).
     * Returns what the backend returns for what it read.
     */
    private float normalizeTouching(long at, long length, float ctr, float sc, float sh, float[] w, float[] b,
                                    long ahead, long aheadEnd) {
        long touchAt = at + ahead;
        long touchLength = ahead == 0 ? 0 : Math.max(0, Math.min(length, aheadEnd - touchAt));
        return backend.normalizeTouching(source.array, source.segment, source.base + at, y.array, y.segment,
                y.base + at, length, ctr, sc, sh, w, b, source.base + touchAt, touchLength);
    }

    /** Channels-last group u: its channels' moments merged in channel order. */
    private void mergeChannels(int u) {
        long n = u / groups;
        int c0 = (int) (u % groups) * perGroup;
        long na = 0;
        for (int c = c0; c < c0 + perGroup; c++) {
            int i = (int) (n * channels + c);
            Welford.merge(mean, m2, u, na, spatial, partA[i], partB[i]);
            na += spatial;
        }
        pivots[u] = partPivots[(int) (n * channels + c0)];
    }

    /**
     * Recomputes unit u in double where float arithmetic may have failed it, as batch norm does: its
     * moments are not finite, or its variance (RMS: mean square) is so small that float products may
     * have underflowed. A unit with M2 exactly 0 is exactly constant when its pivots prove it.
     */
    private void finishStatistics(int u) {
        double q = m2[u];
        double m = kind == RMS ? 0 : mean[u];
        boolean recompute;
        if (!Double.isFinite(m) || !Double.isFinite(q)) {
            recompute = true;
        } else if (q / unitLength >= KernelCall.TINY_VARIANCE) {
            recompute = false;
        } else if (kind != RMS && q == 0 && provenConstant(u)) {
            recompute = false;
        } else {
            recompute = true;
        }
        doublePath[u] = false;
        if (recompute) {
            recomputeInDouble(u);
            // deviations beyond float's range: this unit is normalized in double
            doublePath[u] = kind != RMS && Double.isFinite(mean[u]) && largestDeviation(u) >= Float.MAX_VALUE / 2;
        }
    }

    private boolean provenConstant(int u) {
        if (!(kind == GROUP && channelsLast)) {
            return mean[u] == pivots[u] && Math.abs(pivots[u]) >= KernelCall.PROVING_PIVOT;
        }
        long n = u / groups;
        int c0 = (int) (u % groups) * perGroup;
        for (int c = c0; c < c0 + perGroup; c++) {
            int i = (int) (n * channels + c);
            if (!(partB[i] == 0 && partA[i] == partPivots[i] && Math.abs(partPivots[i]) >= KernelCall.PROVING_PIVOT)) {
                return false;
            }
        }
        return true;
    }

    /** Element k of unit u, relative to x's base. */
    private long element(int u, long k) {
        if (!(kind == GROUP && channelsLast)) {
            return u * unitLength + k;
        }
        long n = u / groups;
        int c = (int) (u % groups) * perGroup + (int) (k % perGroup);
        long s = k / perGroup;
        return (n * spatial + s) * channels + c;
    }

    private void recomputeInDouble(int u) {
        if (kind == RMS) {
            double squares = 0;
            for (long k = 0; k < unitLength; k++) {
                double v = source.get(element(u, k));
                squares += v * v;
            }
            m2[u] = squares;
            return;
        }
        double sum = 0;
        for (long k = 0; k < unitLength; k++) {
            sum += source.get(element(u, k));
        }
        double mu = sum / unitLength;
        double squares = 0;
        for (long k = 0; k < unitLength; k++) {
            double d = source.get(element(u, k)) - mu;
            squares += d * d;
        }
        mean[u] = mu;
        m2[u] = squares;
    }

    private double largestDeviation(int u) {
        double largest = 0;
        for (long k = 0; k < unitLength; k++) {
            largest = Math.max(largest, Math.abs(source.get(element(u, k)) - mean[u]));
        }
        return largest;
    }

    // ---------------------------------------------------------------- normalization

    /**
     * Unit u's normalization: the mean split into its float part {@code center}, subtracted from x, and
     * the rest folded into {@code shift} (in units of the normalized value), as batch norm does; RMS norm
     * only scales. Saved when the call asked for it.
     */
    private void finishUnit(int u) {
        double is = 1 / Math.sqrt(m2[u] / unitLength + eps);
        float ctr = kind == RMS ? 0f : (float) mean[u];
        invStd[u] = is;
        center[u] = ctr;
        scale[u] = (float) is;
        shift[u] = kind == RMS ? 0f : (float) (-(mean[u] - ctr) * is);
        if (saveMean != null) {
            saveMean[u] = (float) mean[u];
        }
        if (saveInvStd != null) {
            saveInvStd[u] = (float) is;
        }
    }

    /**
     * Rows {@code [u0, u1)} of layer or RMS norm. In a tensor streaming from memory, parameters that the
     * rows would evict from a small first-level cache are loaded once for four rows ({@link
     * Caches#sharesParameterLoads}): with weight and bias of 4096 features (32 KB) on a 32 KB L1, 8192
     * rows took 2.6x a copy a row at a time, 2.1x four at a time; at 1024 features (8 KB, which stay)
     * four rows took 2.5x against 1.8x, and from the L3 (512 rows) four rows were up to 1.4x slower.
     * Otherwise row by row, reading ahead as {@link #normalizeTouching} does; returns what that read.
     */
    private float normalizeRows(long u0, long u1, long ahead, long aheadEnd) {
        float read = 0;
        boolean shareLoads = streaming && weight != null
                && Caches.sharesParameterLoads(unitLength * Float.BYTES * (bias == null ? 1 : 2));
        for (long v = u0; v < u1; v++) {
            int u = (int) v;
            long at = v * unitLength;
            if (shareLoads && !doublePath[u]) {
                int end = u + 1;
                while (end < u1 && !doublePath[end]) {
                    end++;
                }
                backend.normalizeAffineRows(source.array, source.segment, source.base + at, y.array, y.segment,
                        y.base + at, (int) unitLength, end - u, center, scale, shift, u, weight, bias);
                v = end - 1;
            } else if (doublePath[u]) {
                for (long k = 0; k < unitLength; k++) {
                    double t = (source.get(at + k) - mean[u]) * invStd[u];
                    y.put(at + k,
                            (float) (t * (weight == null ? 1 : weight[(int) k]) + (bias == null ? 0 : bias[(int) k])));
                }
            } else {
                read += normalizeTouching(at, unitLength, center[u], scale[u], shift[u], weight, bias, ahead, aheadEnd);
            }
        }
        return read;
    }

    /**
     * Channels-first groups: each channel's run with the group's statistics and the channel's affine,
     * reading ahead as {@link #normalizeTouching} does; returns what that read.
     */
    private float normalizeGroups(long u0, long u1, long ahead, long aheadEnd) {
        float read = 0;
        for (long v = u0; v < u1; v++) {
            int u = (int) v;
            long n = v / groups;
            int c0 = (int) (v % groups) * perGroup;
            for (int c = c0; c < c0 + perGroup; c++) {
                long at = (n * channels + c) * spatial;
                double sc = (weight == null ? 1 : weight[c]) * invStd[u];
                double b = bias == null ? 0 : bias[c];
                if (doublePath[u]) {
                    Welford.normalizeInDouble(source.array, source.segment, source.base + at, y.array, y.segment,
                            y.base + at,
                            spatial, mean[u], sc, b, Float.NEGATIVE_INFINITY);
                } else {
                    read += normalizeTouching(at, spatial, center[u], (float) sc,
                            (float) (b - (mean[u] - center[u]) * sc), null, null, ahead, aheadEnd);
                }
            }
        }
        return read;
    }

    /** Channels-last groups: a stripe of one sample's rows, each channel with its group's statistics. */
    private void normalizeStripe(int task) {
        long n = waveStart + task / stripes;
        long r0 = task % stripes * rowsPerStripe;
        long rows = Math.min(rowsPerStripe, spatial - r0);
        NormCall own = own(this);
        boolean anyDouble = false;
        for (int c = 0; c < channels; c++) {
            int u = (int) (n * groups + c / perGroup);
            double sc = (weight == null ? 1 : weight[c]) * invStd[u];
            double b = bias == null ? 0 : bias[c];
            own.ownCenter[c] = center[u];
            own.ownScale[c] = (float) sc;
            own.ownShift[c] = (float) (b - (mean[u] - center[u]) * sc);
            anyDouble |= doublePath[u];
        }
        long first = (n * spatial + r0) * channels;
        if (!anyDouble) {
            backend.normalizeRows(source.array, source.segment, source.base + first, y.array, y.segment,
                    y.base + first, rows,
                    channels, own.ownCenter, own.ownScale, own.ownShift, Float.NEGATIVE_INFINITY, own.scratch);
            return;
        }
        for (long r = 0; r < rows; r++) {
            for (int c = 0; c < channels; c++) {
                int u = (int) (n * groups + c / perGroup);
                long at = first + r * channels + c;
                if (doublePath[u]) {
                    double sc = (weight == null ? 1 : weight[c]) * invStd[u];
                    Welford.normalizeInDouble(source.array, source.segment, source.base + at, y.array, y.segment,
                            y.base + at, 1,
                            mean[u], sc, bias == null ? 0 : bias[c], Float.NEGATIVE_INFINITY);
                } else {
                    ScalarBackend.normalizeRun(source.array, source.segment, source.base + at, y.array, y.segment,
                            y.base + at, 1,
                            own.ownCenter[c], own.ownScale[c], own.ownShift[c], Float.NEGATIVE_INFINITY);
                }
            }
        }
    }

    // ---------------------------------------------------------------- backward

    /** Channels-last groups: one sample's block of channels' gradient sums, over its rows. */
    private void gradientSumsTask(int task) {
        NormCall mine = own(this);
        float[] own = mine.scratch;
        long n = waveStart + task / channelBlocks;
        int c0 = task % channelBlocks * CHANNEL_BLOCK;
        int c1 = Math.min(channels, c0 + CHANNEL_BLOCK);
        float[] ctr = mine.ownCenter;
        for (int c = c0; c < c1; c++) {
            ctr[c] = savedMean[(int) (n * groups + c / perGroup)];
        }
        long first = n * spatial * channels;
        backend.rowGradientSums(dy.array, dy.segment, dy.base + first, x.array, x.segment, x.base + first,
                null, null, 0, spatial, channels, c0, c1, ctr, partA, partB, (int) (n * channels), own, streaming);
    }

    /** Unit u's coefficients of dx from its channels' gradient sums (weighted by the channels' weights). */
    private void groupCoefficients(int u) {
        long n = u / groups;
        int c0 = (int) (u % groups) * perGroup;
        double s1 = 0;
        double s2 = 0;
        for (int c = c0; c < c0 + perGroup; c++) {
            double wc = weight == null ? 1 : weight[c];
            s1 += wc * partA[(int) (n * channels + c)];
            s2 += wc * partB[(int) (n * channels + c)];
        }
        double r = savedInvStd[u];
        double m = unitLength;
        k2[u] = (float) (-r * r * r * s2 / m);
        k3[u] = (float) (-r * s1 / m);
    }

    /**
     * Channels-first groups, a unit at a time while it is in cache: its channels' gradient sums, its
     * coefficients, then dx (when bound). The same arithmetic per unit as in separate passes.
     */
    private void groupBackwardTask(int task) {
        float[] own = own(this).scratch;
        long u0 = task * unitsPerTask;
        long u1 = Math.min(units, u0 + unitsPerTask);
        for (long v = u0; v < u1; v++) {
            int u = (int) v;
            long n = v / groups;
            int c0 = (int) (v % groups) * perGroup;
            for (int c = c0; c < c0 + perGroup; c++) {
                int i = (int) (n * channels + c);
                long at = (n * channels + c) * spatial;
                partA[i] = 0;
                partB[i] = 0;
                backend.runGradientSums(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at,
                        null, null, 0, 0, spatial, 1, savedMean[u], partA, partB, i, own);
            }
            groupCoefficients(u);
            if (!dx.isSet()) {
                continue;
            }
            for (int c = c0; c < c0 + perGroup; c++) {
                long at = (n * channels + c) * spatial;
                float k1 = (float) ((weight == null ? 1 : weight[c]) * (double) savedInvStd[u]);
                backend.applyGradientRuns(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at,
                        null, null, 0, dx.array, dx.segment, dx.base + at, 0, spatial, 1, savedMean[u], k1,
                        k2[u], k3[u]);
            }
        }
    }

    /**
     * Layer and RMS norm dx, a row at a time while it is in cache: the row's two gradient sums, its
     * coefficients, then dx. The same arithmetic per row as in separate passes.
     */
    private void rowsBackwardTask(int task) {
        NormCall mine = own(this);
        long u0 = task * unitsPerTask;
        long u1 = Math.min(units, u0 + unitsPerTask);
        for (long v = u0; v < u1; v++) {
            rowDx((int) v, mine);
        }
    }

    /** The row ranges of the parameter gradients: {@link #ROW_PARTS}, or one per row when there are fewer. */
    private int rowParts() {
        return (int) Math.min(units, ROW_PARTS);
    }

    /** Row u's gradient sums, its coefficients, then its dx. */
    private void rowDx(int u, NormCall mine) {
        double m = unitLength;
        rowGradientSums(u, mine);
        double r = savedInvStd[u];
        k2[u] = (float) (-r * r * r * m2[u] / m);
        k3[u] = kind == RMS ? 0f : (float) (-r * mean[u] / m);
        applyRow(u);
    }

    /**
     * Row range {@code part} of the parameter gradients, a chunk of rows at a time: the chunk's column sums
     * into the range's own, then (first the sums: dx may be dy) each row's dx, when asked for, while the
     * chunk is in cache.
     */
    private void rowRangeTask(int part) {
        NormCall mine = own(this);
        long u0 = part * units / rowParts();
        long u1 = (part + 1) * units / rowParts();
        int f = (int) unitLength;
        for (long u = u0; u < u1; u += unitsPerTask) {
            long e = Math.min(u1, u + unitsPerTask);
            for (int f0 = 0; f0 < f; f0 += columnsPerTask) {
                backend.columnSums(dy.array, dy.segment, dy.base, x.array, x.segment, x.base, u, e, f, f0,
                        Math.min(f, f0 + columnsPerTask), savedMean, savedInvStd, rangeW, rangeB, part * f,
                        mine.ownColumns);
            }
            for (long v = u; dx.isSet() && v < e; v++) {
                rowDx((int) v, mine);
            }
        }
    }

    /**
     * Row u's {@code sum(g)} into mean[u] and {@code sum(g * (x - savedMean))} into m2[u], g = dy * weight,
     * with the running thread's scratch ({@code mine}).
     */
    private void rowGradientSums(int u, NormCall mine) {
        long at = (long) u * unitLength;
        if (weight == null) {
            mean[u] = 0;
            m2[u] = 0;
            backend.runGradientSums(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at, null,
                    null, 0, 0, unitLength, 1, savedMean[u], mean, m2, u, mine.scratch);
        } else {
            double[] sums = mine.pair;
            backend.weightedGradientSums(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at,
                    (int) unitLength, savedMean[u], weight, sums, 0, mine.scratch);
            mean[u] = sums[0];
            m2[u] = sums[1];
        }
    }

    /** Row u's dx from its coefficients. */
    private void applyRow(int u) {
        long at = (long) u * unitLength;
        if (weight == null) {
            backend.applyGradientRuns(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at, null,
                    null, 0, dx.array, dx.segment, dx.base + at, 0, unitLength, 1, savedMean[u], savedInvStd[u],
                    k2[u], k3[u]);
        } else {
            backend.applyWeightedGradient(dy.array, dy.segment, dy.base + at, x.array, x.segment, x.base + at,
                    dx.array, dx.segment, dx.base + at, (int) unitLength, savedMean[u], weight, savedInvStd[u],
                    k2[u], k3[u]);
        }
    }

    private void applyStripe(int task) {
        long n = waveStart + task / stripes;
        long r0 = task % stripes * rowsPerStripe;
        long rows = Math.min(rowsPerStripe, spatial - r0);
        NormCall own = own(this);
        for (int c = 0; c < channels; c++) {
            int u = (int) (n * groups + c / perGroup);
            own.ownCenter[c] = savedMean[u];
            own.ownK1[c] = (float) ((weight == null ? 1 : weight[c]) * (double) savedInvStd[u]);
            own.ownScale[c] = k2[u];
            own.ownShift[c] = k3[u];
        }
        long first = (n * spatial + r0) * channels;
        backend.applyGradientRows(dy.array, dy.segment, dy.base + first, x.array, x.segment, x.base + first, null,
                null, 0, dx.array, dx.segment, dx.base + first, rows, channels, own.ownCenter, own.ownK1,
                own.ownScale, own.ownShift, own.scratch);
    }

    private void columnsTask(int task) {
        int f0 = task * columnsPerTask;
        int f1 = (int) Math.min(unitLength, (long) f0 + columnsPerTask);
        backend.columnSums(dy.array, dy.segment, dy.base, x.array, x.segment, x.base, 0, units, (int) unitLength, f0,
                f1, savedMean, savedInvStd, columnW, columnB, 0, own(this).ownColumns);
    }
}
