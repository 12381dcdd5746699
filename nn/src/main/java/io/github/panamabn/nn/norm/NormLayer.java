package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.Layer;
import io.github.panamabn.nn.Parameter;
import io.github.panamabn.nn.safetensors.SafeTensors;
import io.github.panamabn.nn.safetensors.SafeTensors.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the normalization layers share ({@link BatchNormLayer}, {@link LayerNorm}, {@link RMSNorm},
 * {@link GroupNorm}, {@link InstanceNorm}): optional weight and bias with their gradients, a name for
 * messages, training and eval mode, PyTorch {@code state_dict} entries in safetensors files, and the
 * {@code float[]} forms of {@link Layer} on top of the {@link TensorView} forms each layer implements.
 *
 * <p>Every argument is checked before anything is written; an error names the layer. A layer is
 * trained from one thread at a time, as a PyTorch module: a call that changes the layer (a training
 * step, loading state) while another thread is in one gets an {@link IllegalStateException} and
 * changes nothing. The {@code float[]} forms require arrays of exactly the shape's length; pass views
 * to use a window of a larger array or native memory.
 */
public abstract class NormLayer implements Layer {
    /** Weight and bias, null when the layer has none. */
    protected final float[] weight;
    protected final float[] bias;
    protected final float[] weightGrad;
    protected final float[] biasGrad;
    /** The forward's weight and bias as the kernels take them. */
    protected final Affine affine;
    /** The weight alone (or none), as a backward takes it: made once, so a call allocates nothing. */
    protected final Affine weightOnly;
    /** The backward's gradient outputs, added to the gradients after the call. */
    protected final Affine affineScratch;
    private final float[] weightScratch;
    private final float[] biasScratch;
    /** running_mean and running_var (PyTorch's buffers), null when the layer tracks none. */
    protected final float[] runningMean;
    protected final float[] runningVar;
    /** num_batches_tracked: training-mode forwards since the running statistics were reset. */
    protected long numBatchesTracked;
    private String name = "";
    private boolean training = true;
    /** The thread inside a call that changes the layer, to detect concurrent training. */
    private final AtomicReference<Thread> mutator = new AtomicReference<>();

    /**
     * @param parameters how many values weight and bias have
     * @param hasWeight whether the layer learns a weight (initialized to 1)
     * @param hasBias whether the layer learns a bias (initialized to 0)
     */
    protected NormLayer(int parameters, boolean hasWeight, boolean hasBias) {
        this(parameters, hasWeight, hasBias, false);
    }

    /**
     * @param parameters how many values weight and bias have, and the running statistics
     * @param hasWeight whether the layer learns a weight (initialized to 1)
     * @param hasBias whether the layer learns a bias (initialized to 0)
     * @param trackRunningStats whether the layer has running_mean (initialized to 0) and running_var (1)
     */
    protected NormLayer(int parameters, boolean hasWeight, boolean hasBias, boolean trackRunningStats) {
        runningMean = trackRunningStats ? new float[parameters] : null;
        runningVar = trackRunningStats ? new float[parameters] : null;
        resetRunningStats();
        weight = hasWeight ? new float[parameters] : null;
        bias = hasBias ? new float[parameters] : null;
        weightGrad = hasWeight ? new float[parameters] : null;
        biasGrad = hasBias ? new float[parameters] : null;
        weightScratch = hasWeight ? new float[parameters] : null;
        biasScratch = hasBias ? new float[parameters] : null;
        affine = affineOf(weight, bias);
        weightOnly = weight == null ? Affine.none() : Affine.weightOnly(weight);
        affineScratch = affineOf(weightScratch, biasScratch);
        initParameters();
    }

    private static Affine affineOf(float[] w, float[] b) {
        return w != null ? (b != null ? Affine.of(w, b) : Affine.weightOnly(w)) : b != null ? Affine.biasOnly(b)
                : Affine.none();
    }

    /** Weight 1 and bias 0, as PyTorch initializes them (layers with running statistics reset those too). */
    public void resetParameters() {
        initParameters();
    }

