/**
 * One translation per TF.js layer class: each takes the layer's ONNX input values and adds the nodes
 * and initializers that compute the same thing at inference (dropout and noise layers are identity,
 * batch normalisation uses the moving statistics), returning the output values.
 *
 * Weights are read from the layer's variables (float32). Image layers work in NCHW (ONNX's Conv and
 * pooling layout); values keep the layout they have until a layer needs the other one, so a chain of
 * conv / BN / activation / add layers has one transpose before it and one after.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../core/platform/index.js';
import { attr, type GraphBuilder, type TfShape, type Value } from './graph.js';

/** A layer this exporter cannot translate (or a configuration of one it does not cover). */
export class UnsupportedLayerError extends InputError {
  override name = 'UnsupportedLayerError';
  constructor(
    readonly layerClass: string,
    readonly layerName: string,
    detail?: string,
    supported: readonly string[] = SUPPORTED_LAYERS,
  ) {
    super(
      detail
        ? `ONNX export: layer '${layerName}' (${layerClass}): ${detail}`
        : `ONNX export: layer class ${layerClass} (layer '${layerName}') is not supported; supported: ${supported.join(', ')}`,
    );
  }
}

/** What a translation gets: the layer, its call's input values and the TF shapes of its outputs. */
export interface LayerCall {
  g: GraphBuilder;
  layer: tf.layers.Layer;
  className: string;
  /** Base name for the values this call makes (the layer name, made unique per call). */
  base: string;
  inputs: Value[];
  outputShapes: TfShape[];
}

/** A layer class's translation: its call's ONNX values in, the values it computes out. */
export type Translate = (call: LayerCall) => Value[];

type Config = Record<string, unknown>;
const configOf = (layer: tf.layers.Layer): Config => layer.getConfig() as Config;

export function fail(call: LayerCall, detail: string): never {
  throw new UnsupportedLayerError(call.className, call.layer.name, detail);
}

export function one(call: LayerCall): Value {
  if (call.inputs.length !== 1) fail(call, `expected one input, got ${call.inputs.length}`);
  return call.inputs[0]!;
}

export function out(call: LayerCall, name: string, nchw: boolean, index = 0): Value {
  const shape = call.outputShapes[index];
  if (!shape) fail(call, `no output shape for output ${index}`);
  return { name, shape, dtype: 'float32', nchw };
}

function pair(value: unknown, what: string, call: LayerCall): [number, number] {
  const v = Array.isArray(value) ? value : [value, value];
  if (v.length !== 2 || !v.every((x) => Number.isInteger(x))) fail(call, `${what} must be two integers, got ${JSON.stringify(value)}`);
  return [v[0] as number, v[1] as number];
}

function channelsLast(call: LayerCall): void {
  const format = configOf(call.layer)['dataFormat'];
  if (format != null && format !== 'channelsLast') fail(call, `dataFormat '${String(format)}' is not supported (channelsLast only)`);
}

/** A layer variable by its property name (`kernel`, `bias`, `gamma`, ...), or undefined when the layer has none. */
export function variable(call: LayerCall, prop: string, required: true): tf.LayerVariable;
export function variable(call: LayerCall, prop: string, required?: false): tf.LayerVariable | undefined;
export function variable(call: LayerCall, prop: string, required = false): tf.LayerVariable | undefined {
  const v = (call.layer as unknown as Record<string, unknown>)[prop];
  if (v == null) {
    if (required) fail(call, `has no '${prop}' weight (was the layer built?)`);
    return undefined;
  }
  if (typeof (v as tf.LayerVariable).read !== 'function') fail(call, `'${prop}' is not a layer variable`);
  return v as tf.LayerVariable;
}

