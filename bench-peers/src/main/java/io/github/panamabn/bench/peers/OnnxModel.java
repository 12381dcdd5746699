package io.github.panamabn.bench.peers;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A one-node ONNX model, encoded as the protobuf bytes ONNX Runtime reads ({@code onnx.proto}'s
 * ModelProto, GraphProto, NodeProto, ValueInfoProto and AttributeProto, by their field numbers): float
 * inputs and one float output of fixed shapes, integer and float attributes. Enough to run a single
 * normalization operator, without a protobuf or ONNX dependency in the bench.
 */
final class OnnxModel {
    private final String opType;
    private final int opset;
    private final ByteArrayOutputStream inputs = new ByteArrayOutputStream();
    private final ByteArrayOutputStream attributes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream nodeInputs = new ByteArrayOutputStream();
    private String output;
    private long[] outputShape;

    /** A model of one {@code opType} node of the default domain at operator set {@code opset}. */
    OnnxModel(String opType, int opset) {
        this.opType = opType;
        this.opset = opset;
    }

    /** A float graph input of this shape, also the node's next input. */
    OnnxModel input(String name, long... shape) {
        bytes(inputs, 11, valueInfo(name, shape));
        string(nodeInputs, 1, name);
        return this;
    }

    OnnxModel output(String name, long... shape) {
        output = name;
        outputShape = shape;
        return this;
    }

    OnnxModel attribute(String name, long value) {
        ByteArrayOutputStream a = new ByteArrayOutputStream();
        string(a, 1, name);
        varintField(a, 3, value);
        varintField(a, 20, 2); // AttributeType.INT
        bytes(attributes, 5, a.toByteArray());
        return this;
    }

    OnnxModel attribute(String name, float value) {
        ByteArrayOutputStream a = new ByteArrayOutputStream();
        string(a, 1, name);
        tag(a, 2, 5); // fixed32
        int bits = Float.floatToIntBits(value);
        for (int i = 0; i < 4; i++) {
            a.write(bits >>> (8 * i) & 0xFF);
        }
        varintField(a, 20, 1); // AttributeType.FLOAT
        bytes(attributes, 5, a.toByteArray());
        return this;
    }

    /** The ModelProto's bytes. */
    byte[] toBytes() {
        ByteArrayOutputStream node = new ByteArrayOutputStream();
        node.writeBytes(nodeInputs.toByteArray());
        string(node, 2, output);
        string(node, 3, "norm");
        string(node, 4, opType);
        node.writeBytes(attributes.toByteArray());
        ByteArrayOutputStream graph = new ByteArrayOutputStream();
        bytes(graph, 1, node.toByteArray());
        string(graph, 2, "panama-bn-bench");
        graph.writeBytes(inputs.toByteArray());
        bytes(graph, 12, valueInfo(output, outputShape));
        ByteArrayOutputStream opsetId = new ByteArrayOutputStream();
        string(opsetId, 1, "");
        varintField(opsetId, 2, opset);
        ByteArrayOutputStream model = new ByteArrayOutputStream();
        // IR version: 11 from operator set 23 (ONNX 1.18), 10 from 21, 8 from 17
        varintField(model, 1, opset >= 23 ? 11 : opset >= 21 ? 10 : 8);
        string(model, 2, "panama-bn");
        bytes(model, 7, graph.toByteArray());
        bytes(model, 8, opsetId.toByteArray());
        return model.toByteArray();
    }

    private static byte[] valueInfo(String name, long[] shape) {
        ByteArrayOutputStream dims = new ByteArrayOutputStream();
        for (long d : shape) {
            ByteArrayOutputStream dim = new ByteArrayOutputStream();
            varintField(dim, 1, d);
            bytes(dims, 1, dim.toByteArray());
        }
        ByteArrayOutputStream tensor = new ByteArrayOutputStream();
        varintField(tensor, 1, 1); // TensorProto.FLOAT
        bytes(tensor, 2, dims.toByteArray());
        ByteArrayOutputStream type = new ByteArrayOutputStream();
        bytes(type, 1, tensor.toByteArray());
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        string(info, 1, name);
        bytes(info, 2, type.toByteArray());
        return info.toByteArray();
    }

    private static void tag(ByteArrayOutputStream out, int field, int wireType) {
        varint(out, (long) field << 3 | wireType);
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) (v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static void varintField(ByteArrayOutputStream out, int field, long v) {
        tag(out, field, 0);
        varint(out, v);
    }

    private static void bytes(ByteArrayOutputStream out, int field, byte[] b) {
        tag(out, field, 2);
        varint(out, b.length);
        out.writeBytes(b);
    }

    private static void string(ByteArrayOutputStream out, int field, String s) {
        bytes(out, field, s.getBytes(StandardCharsets.UTF_8));
    }
}
