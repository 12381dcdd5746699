package io.github.panamabn.demo;

import io.github.panamabn.nn.Activations;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.norm.BatchNormFolding;
import io.github.panamabn.nn.norm.BatchNormLayer;
import io.github.panamabn.nn.Layer;
import io.github.panamabn.nn.Linear;
import io.github.panamabn.nn.Sequential;
import io.github.panamabn.nn.norm.GroupNorm;
import io.github.panamabn.nn.norm.LayerNorm;
import java.util.ArrayList;
import java.util.List;

/**
 * The batch-norm paper's MNIST network at digits scale: three hidden layers of {@code width} sigmoid
 * units, with a norm before each nonlinearity when asked, then a linear layer to the classes.
 */
final class Mlp {
    /** The norm before each nonlinearity. */
    enum Norm {
        NONE("no norm"),
        BATCH("batch norm"),
        LAYER("layer norm"),
        /** {@link #GROUPS} groups of the hidden units. */
        GROUP("group norm");

        /** Group norm's groups: 10 of 10 units at the demo's width. */
        static final int GROUPS = 10;

        final String label;

        Norm(String label) {
            this.label = label;
        }
    }

    private Mlp() {
    }

    static Sequential build(int inputs, int width, int classes, Norm norm, long seed) {
        List<Layer> layers = new ArrayList<>();
        int in = inputs;
        for (int h = 0; h < 3; h++) {
            layers.add(new Linear(in, width, seed * 31 + h));
            switch (norm) {
                case BATCH -> layers.add(new BatchNorm1d(width));
                case LAYER -> layers.add(new LayerNorm(width));
                case GROUP -> layers.add(new GroupNorm(Norm.GROUPS, width));
                case NONE -> { }
            }
            layers.add(Activations.sigmoid());
            in = width;
        }
        layers.add(new Linear(in, classes, seed * 31 + 3));
        return new Sequential(layers.toArray(Layer[]::new));
    }

    /**
     * The same network with every batch norm folded into the Linear before it (on copies of the
     * weights): for serving an eval-mode model without the batch-norm layers.
     */
    static Sequential folded(Sequential model) {
        List<Layer> out = new ArrayList<>();
        List<Layer> layers = model.layers();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof Linear lin && i + 1 < layers.size() && layers.get(i + 1) instanceof BatchNormLayer bn) {
                Linear copy = new Linear(lin.inFeatures(), lin.outFeatures(), 0);
                System.arraycopy(lin.weight(), 0, copy.weight(), 0, lin.weight().length);
                float[] bias = BatchNormFolding.fold(copy.weight(), lin.bias().clone(), bn);
                System.arraycopy(bias, 0, copy.bias(), 0, bias.length);
                out.add(copy);
                i++;
            } else {
                out.add(l);
            }
        }
        return new Sequential(out.toArray(Layer[]::new));
    }
}