/** float32 data of a variable, optionally transposed, as an initializer (made once per variable and transform). */
export function weight(call: LayerCall, v: tf.LayerVariable, suffix: string, perm?: number[], dims?: number[]): string {
  return call.g.weight(`${v.id}:${suffix}:${perm?.join(',') ?? ''}:${dims?.join(',') ?? ''}`, `${call.layer.name}/${suffix}`, () => {
    // (tidy must not return the typed array: it walks returned containers element by element)
    const t = perm ? tf.tidy(() => tf.transpose(v.read(), perm)) : v.read();
    const data = t.dataSync();
    if (perm) t.dispose();
    const shape = perm ? perm.map((p) => v.shape[p]!) : [...v.shape];
    return { data: new Float32Array(data), dims: dims ?? (shape as number[]) };
  });
}

/** A float32 initializer computed from the layer (made once per layer, however often it is called). */
function constFloats(call: LayerCall, suffix: string, make: () => Float32Array, dims: number[]): string {
  return call.g.weight(`layer${call.layer.id}:${suffix}`, `${call.layer.name}/${suffix}`, () => ({ data: make(), dims }));
}

// ---------------------------------------------------------------------------------------------
// Activations (Dense / Conv `activation`, the Activation layer)

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

export const SUPPORTED_ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'swish',
];

