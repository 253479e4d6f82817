/**
 * A small builder for an ONNX graph over onnx-proto's generated protobufjs classes: unique value and
 * node names, nodes with typed attributes, float32 / int64 initializers (raw little-endian bytes),
 * and the layout bookkeeping the layer translations share (a TF.js image tensor is NHWC; ONNX's
 * Conv and pooling want NCHW, so a value remembers which of the two its ONNX tensor holds and each
 * transpose is made once per value).
 */
import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const { onnx } = onnxProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type AttributeProto = OnnxTypes.IAttributeProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

if (endianness() !== 'LE') throw new Error('the ONNX exporter writes raw little-endian tensors and needs a little-endian machine');

/** TF.js dtypes an exported graph can carry between layers. */
export type ValueDtype = 'float32' | 'int32';

export const onnxDataType = (dtype: ValueDtype): number => (dtype === 'int32' ? DataType.INT32 : DataType.FLOAT);

/** TF.js shape: channels last, `null` for a dimension not known before run time. */
export type TfShape = (number | null)[];

/**
 * A tensor of the graph being built. `shape` is always the TF.js (logical) shape; when `nchw` is set
 * the ONNX tensor named `name` holds the rank-4 NHWC tensor transposed to NCHW.
 */
export interface Value {
  name: string;
  shape: TfShape;
  dtype: ValueDtype;
  nchw: boolean;
}

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

// Attribute helpers: ONNX attributes are typed, so ints and floats must be told apart.
export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: readonly number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: [...ints] }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): AttributeProto => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
};

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly cachedConstants = new Map<string, string>();
  private readonly cachedWeights = new Map<string, string>();
  private readonly transposed = new Map<string, Value>();

  constructor(readonly opset: number) {}

  /** A name not used yet in this graph, made of `base` (sanitised) and a counter when needed. */
  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Marks names the graph owns before any node is added (its inputs). */
  reserve(name: string): void {
    if (this.used.has(name)) throw new Error(`ONNX export: the name '${name}' is used twice`);
    this.used.add(name);
  }

  /** Adds a node; returns its single output's name (`output` is the base name for it). */
  node(opType: string, inputs: readonly string[], output: string, attributes: AttributeProto[] = []): string {
    const out = this.unique(output);
    this.nodes.push({ opType, input: [...inputs], output: [out], name: out, attribute: attributes });
    return out;
  }

  /** Adds a node whose output has a name reserved before (a graph output). */
  nodeNamed(opType: string, inputs: readonly string[], output: string, attributes: AttributeProto[] = []): void {
    if (!this.used.has(output)) throw new Error(`ONNX export: '${output}' was not reserved`);
    this.nodes.push({ opType, input: [...inputs], output: [output], name: output, attribute: attributes });
  }

  floatInitializer(base: string, data: Float32Array, dims: readonly number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims: [...dims], rawData: bytesOf(data) });
    return name;
  }

  /**
   * A float32 initializer made from a layer variable, once per (variable, transform): a layer that is
   * shared between calls, or a model nested twice, keeps one copy of its weights.
   */
  weight(key: string, base: string, make: () => { data: Float32Array; dims: number[] }): string {
    const cached = this.cachedWeights.get(key);
    if (cached) return cached;
    const { data, dims } = make();
    const name = this.floatInitializer(base, data, dims);
    this.cachedWeights.set(key, name);
    return name;
  }

  /** An int64 constant (axes, pads, shapes), shared between the nodes that use the same values. */
  int64s(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let name = this.cachedConstants.get(key);
    if (!name) {
      name = this.unique(`const_i64_${values.join('_').replace(/-/g, 'm')}`.slice(0, 60));
      this.initializers.push({ name, dataType: DataType.INT64, dims: [...dims], rawData: bytesOf(BigInt64Array.from(values.map(BigInt))) });
      this.cachedConstants.set(key, name);
    }
    return name;
  }

  /** A float32 scalar constant, shared. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    let name = this.cachedConstants.get(key);
    if (!name) {
      name = this.unique(`const_f32_${String(value).replace(/[^0-9a-z]/gi, '_')}`);
      this.initializers.push({ name, dataType: DataType.FLOAT, dims: [], rawData: bytesOf(Float32Array.of(value)) });
      this.cachedConstants.set(key, name);
    }
    return name;
  }

  // Reductions: ReduceSum takes its axes as an input from opset 13, the others from opset 18.
  reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax', x: string, axes: readonly number[], keepdims: boolean, output: string): string {
    const keep = attr.int('keepdims', keepdims ? 1 : 0);
    if (op === 'ReduceSum' || this.opset >= 18) return this.node(op, [x, this.int64s(axes)], output, [keep]);
    return this.node(op, [x], output, [attr.ints('axes', axes), keep]);
  }

  /** The value with its ONNX tensor in NCHW (rank-4 values only); the transpose is made once. */
  toNchw(value: Value): Value {
    if (value.nchw) return value;
    if (value.shape.length !== 4)
      throw new Error(`ONNX export: '${value.name}' has rank ${value.shape.length}, an image tensor needs rank 4`);
    return this.transpose(value, true);
  }

  /** The value with its ONNX tensor in TF.js's own layout (NHWC for images). */
  toTf(value: Value): Value {
    return value.nchw ? this.transpose(value, false) : value;
  }

  private transpose(value: Value, toNchw: boolean): Value {
    const key = `${value.name}>${toNchw ? 'nchw' : 'nhwc'}`;
    let result = this.transposed.get(key);
    if (!result) {
      const name = this.node('Transpose', [value.name], `${value.name}_${toNchw ? 'nchw' : 'nhwc'}`, [
        attr.ints('perm', toNchw ? NHWC_TO_NCHW : NCHW_TO_NHWC),
      ]);
      result = { ...value, name, nchw: toNchw };
      this.transposed.set(key, result);
      // Going back needs no second transpose.
      this.transposed.set(`${name}>${toNchw ? 'nhwc' : 'nchw'}`, value);
    }
    return result;
  }
}

/** A ValueInfoProto: `dims` are numbers (fixed) or strings (symbolic); null leaves a dimension unnamed. */
export function valueInfo(name: string, dtype: ValueDtype, dims: readonly (number | string | null)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxDataType(dtype),
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) },
      },
    },
  };
}