    private void initParameters() {
        if (weight != null) {
            Arrays.fill(weight, 1f);
        }
        if (bias != null) {
            Arrays.fill(bias, 0f);
        }
    }

    /** running_mean (live array), or null without running statistics. */
    public float[] runningMean() {
        return runningMean;
    }

    /** running_var (live array), or null without running statistics. */
    public float[] runningVar() {
        return runningVar;
    }

    /** num_batches_tracked: training-mode forwards since the running statistics were reset (0 without them). */
    public long numBatchesTracked() {
        return numBatchesTracked;
    }

    /** running_mean 0, running_var 1, num_batches_tracked 0. */
    public void resetRunningStats() {
        if (runningMean != null) {
            Arrays.fill(runningMean, 0f);
            Arrays.fill(runningVar, 1f);
        }
        numBatchesTracked = 0;
    }

    /** The weight (live array), or null without one. */
    public float[] weight() {
        return weight;
    }

    /** The bias (live array), or null without one. */
    public float[] bias() {
        return bias;
    }

    /** The accumulated weight gradient (live array), or null. */
    public float[] weightGrad() {
        return weightGrad;
    }

    /** The accumulated bias gradient (live array), or null. */
    public float[] biasGrad() {
        return biasGrad;
    }

    /** The name messages start with ("" until {@link #setName}). */
    public String name() {
        return name;
    }

    /** Names this layer in messages and {@link #toString()}, e.g. {@code "blocks.3.ln_1"}; returns this. */
    public NormLayer setName(String newName) {
        if (newName == null) {
            throw new NullPointerException("name must not be null");
        }
        name = newName;
        return this;
    }

    /** Whether the layer is in training mode (the default). */
    public boolean isTraining() {
        return training;
    }

    @Override
    public void setTraining(boolean mode) {
        training = mode;
    }

    /** Switches to training mode; returns this. */
    public NormLayer train() {
        training = true;
        return this;
    }

    /** Switches to eval mode; returns this. */
    public NormLayer eval() {
        training = false;
        return this;
    }

    /**
     * Marks this thread as inside a call that changes the layer; a second thread gets an
     * {@link IllegalStateException} before it changes anything. Pair with {@link #exit()} in a finally.
     */
    protected final void enter() {
        Thread me = Thread.currentThread();
        if (!mutator.compareAndSet(null, me)) {
            Thread owner = mutator.get(); // may have left meanwhile
            throw new IllegalStateException(this + " is being changed by " + (owner == null ? "another thread"
                    : "thread '" + owner.getName() + "'") + " while thread '" + me.getName()
                    + "' tries to train it; train a layer from one thread at a time");
        }
    }

    /** Leaves the call {@link #enter()} marked. */
    protected final void exit() {
        mutator.set(null);
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> list = new ArrayList<>();
        if (weight != null) {
            list.add(new Parameter("weight", weight, weightGrad));
        }
        if (bias != null) {
            list.add(new Parameter("bias", bias, biasGrad));
        }
        return list;
    }

    /** Sets the accumulated gradients to 0. */
    public void zeroGrad() {
        if (weightGrad != null) {
            Arrays.fill(weightGrad, 0f);
        }
        if (biasGrad != null) {
            Arrays.fill(biasGrad, 0f);
        }
    }

    /** Adds the kernel's gradient outputs (in {@link #affineScratch}) to the accumulated gradients. */
    protected void accumulateGradients() {
        for (int i = 0; weightGrad != null && i < weightGrad.length; i++) {
            weightGrad[i] += weightScratch[i];
        }
        for (int i = 0; biasGrad != null && i < biasGrad.length; i++) {
            biasGrad[i] += biasScratch[i];
        }
    }

    @Override
    public TensorShape outputShape(TensorShape input) {
        checkInput(input);
        return input;
    }

    /** Refuses an input shape this layer cannot take, with a message naming the layer. */
    protected abstract void checkInput(TensorShape shape);