function activation(call: LayerCall, x: Value, name: unknown, base: string): Value {
  const g = call.g;
  const same = (n: string): Value => ({ ...x, name: n, dtype: 'float32' });
  switch (name ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return same(g.node('Relu', [x.name], base));
    case 'relu6':
      return same(g.node('Clip', [x.name, g.scalar(0), g.scalar(6)], base));
    case 'sigmoid':
      return same(g.node('Sigmoid', [x.name], base));
    case 'hardSigmoid': // TF.js: clip(0.2 x + 0.5, 0, 1)
      return same(g.node('HardSigmoid', [x.name], base, [attr.float('alpha', 0.2), attr.float('beta', 0.5)]));
    case 'tanh':
      return same(g.node('Tanh', [x.name], base));
    case 'softmax': // over TF's last axis, which is ONNX axis 1 in NCHW
      return same(g.node('Softmax', [x.name], base, [attr.int('axis', x.nchw ? 1 : -1)]));
    case 'elu':
      return same(g.node('Elu', [x.name], base, [attr.float('alpha', 1)]));
    case 'selu':
      return same(g.node('Selu', [x.name], base, [attr.float('alpha', SELU_ALPHA), attr.float('gamma', SELU_SCALE)]));
    case 'softplus':
      return same(g.node('Softplus', [x.name], base));
    case 'softsign':
      return same(g.node('Softsign', [x.name], base));
    case 'swish': {
      const s = g.node('Sigmoid', [x.name], `${base}_sigmoid`);
      return same(g.node('Mul', [x.name, s], base));
    }
    default:
      fail(call, `activation '${String(name)}' is not supported (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling geometry

/**
 * ONNX `pads` [top, left, bottom, right] for TF's padding: 'valid' is none; 'same' pads
 * (ceil(in/s) - 1)·s + (k-1)·d + 1 - in in total, the odd one at the end (bottom/right), which is
 * what TF (and TF.js) do for stride 2. With an unknown spatial size ONNX's SAME_UPPER does the same.
 */
function padsFor(
  call: LayerCall,
  x: Value,
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
  padding: unknown,
): ReturnType<typeof attr.int>[] {
  if (padding === 'valid') return [attr.ints('pads', [0, 0, 0, 0])];
  if (padding !== 'same') fail(call, `padding '${String(padding)}' is not supported (same, valid)`);
  const spatial = [x.shape[1], x.shape[2]];
  if (spatial.some((d) => d == null)) return [attr.string('auto_pad', 'SAME_UPPER')];
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const size = spatial[i]!;
    const outSize = Math.ceil(size / strides[i]!);
    const effective = (kernel[i]! - 1) * dilation[i]! + 1;
    const total = Math.max((outSize - 1) * strides[i]! + effective - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [attr.ints('pads', [...before, ...after])];
}

function convolution(call: LayerCall, depthwise: boolean): Value[] {
  channelsLast(call);
  const config = configOf(call.layer);
  const input = one(call);
  if (input.shape.length !== 4) fail(call, `expected a rank-4 NHWC input, got shape [${input.shape.join(', ')}]`);
  const x = call.g.toNchw(input);
  const kernelSize = pair(config['kernelSize'], 'kernelSize', call);
  const strides = pair(config['strides'] ?? 1, 'strides', call);
  const dilation = pair(config['dilationRate'] ?? 1, 'dilationRate', call);
  let w: string;
  let group = 1;
  if (depthwise) {
    // TF [kh, kw, in, mult] → ONNX [in·mult, 1, kh, kw] with group = in; output channel c·mult + m in both.
    const k = variable(call, 'depthwiseKernel', true);
    const [kh, kw, inChannels, mult] = k.shape as number[];
    group = inChannels!;
    w = weight(call, k, 'depthwise_kernel', [2, 3, 0, 1], [inChannels! * mult!, 1, kh!, kw!]);
  } else {
    // TF [kh, kw, in, out] → ONNX [out, in, kh, kw].
    w = weight(call, variable(call, 'kernel', true), 'kernel', [3, 2, 0, 1]);
  }
  const bias = config['useBias'] === false ? undefined : variable(call, 'bias');
  const inputs = bias ? [x.name, w, weight(call, bias, 'bias')] : [x.name, w];
  const conv = call.g.node('Conv', inputs, call.base, [
    attr.ints('kernel_shape', kernelSize),
    attr.ints('strides', strides),
    attr.ints('dilations', dilation),
    attr.int('group', group),
    ...padsFor(call, input, kernelSize, strides, dilation, config['padding']),
  ]);
  return [activation(call, out(call, conv, true), config['activation'], `${call.base}_${String(config['activation'])}`)];
}

function pooling(call: LayerCall, op: 'MaxPool' | 'AveragePool'): Value[] {
  channelsLast(call);
  const config = configOf(call.layer);
  const input = one(call);
  if (input.shape.length !== 4) fail(call, `expected a rank-4 NHWC input, got shape [${input.shape.join(', ')}]`);
  const x = call.g.toNchw(input);
  const poolSize = pair(config['poolSize'], 'poolSize', call);
  const strides = pair(config['strides'] ?? poolSize, 'strides', call);
  const attributes = [
    attr.ints('kernel_shape', poolSize),
    attr.ints('strides', strides),
    ...padsFor(call, input, poolSize, strides, [1, 1], config['padding']),
  ];
  // TF averages over the window's pixels inside the image only.
  if (op === 'AveragePool') attributes.push(attr.int('count_include_pad', 0));
  return [out(call, call.g.node(op, [x.name], call.base, attributes), true)];
}

function globalPooling(call: LayerCall, op: 'ReduceMean' | 'ReduceMax', rank: number): Value[] {
  channelsLast(call);
  const x = one(call);
  if (x.shape.length !== rank) fail(call, `expected a rank-${rank} input, got shape [${x.shape.join(', ')}]`);
  const axes = rank === 3 ? [1] : x.nchw ? [2, 3] : [1, 2];
  return [out(call, call.g.reduce(op, x.name, axes, false, call.base), false)];
}

// ---------------------------------------------------------------------------------------------
// The layers

function dense(call: LayerCall): Value[] {
  const config = configOf(call.layer);
  const x = call.g.toTf(one(call)); // Dense works on TF's last axis
  const kernel = weight(call, variable(call, 'kernel', true), 'kernel');
  const bias = config['useBias'] === false ? undefined : variable(call, 'bias');
  let y: string;
  if (x.shape.length === 2) {
    y = call.g.node('Gemm', bias ? [x.name, kernel, weight(call, bias, 'bias')] : [x.name, kernel], call.base);
  } else {
    y = call.g.node('MatMul', [x.name, kernel], bias ? `${call.base}_matmul` : call.base);
    if (bias) y = call.g.node('Add', [y, weight(call, bias, 'bias')], call.base);
  }
  return [activation(call, out(call, y, false), config['activation'], `${call.base}_${String(config['activation'])}`)];
}

function batchNormalization(call: LayerCall): Value[] {
  const config = configOf(call.layer);
  const input = one(call);
  const rank = input.shape.length;
  const axis = Number(config['axis'] ?? -1);
  if (axis !== -1 && axis !== rank - 1) fail(call, `axis ${axis} is not supported (the last axis only)`);
  const epsilon = Number(config['epsilon'] ?? 1e-3);
  const gamma = variable(call, 'gamma');
  const beta = variable(call, 'beta');
  const mean = variable(call, 'movingMean', true);
  const variance = variable(call, 'movingVariance', true);
  const channels = mean.shape[0]!;
  if (rank === 4) {
    const x = call.g.toNchw(input);
    const scale = gamma ? weight(call, gamma, 'gamma') : constFloats(call, 'gamma', () => new Float32Array(channels).fill(1), [channels]);
    const shift = beta ? weight(call, beta, 'beta') : constFloats(call, 'beta', () => new Float32Array(channels), [channels]);
    const y = call.g.node(
      'BatchNormalization',
      [x.name, scale, shift, weight(call, mean, 'moving_mean'), weight(call, variance, 'moving_variance')],
      call.base,
      [attr.float('epsilon', epsilon)],
    );
    return [out(call, y, true)];
  }
  // Other ranks: y = x · scale + shift on the last axis, scale = γ / sqrt(var + ε), shift = β − mean · scale.
  const x = call.g.toTf(input);
  const [m, v, gm, bt] = [mean, variance, gamma, beta].map((w) => (w ? w.read().dataSync() : undefined));
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (gm ? gm[c]! : 1) / Math.sqrt(v![c]! + epsilon);
    shift[c] = (bt ? bt[c]! : 0) - m![c]! * scale[c]!;
  }
  const scaled = call.g.node('Mul', [x.name, constFloats(call, 'scale', () => scale, [channels])], `${call.base}_scale`);
  return [out(call, call.g.node('Add', [scaled, constFloats(call, 'shift', () => shift, [channels])], call.base), false)];
}

function relu(call: LayerCall): Value[] {
  const x = one(call);
  const maxValue = configOf(call.layer)['maxValue'];
  const y =
    maxValue == null
      ? call.g.node('Relu', [x.name], call.base)
      : call.g.node('Clip', [x.name, call.g.scalar(0), call.g.scalar(Number(maxValue))], call.base);
  return [out(call, y, x.nchw)];
}

function leakyRelu(call: LayerCall): Value[] {
  const x = one(call);
  const alpha = Number(configOf(call.layer)['alpha'] ?? 0.3);
  return [out(call, call.g.node('LeakyRelu', [x.name], call.base, [attr.float('alpha', alpha)]), x.nchw)];
}

function softmaxLayer(call: LayerCall): Value[] {
  const x = call.g.toTf(one(call));
  const axis = configOf(call.layer)['axis'] ?? -1;
  if (Array.isArray(axis)) fail(call, 'a softmax over several axes is not supported');
  return [out(call, call.g.node('Softmax', [x.name], call.base, [attr.int('axis', Number(axis))]), false)];
}

function zeroPadding2d(call: LayerCall): Value[] {
  channelsLast(call);
  const x = one(call);
  const padding = configOf(call.layer)['padding'] as number[][];
  const [top, bottom] = pair(padding[0], 'padding', call);
  const [left, right] = pair(padding[1], 'padding', call);
  // Pads in whichever layout the value is in: no transpose needed.
  const pads = x.nchw ? [0, 0, top, left, 0, 0, bottom, right] : [0, top, left, 0, 0, bottom, right, 0];
  return [out(call, call.g.node('Pad', [x.name, call.g.int64s(pads)], call.base, [attr.string('mode', 'constant')]), x.nchw)];
}

function flatten(call: LayerCall): Value[] {
  channelsLast(call);
  let x = one(call);
  // TF flattens NHWC; an NCHW tensor with H·W = 1 has the same order already (MobileNet's pooled features).
  if (x.nchw && !(x.shape[1] === 1 && x.shape[2] === 1)) x = call.g.toTf(x);
  return [out(call, call.g.node('Flatten', [x.name], call.base, [attr.int('axis', 1)]), false)];
}

function reshape(call: LayerCall): Value[] {
  const x = call.g.toTf(one(call));
  // TF.js keeps the dimension to infer as null (-1 in the config it was given).
  const target = (configOf(call.layer)['targetShape'] as (number | null)[]).map((d) => d ?? -1);
  // 0 keeps the batch dimension; -1 (at most one) is inferred, as in TF.
  return [out(call, call.g.node('Reshape', [x.name, call.g.int64s([0, ...target])], call.base), false)];
}

/** Inputs of a merge layer in one layout: NCHW when any is NCHW (and all have rank 4), else TF's. */
function merged(call: LayerCall): Value[] {
  if (call.inputs.length < 2) fail(call, `expected at least two inputs, got ${call.inputs.length}`);
  const rank = call.inputs[0]!.shape.length;
  if (call.inputs.some((v) => v.shape.length !== rank))
    fail(call, `inputs of different ranks are not supported ([${call.inputs.map((v) => v.shape.length).join(', ')}])`);
  const nchw = rank === 4 && call.inputs.some((v) => v.nchw);
  return call.inputs.map((v) => (nchw ? call.g.toNchw(v) : call.g.toTf(v)));
}

function elementwise(op: 'Sum' | 'Mean' | 'Max' | 'Min' | 'Mul'): Translate {
  return (call) => {
    const xs = merged(call);
    const names = xs.map((v) => v.name);
    let y: string;
    if (op === 'Mul') {
      y = names[0]!;
      for (let i = 1; i < names.length; i++)
        y = call.g.node('Mul', [y, names[i]!], i === names.length - 1 ? call.base : `${call.base}_${i}`);
    } else {
      y = call.g.node(op, names, call.base);
    }
    return [out(call, y, xs[0]!.nchw)];
  };
}

function concatenate(call: LayerCall): Value[] {
  const xs = merged(call);
  const rank = xs[0]!.shape.length;
  let axis = Number(configOf(call.layer)['axis'] ?? -1);
  if (axis < 0) axis += rank;
  if (xs[0]!.nchw) axis = [0, 2, 3, 1][axis]!; // TF axis → its position in NCHW
  return [
    out(
      call,
      call.g.node(
        'Concat',
        xs.map((v) => v.name),
        call.base,
        [attr.int('axis', axis)],
      ),
      xs[0]!.nchw,
    ),
  ];
}

function identity(call: LayerCall): Value[] {
  return [one(call)];
}

function activationLayer(call: LayerCall): Value[] {
  const x = one(call);
  const name = configOf(call.layer)['activation'];
  const y = activation(call, x, name, call.base);
  return [y === x ? x : { ...y, shape: call.outputShapes[0] ?? y.shape }];
}

/** The TF.js built-in layers this exporter translates; a model's own layer classes come in ExportOptions.layers. */
export const BUILTIN_TRANSLATIONS: Readonly<Record<string, Translate>> = {
  Dense: dense,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  Activation: activationLayer,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  Softmax: softmaxLayer,
  Conv2D: (call) => convolution(call, false),
  DepthwiseConv2D: (call) => convolution(call, true),
  BatchNormalization: batchNormalization,
  ZeroPadding2D: zeroPadding2d,
  Add: elementwise('Sum'),
  Multiply: elementwise('Mul'),
  Average: elementwise('Mean'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Concatenate: concatenate,
  AveragePooling2D: (call) => pooling(call, 'AveragePool'),
  MaxPooling2D: (call) => pooling(call, 'MaxPool'),
  GlobalAveragePooling2D: (call) => globalPooling(call, 'ReduceMean', 4),
  GlobalMaxPooling2D: (call) => globalPooling(call, 'ReduceMax', 4),
  GlobalAveragePooling1D: (call) => globalPooling(call, 'ReduceMean', 3),
  GlobalMaxPooling1D: (call) => globalPooling(call, 'ReduceMax', 3),
  Flatten: flatten,
  Reshape: reshape,
};

export const SUPPORTED_LAYERS = ['InputLayer', ...Object.keys(BUILTIN_TRANSLATIONS), 'nested LayersModel / Sequential'];
