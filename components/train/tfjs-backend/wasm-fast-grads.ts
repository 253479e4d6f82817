/**
 * Faster training kernels for the TF.js wasm backend (4.22), found by profiling a small CNN on
 * Fashion-MNIST (28×28, conv 32 → pool → conv 64 → pool → dense; batch 64): a step took ~1.2 s, most of
 * it outside the convolutions' forward pass. Each replacement computes the same values (checked against
 * the cpu backend in test/train/picture-cnn.test.ts) with kernels that run on XNNPACK:
 *
 * - Conv2DBackpropInput: the backend ships it as a plain loop (164 ms where the forward Conv2D took
 *   30 ms on [64,14,14,32] × 3×3×32×64). The input gradient is a transposed convolution: dy spread out by
 *   the stride, correlated with the filter flipped in space and with in/out channels swapped, padded by
 *   what the forward padding leaves of a "full" convolution; on the backend's Conv2D, about as fast as
 *   the forward pass.
 * - (Conv2DBackpropFilter stays the project's own, wasm-kernels.ts: an im2col version built from Slice and
 *   Concat measured slower, 80 / 315 ms against 48 / 100 ms on the two layers' shapes.)
 * - The gradient of FusedBatchNorm (every BatchNormalization layer in training): TF.js's own tiles
 *   1/sqrt(variance) to the full activation shape before multiplying (Tile is slow on wasm: 279 ms of
 *   the step) and sums over N,H,W with Sum; here a broadcast multiply and per-channel sums taken as
 *   [1, N·H·W] × [N·H·W, C] matrix products. Registered as the gradient for every backend (it is the same
 *   arithmetic), so the cpu backend checks it.
 *
 * Registered over the shipped kernels and gradient; attributes a replacement does not cover go to the
 * kernel it replaced (kept here).
 */
import * as tf from '@tensorflow/tfjs';
import { spreadByStride } from './wasm-kernels.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelBackend = KernelArgs['backend'];
type WasmBackend = KernelBackend & { disposeData(dataId: object): void };
type Shape4 = [number, number, number, number];

interface InputGradAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: Shape4;
}

const KERNEL = 'Conv2DBackpropInput';

function pairOf(value: [number, number] | number | undefined): [number, number] {
  if (value === undefined) return [1, 1];
  return typeof value === 'number' ? [value, value] : value;
}

function kernelOf(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel to build on`);
  return kernel.kernelFunc;
}

let shipped: tf.KernelFunc | undefined;

function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const gradAttrs = attrs as unknown as InputGradAttrs;
  const dilations = pairOf(gradAttrs.dilations);
  const covered =
    dilations[0] === 1 &&
    dilations[1] === 1 &&
    (gradAttrs.dataFormat ?? 'NHWC') === 'NHWC' &&
    dy.shape.length === 4 &&
    filter.shape.length === 4;
  if (!covered) return shipped!(args) as tf.TensorInfo;
  const [, h, w, inChannels] = gradAttrs.inputShape;
  const [filterHeight, filterWidth] = filter.shape as Shape4;
  const info = tf.backend_util.computeConv2DInfo(
    gradAttrs.inputShape,
    filter.shape as Shape4,
    gradAttrs.strides,
    1,
    gradAttrs.pad,
    gradAttrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2]) {
    throw new Error(`${KERNEL} on wasm: dy is ${dy.shape.join('x')} but the forward convolution gives ${info.outShape.join('x')}`);
  }
  const { strideHeight, strideWidth } = info;
  const top = filterHeight - 1 - info.padInfo.top;
  const left = filterWidth - 1 - info.padInfo.left;
  if (top < 0 || left < 0) return shipped!(args) as tf.TensorInfo;
  const made: tf.TensorInfo[] = [];
  const run = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: object): tf.TensorInfo => {
    const out = kernelOf(name)({ inputs: kernelInputs, backend, attrs: kernelAttrs as tf.NamedAttrMap }) as tf.TensorInfo;
    made.push(out);
    return out;
  };
  let result: tf.TensorInfo | undefined;
  try {
    const { spread, pad } = spreadByStride(run, dy, { h, w, filterHeight, filterWidth, strideHeight, strideWidth, top, left });
    const flipped = run('Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [FH, FW, Co, Ci]
    result = run('Conv2D', { x: spread, filter: swapped }, { strides: [1, 1], dilations: [1, 1], pad, dataFormat: 'NHWC' });
    if (result.shape[3] !== inChannels)
      throw new Error(`${KERNEL} on wasm: produced ${result.shape.join('x')} for input ${gradAttrs.inputShape.join('x')}`);
    return result;
  } finally {
    for (const tensor of made) if (tensor !== result) (backend as WasmBackend).disposeData(tensor.dataId);
  }
}

/** Sums over every axis but the last, as a [1, M] × [M, C] product (fast on XNNPACK): shape [C]. */
function channelSums(t: tf.Tensor): tf.Tensor1D {
  const channels = t.shape[t.rank - 1]!;
  const rows = t.size / channels;
  return tf.matMul(tf.ones([1, rows]), tf.reshape(t, [rows, channels])).reshape([channels]) as tf.Tensor1D;
}

/**
 * The gradient of FusedBatchNorm (y = (x − mean)·scale/√(variance + ε) + offset) with respect to each of
 * its inputs, the same values as TF.js's own (FusedBatchNorm_grad.js) without its Tile.
 */
const fusedBatchNormGrad: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const dyTensor = Array.isArray(dy) ? dy[0]! : dy;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | null];
    const perChannel = mean.rank === 1;
    const sums = (t: tf.Tensor) => (perChannel ? channelSums(t) : t);
    const invStd = tf.rsqrt(tf.add(variance, varianceEpsilon));
    const scaleValue = scale ?? tf.scalar(1);
    return {
      x: () => tf.mul(dyTensor, tf.mul(invStd, scaleValue)).reshape(x.shape),
      mean: () => tf.neg(tf.mul(sums(dyTensor), tf.mul(invStd, scaleValue))).reshape(mean.shape),
      variance: () =>
        tf.mul(sums(tf.mul(dyTensor, tf.sub(x, mean))), tf.mul(tf.mul(tf.pow(invStd, 3), -0.5), scaleValue)).reshape(mean.shape),
      scale: () => tf.mul(sums(tf.mul(dyTensor, tf.sub(x, mean))), invStd).reshape(mean.shape),
      offset: () => sums(dyTensor).reshape(mean.shape),
    };
  },
};

/**
 * Puts the faster kernel in place for 'wasm' and the batch-norm gradient for every backend (once;
 * idempotent). Call after the wasm backend is imported (the project's registerWasmKernels first).
 */
export function registerWasmFastGrads(): void {
  if (shipped) return;
  const existing = tf.getKernel(KERNEL, 'wasm');
  if (!existing) throw new Error(`the wasm backend has no ${KERNEL} kernel (is @tensorflow/tfjs-backend-wasm imported?)`);
  shipped = existing.kernelFunc;
  // The shipped kernel's setup (binding its wasm function at backend start) stays, for the fallback.
  tf.unregisterKernel(KERNEL, 'wasm');
  tf.registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc: conv2DBackpropInput, setupFunc: existing.setupFunc });
  tf.registerGradient(fusedBatchNormGrad);
}