    /** Forward of x into y (same shape; y may be x). */
    public abstract void forward(TensorView x, TensorView y);

    /**
     * Backward: from the forward's input x and the output gradient dy, the input gradient into dx (null
     * to skip) and the parameter gradients added to {@link #weightGrad()} and {@link #biasGrad()}.
     */
    public abstract void backward(TensorView x, TensorView dy, TensorView dx);

    /**
     * Forward on arrays of exactly {@code shape.elementCount()} floats; see
     * {@link #forward(TensorView, TensorView)}.
     */
    @Override
    public void forward(TensorShape shape, float[] x, float[] y) {
        checkShape(shape);
        ArrayViews v = ArrayViews.get();
        try {
            forward(v.x(this, shape, x), v.y(this, shape, y));
        } finally {
            v.release();
        }
    }

    /**
     * Backward on arrays of exactly {@code shape.elementCount()} floats ({@code y} is not read; dx null
     * skips the input gradient); see {@link #backward(TensorView, TensorView, TensorView)}.
     */
    @Override
    public void backward(TensorShape shape, float[] x, float[] y, float[] dy, float[] dx) {
        checkShape(shape);
        ArrayViews v = ArrayViews.get();
        try {
            backward(v.x(this, shape, x), v.dy(this, shape, dy), dx == null ? null : v.dx(this, shape, dx));
        } finally {
            v.release();
        }
    }

    /** The shape of an array call: present and one this layer takes, before any array is looked at. */
    protected final void checkShape(TensorShape shape) {
        if (shape == null) {
            throw new NullPointerException(this + ": shape must not be null");
        }
        checkInput(shape);
    }

    /**
     * The saved statistics a forward of {@code units} units writes: {@code current} when it has that
     * size, else new ones, which the caller keeps only once its call succeeded, so a refused forward of
     * another size leaves the last forward's statistics for its backward.
     */
    protected static SavedStatistics savedFor(SavedStatistics current, int units) {
        return current != null && current.channels() == units ? current : new SavedStatistics(units);
    }

    /** A kernel's argument error with this layer's name in front (its type kept). */
    protected RuntimeException named(RuntimeException e) {
        String message = this + ": " + e.getMessage();
        if (e instanceof IllegalArgumentException) {
            return new IllegalArgumentException(message, e);
        }
        if (e instanceof IndexOutOfBoundsException) {
            return new IndexOutOfBoundsException(message);
        }
        if (e instanceof NullPointerException) {
            return new NullPointerException(message);
        }
        if (e instanceof IllegalStateException) {
            return new IllegalStateException(message, e);
        }
        return e;
    }

    // ---------------------------------------------------------------- state

    /**
     * The layer's float state entries under PyTorch's names (weight, bias, running_mean, running_var), live
     * arrays; {@code num_batches_tracked} (int64) follows them when there are running statistics.
     */
    protected Map<String, float[]> floatState() {
        Map<String, float[]> state = new LinkedHashMap<>();
        if (weight != null) {
            state.put("weight", weight);
        }
        if (bias != null) {
            state.put("bias", bias);
        }
        if (runningMean != null) {
            state.put("running_mean", runningMean);
            state.put("running_var", runningVar);
        }
        return state;
    }

    /** The shape each float entry has in PyTorch's state_dict (default: a vector). */
    protected long[] entryShape(String entry, float[] values) {
        return new long[] {values.length};
    }

    /** Checks a float entry's values before anything is loaded: running_var must hold variances. */
    protected void checkEntry(String entry, float[] values) {
        if (entry.equals("running_var")) {
            for (int c = 0; c < values.length; c++) {
                if (!(values[c] >= 0)) {
                    throw new IllegalArgumentException(this + ": running_var[" + c + "] must be a non-negative "
                            + "variance, got " + values[c]);
                }
            }
        }
    }

