/**
 * The kernels components/train/tf/wasm-kernels.ts adds to the wasm backend, against the cpu backend's
 * own implementations (same inputs, gradients through `tf.grad`), plus a finite-difference check that
 * does not trust either backend's gradient, and a check that the intermediates are released.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createLogger } from '../../components/core/platform/log.js';
import { initBackend, tf } from '../../components/train/tfjs-backend/backend.js';

type Shape4 = [number, number, number, number];
type Padding = 'same' | 'valid';

/** Deterministic values in [-1, 1) (a linear congruential generator), so both backends see the same data. */
function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

async function on<T>(backend: 'cpu' | 'wasm', compute: () => T): Promise<T> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} starts`);
  return compute();
}

/** Largest |a − b|, scaled down where the reference is large so float32 rounding on big sums passes. */
function maxRelativeError(actual: Float32Array, expected: Float32Array): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(1, Math.abs(e)));
  }
  return worst;
}

interface ConvCase {
  x: Shape4;
  filter: Shape4;
  stride: 1 | 2;
  pad: Padding;
}

function outShape(c: ConvCase, depthwise: boolean): Shape4 {
  const [n, h, w, channels] = c.x;
  const [fh, fw, , last] = c.filter;
  const out = (length: number, f: number): number =>
    c.pad === 'same' ? Math.ceil(length / c.stride) : Math.floor((length - f) / c.stride) + 1;
  return [n, out(h, fh), out(w, fw), depthwise ? channels * last : last];
}

/**
 * ∂/∂x and ∂/∂filter of Σ conv(x, filter) · r on the current backend: r is a fixed random weighting,
 * so the gradients are exactly the input- and filter-gradient kernels applied to r.
 */
function gradients(c: ConvCase, depthwise: boolean, seed: number): { input: Float32Array; filter: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(size(c.x), seed), c.x);
    const filter = tf.tensor4d(values(size(c.filter), seed + 1), c.filter);
    const weighting = tf.tensor4d(values(size(outShape(c, depthwise)), seed + 2), outShape(c, depthwise));
    const convolve = (input: tf.Tensor4D, f: tf.Tensor4D): tf.Tensor4D =>
      depthwise ? tf.depthwiseConv2d(input, f, c.stride, c.pad) : tf.conv2d(input, f, c.stride, c.pad);
    const loss = (input: tf.Tensor, f: tf.Tensor): tf.Scalar => tf.sum(tf.mul(convolve(input as tf.Tensor4D, f as tf.Tensor4D), weighting));
    const [dx, dFilter] = tf.grads(loss)([x, filter]);
    return { input: dx?.dataSync() as Float32Array, filter: dFilter?.dataSync() as Float32Array };
  });
}

const filterGradient = (c: ConvCase, depthwise: boolean, seed: number): Float32Array => gradients(c, depthwise, seed).filter;

const CONV_CASES: ConvCase[] = [];
for (const stride of [1, 2] as const) {
  for (const pad of ['same', 'valid'] as const) {
    CONV_CASES.push(
      { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], stride, pad }, // odd size: TF's 'same' pads the extra pixel bottom/right
      { x: [1, 8, 8, 2], filter: [3, 3, 2, 3], stride, pad }, // even size
      { x: [3, 9, 6, 4], filter: [1, 1, 4, 5], stride, pad }, // pointwise
      { x: [2, 6, 9, 3], filter: [5, 2, 3, 2], stride, pad }, // non-square filter, uneven rows and columns
      { x: [1, 5, 5, 1], filter: [2, 2, 1, 1], stride, pad }, // even filter, single channel
      { x: [4, 16, 16, 8], filter: [3, 3, 8, 16], stride, pad }, // big enough for XNNPACK's tiled paths
    );
  }
}

const DEPTHWISE_CASES: ConvCase[] = [];
for (const stride of [1, 2] as const) {
  for (const pad of ['same', 'valid'] as const) {
    DEPTHWISE_CASES.push(
      { x: [2, 7, 7, 3], filter: [3, 3, 3, 1], stride, pad },
      { x: [1, 8, 8, 4], filter: [3, 3, 4, 1], stride, pad },
      { x: [2, 6, 9, 2], filter: [5, 2, 2, 1], stride, pad },
      { x: [3, 7, 6, 3], filter: [3, 3, 3, 2], stride, pad }, // depth multiplier 2
      { x: [1, 5, 5, 2], filter: [2, 2, 2, 3], stride, pad }, // depth multiplier 3, even filter
      { x: [4, 16, 16, 16], filter: [3, 3, 16, 1], stride, pad },
    );
  }
}

const label = (c: ConvCase): string => `x ${c.x.join('x')}, filter ${c.filter.join('x')}, stride ${c.stride}, ${c.pad}`;

/** Data buffers the wasm backend holds (the engine never sees a composite kernel's intermediates). */
const wasmBuffers = (): number => tf.engine().backend.numDataIds();

describe('wasm filter-gradient kernels', () => {
  before(async () => {
    await initBackend(createLogger('test', 'warn'), 'wasm');
  });

  it('registers the kernels the wasm backend lacked', () => {
    for (const name of [
      'UnsortedSegmentSum',
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
    ]) {
      assert.ok(tf.getKernel(name, 'wasm'), name);
    }
  });

  it('Conv2DBackpropFilter matches the cpu backend', async () => {
    for (const [index, c] of CONV_CASES.entries()) {
      const expected = await on('cpu', () => filterGradient(c, false, index * 7 + 1));
      const actual = await on('wasm', () => filterGradient(c, false, index * 7 + 1));
      assert.ok(maxRelativeError(actual, expected) < 1e-4, `${label(c)}: max error ${maxRelativeError(actual, expected)}`);
    }
  });

  it('DepthwiseConv2dNativeBackpropFilter and ...BackpropInput match the cpu backend, depth multiplier above 1 included', async () => {
    for (const [index, c] of DEPTHWISE_CASES.entries()) {
      const expected = await on('cpu', () => gradients(c, true, index * 7 + 3));
      const actual = await on('wasm', () => gradients(c, true, index * 7 + 3));
      assert.ok(
        maxRelativeError(actual.filter, expected.filter) < 1e-4,
        `filter, ${label(c)}: max error ${maxRelativeError(actual.filter, expected.filter)}`,
      );
      assert.ok(
        maxRelativeError(actual.input, expected.input) < 1e-4,
        `input, ${label(c)}: max error ${maxRelativeError(actual.input, expected.input)}`,
      );
    }
  });

  it('UnsortedSegmentSum (the gradient of gather) matches the cpu backend, repeated ids summed', async () => {
    const ids = [3, 0, 3, 5, 1, 3, 5, 0, 7];
    const gatherGradient = (): Float32Array =>
      tf.tidy(() => {
        const table = tf.tensor2d(values(8 * 4, 11), [8, 4]);
        const weighting = tf.tensor2d(values(ids.length * 4, 12), [ids.length, 4]);
        const indices = tf.tensor1d(ids, 'int32');
        return tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, indices), weighting)))(table)
          .dataSync() as Float32Array;
      });
    const expected = await on('cpu', gatherGradient);
    const actual = await on('wasm', gatherGradient);
    assert.ok(maxRelativeError(actual, expected) < 1e-6, `max error ${maxRelativeError(actual, expected)}`);
    // Row 3 was gathered three times, row 2 never: the sum and the zero both show.
    assert.ok(Math.abs(actual[3 * 4] as number) > 0);
    assert.deepEqual(Array.from(actual.slice(2 * 4, 3 * 4)), [0, 0, 0, 0]);
  });

  it('agrees with central finite differences of the loss on wasm (conv2d and depthwise, stride 2, same)', async () => {
    await tf.setBackend('wasm');
    for (const depthwise of [false, true]) {
      const c: ConvCase = depthwise
        ? { x: [2, 5, 5, 2], filter: [3, 3, 2, 2], stride: 2, pad: 'same' }
        : { x: [2, 5, 5, 2], filter: [3, 3, 2, 3], stride: 2, pad: 'same' };
      const xValues = values(size(c.x), 101);
      const filterValues = values(size(c.filter), 102);
      const weighting = values(size(outShape(c, depthwise)), 103);
      // A non-linear loss, Σ tanh(conv) · r, so the check exercises the chain rule too.
      const loss = (filter: Float32Array): number =>
        tf.tidy(() => {
          const x = tf.tensor4d(xValues, c.x);
          const f = tf.tensor4d(filter, c.filter);
          const conv = depthwise ? tf.depthwiseConv2d(x, f, c.stride, c.pad) : tf.conv2d(x, f, c.stride, c.pad);
          return tf.sum(tf.mul(tf.tanh(conv), tf.tensor4d(weighting, outShape(c, depthwise)))).dataSync()[0] as number;
        });
      const nonLinear = tf.tidy(() => {
        const x = tf.tensor4d(xValues, c.x);
        const f = tf.tensor4d(filterValues, c.filter);
        const r = tf.tensor4d(weighting, outShape(c, depthwise));
        const conv = (g: tf.Tensor): tf.Tensor4D =>
          depthwise ? tf.depthwiseConv2d(x, g as tf.Tensor4D, c.stride, c.pad) : tf.conv2d(x, g as tf.Tensor4D, c.stride, c.pad);
        return tf
          .grad((g: tf.Tensor) => tf.sum(tf.mul(tf.tanh(conv(g)), r)))(f)
          .dataSync() as Float32Array;
      });
      const eps = 1e-2;
      let worst = 0;
      for (let i = 0; i < filterValues.length; i++) {
        const up = Float32Array.from(filterValues);
        const down = Float32Array.from(filterValues);
        up[i] = (up[i] as number) + eps;
        down[i] = (down[i] as number) - eps;
        const numeric = (loss(up) - loss(down)) / (2 * eps);
        worst = Math.max(worst, Math.abs(numeric - (nonLinear[i] as number)));
      }
      assert.ok(worst < 2e-3, `${depthwise ? 'depthwise' : 'conv2d'}: finite differences differ by ${worst}`);
    }
  });

  it('rejects what it does not implement with a clear error', async () => {
    await tf.setBackend('wasm');
    const kernel = tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm');
    assert.ok(kernel);
    const x = tf.zeros([1, 6, 6, 2]);
    const dy = tf.zeros([1, 2, 2, 2]);
    try {
      assert.throws(
        () =>
          kernel.kernelFunc({
            inputs: { x, dy },
            backend: tf.engine().backend,
            attrs: { strides: 1, dilations: 2, pad: 'valid', filterShape: [3, 3, 2, 1] },
          }),
        /dilations 2x2 are not supported/,
      );
      const conv = tf.getKernel('Conv2DBackpropFilter', 'wasm');
      assert.ok(conv);
      assert.throws(
        () =>
          conv.kernelFunc({
            inputs: { x, dy },
            backend: tf.engine().backend,
            attrs: { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] },
          }),
        /dataFormat NCHW is not supported/,
      );
    } finally {
      tf.dispose([x, dy]);
    }
  });

  it('leaks no tensor or wasm buffer across repeated gradient steps', async () => {
    await tf.setBackend('wasm');
    const step = (): void => {
      filterGradient({ x: [2, 7, 7, 3], filter: [3, 3, 3, 4], stride: 2, pad: 'same' }, false, 5);
      filterGradient({ x: [2, 7, 7, 3], filter: [1, 1, 3, 4], stride: 1, pad: 'same' }, false, 5);
      gradients({ x: [2, 7, 7, 3], filter: [3, 3, 3, 2], stride: 2, pad: 'valid' }, true, 5);
      gradients({ x: [2, 8, 8, 3], filter: [3, 3, 3, 1], stride: 2, pad: 'same' }, true, 5);
    };
    step(); // warm-up: first calls may allocate what later ones reuse
    const tensors = tf.memory().numTensors;
    const buffers = wasmBuffers();
    for (let i = 0; i < 5; i++) {
      step();
      assert.equal(tf.memory().numTensors, tensors, `tensors after step ${i + 1}`);
      assert.equal(wasmBuffers(), buffers, `wasm data buffers after step ${i + 1}`);
    }
  });
});