    /** The state under PyTorch's {@code state_dict} names, each prefixed with {@code prefix} ("" for none). */
    public Map<String, Tensor> stateDict(String prefix) {
        if (prefix == null) {
            throw new NullPointerException("prefix must not be null (use \"\" for none)");
        }
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : floatState().entrySet()) {
            state.put(prefix + e.getKey(), Tensor.ofFloats(e.getValue(), entryShape(e.getKey(), e.getValue())));
        }
        if (runningMean != null) {
            state.put(prefix + "num_batches_tracked", Tensor.ofLongs(new long[] {numBatchesTracked}));
        }
        return state;
    }

    /**
     * Loads state written by {@link #stateDict} or by PyTorch: of the entries whose names start with
     * {@code prefix}, exactly this layer's must be present, F32 with PyTorch's shapes
     * (num_batches_tracked: I64, a scalar or [1]). Everything is checked before anything is assigned:
     * on an error the layer is unchanged.
     */
    public void loadStateDict(Map<String, Tensor> state, String prefix) {
        enter();
        try {
            loadStateDictEntered(state, prefix);
        } finally {
            exit();
        }
    }

    private void loadStateDictEntered(Map<String, Tensor> state, String prefix) {
        if (state == null || prefix == null) {
            throw new NullPointerException("state and prefix must not be null (use \"\" for no prefix)");
        }
        Map<String, Tensor> expected = stateDict(prefix);
        for (String key : state.keySet()) {
            if (key.startsWith(prefix) && !expected.containsKey(key)) {
                throw new IllegalArgumentException("unexpected entry '" + key + "' for " + this + " (expected "
                        + expected.keySet() + ")");
            }
        }
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor t = state.get(e.getKey());
            Tensor want = e.getValue();
            if (t == null) {
                throw new IllegalArgumentException(state.containsKey(e.getKey())
                        ? "entry '" + e.getKey() + "' for " + this + " is null, expected a " + want.dtype()
                                + " tensor of shape " + Arrays.toString(want.shape())
                        : "missing entry '" + e.getKey() + "' for " + this);
            }
            boolean counter = e.getKey().endsWith("num_batches_tracked");
            boolean shapeOk = counter ? t.elementCount() == 1 && t.shape().length <= 1
                    : Arrays.equals(t.shape(), want.shape());
            if (!t.dtype().equals(want.dtype()) || !shapeOk) {
                throw new IllegalArgumentException("entry '" + e.getKey() + "' has dtype " + t.dtype() + " and shape "
                        + Arrays.toString(t.shape()) + ", expected " + want.dtype() + " and shape "
                        + Arrays.toString(want.shape()) + " for " + this);
            }
            if (counter && t.longs()[0] < 0) {
                throw new IllegalArgumentException("num_batches_tracked must be non-negative, got " + t.longs()[0]);
            }
        }
        for (String entry : floatState().keySet()) {
            checkEntry(entry, state.get(prefix + entry).floats());
        }
        for (Map.Entry<String, float[]> e : floatState().entrySet()) {
            float[] values = state.get(prefix + e.getKey()).floats();
            System.arraycopy(values, 0, e.getValue(), 0, values.length);
        }
        if (runningMean != null) {
            numBatchesTracked = state.get(prefix + "num_batches_tracked").longs()[0];
        }
    }

    /** Saves {@link #stateDict} with no prefix as a safetensors file. */
    public void save(Path file) throws IOException {
        SafeTensors.write(file, stateDict(""));
    }

    /** Loads a safetensors file saved by {@link #save} (or by PyTorch's {@code save_file(m.state_dict())}). */
    public void load(Path file) throws IOException {
        loadStateDict(SafeTensors.read(file), "");
    }

    /** The class and options, and the name when there is one: how messages name the layer. */
    protected abstract String describe();

    /** The name, if any, then the class and options: {@code "layer1.0.bn1: BatchNorm2d(64, eps=1.0E-5, ...)"}. */
    @Override
    public String toString() {
        return (name.isEmpty() ? "" : name + ": ") + describe();
    }
}
