/**
 * Kernels the TF.js wasm backend (4.22) lacks but training needs, built from kernels it has and
 * registered for 'wasm' only. Each one is checked against the cpu backend in test/train/wasm-kernels.test.ts.
 *
 * - UnsortedSegmentSum: the gradient of `tf.gather`, so of every Embedding layer. Built on ScatterNd,
 *   which sums duplicate indices exactly as a segment sum does.
 * - Conv2DBackpropFilter: the filter gradient of Conv2D, so of every convolution that trains.
 *   dW[i,j,ci,co] = Σ_{n,oh,ow} x[n, oh·s + i − top, ow·s + j − left, ci] · dy[n,oh,ow,co], which is itself
 *   a forward convolution: the input with batch and channels swapped ([Ci,H,W,N]) convolved by dy laid out
 *   as a filter ([OH,OW,N,Co]), with the forward stride becoming the dilation. The wasm Conv2D runs on
 *   XNNPACK, so this is far faster than a hand-written loop. A 1×1 stride-1 convolution is a plain
 *   matrix product (x as [NHW,Ci])ᵀ · (dy as [NHW,Co]) and takes BatchMatMul instead.
 * - DepthwiseConv2dNativeBackpropFilter: the same identity per channel. Folding batch into the channels
 *   ([1,H,W,N·C]) turns it into one depthwise convolution by dy as an [OH,OW,N·C,M] filter, after which
 *   the batch is summed out.
 * - DepthwiseConv2dNativeBackpropInput: the input gradient of a depthwise convolution (needed by every
 *   depthwise layer that is not the first), a transposed convolution: dy spread out by the stride (zeros
 *   between pixels, via PadV2), correlated with the flipped filter by the forward depthwise kernel, the
 *   depth multiplier's slices summed.
 *
 * The gradient convolution uses explicit padding: the forward pass's top/left padding (TF's 'same'
 * puts the odd pixel at the bottom/right), and a bottom/right padding chosen so that exactly the filter's
 * extent comes out; where the input has rows the forward pass never reached (stride 2, 'valid', odd
 * size), the surplus output is sliced off.
 */
import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelBackend = KernelArgs['backend'];
type WasmBackend = KernelBackend & { disposeData(dataId: object): void };
type Shape4 = [number, number, number, number];

function wasmKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel to build on`);
  return kernel.kernelFunc;
}

/**
 * Runs wasm kernels and releases every intermediate they made once the composite kernel is done,
 * keeping only the result handed to the engine (each kernel output holds one reference to its data,
 * shared data included, so releasing each once is exact). On an error everything is released.
 */
function composite(
  backend: KernelBackend,
  body: (run: (name: string, inputs: tf.NamedTensorInfoMap, attrs?: object) => tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo {
  const made: tf.TensorInfo[] = [];
  const run = (name: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}): tf.TensorInfo => {
    const out = wasmKernel(name)({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    made.push(out);
    return out;
  };
  let result: tf.TensorInfo | undefined;
  try {
    result = body(run);
    return result;
  } finally {
    for (const info of made) if (info !== result) (backend as WasmBackend).disposeData(info.dataId);
  }
}

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  const reshape = wasmKernel('Reshape');
  const scatter = wasmKernel('ScatterNd');
  const count = segmentIds.shape.reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(segmentIds.shape.length);
  const indices = reshape({ inputs: { x: segmentIds }, backend, attrs: { shape: [count, 1] } }) as tf.TensorInfo;
  const updates = reshape({ inputs: { x }, backend, attrs: { shape: [count, ...rest] } }) as tf.TensorInfo;
  const out = scatter({ inputs: { indices, updates }, backend, attrs: { shape: [numSegments, ...rest] } }) as tf.TensorInfo;
  (backend as WasmBackend).disposeData(indices.dataId);
  (backend as WasmBackend).disposeData(updates.dataId);
  return out;
}

type Padding = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface ConvGradAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: Padding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface FilterGradAttrs extends ConvGradAttrs {
  filterShape: Shape4;
}

interface InputGradAttrs extends ConvGradAttrs {
  inputShape: Shape4;
}

/** Where the gradient convolution reads the input: padding and how much output to keep. */
interface GradientGeometry {
  strideHeight: number;
  strideWidth: number;
  pad: tf.backend_util.ExplicitPadding;
  filterHeight: number;
  filterWidth: number;
  /** True when the padded input reaches past what the forward pass used, so the result must be cut. */
  needsCrop: boolean;
}

function pairOf(value: [number, number] | number | undefined): [number, number] {
  if (value === undefined) return [1, 1];
  return typeof value === 'number' ? [value, value] : value;
}

/**
 * The forward convolution's geometry, after checking the attributes this implementation covers:
 * NHWC, dilations 1, and a dy whose size matches.
 */
function forwardGeometry(
  kernelName: string,
  inShape: readonly number[],
  filterShape: Shape4,
  dy: tf.TensorInfo,
  attrs: ConvGradAttrs,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  const dilations = pairOf(attrs.dilations);
  if (dilations[0] !== 1 || dilations[1] !== 1)
    throw new Error(`${kernelName} on wasm: dilations ${dilations.join('x')} are not supported (only 1)`);
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC')
    throw new Error(`${kernelName} on wasm: dataFormat ${attrs.dataFormat} is not supported (only NHWC)`);
  if (inShape.length !== 4 || dy.shape.length !== 4)
    throw new Error(`${kernelName} on wasm: input and dy must be rank 4 (got ${inShape.length} and ${dy.shape.length})`);
  const info = tf.backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  if (info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2]) {
    throw new Error(`${kernelName} on wasm: dy is ${dy.shape.join('x')} but the forward convolution gives ${info.outShape.join('x')}`);
  }
  return info;
}

/** Checks the attributes and works out the filter-gradient convolution's padding. */
function gradientGeometry(
  kernelName: string,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  attrs: FilterGradAttrs,
  depthwise: boolean,
): GradientGeometry {
  const info = forwardGeometry(kernelName, x.shape, attrs.filterShape, dy, attrs, depthwise);
  const { strideHeight, strideWidth, filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth } = info;
  const { top, left } = info.padInfo;
  // How far the filter's last tap at the last output position reaches past the input's end.
  const bottom = filterHeight + (outHeight - 1) * strideHeight - inHeight - top;
  const right = filterWidth + (outWidth - 1) * strideWidth - inWidth - left;
  return {
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
    pad: [
      [0, 0],
      [top, Math.max(0, bottom)],
      [left, Math.max(0, right)],
      [0, 0],
    ],
    needsCrop: bottom < 0 || right < 0,
  };
}

function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const gradAttrs = attrs as unknown as FilterGradAttrs;
  const geometry = gradientGeometry('Conv2DBackpropFilter', x, dy, gradAttrs, false);
  const [n, h, w, inChannels] = x.shape as Shape4;
  const outChannels = dy.shape[3] as number;
  const { filterHeight, filterWidth } = geometry;
  return composite(backend, (run) => {
    if (filterHeight === 1 && filterWidth === 1 && geometry.strideHeight === 1 && geometry.strideWidth === 1) {
      // 1×1 stride 1 (pointwise): no padding can apply, every pixel meets every pixel once. The
      // explicit Transpose is 7× faster than BatchMatMul's transposeA on wasm (measured, [8192,64]).
      const pixels = run('Reshape', { x }, { shape: [n * h * w, inChannels] });
      const a = run('Transpose', { x: pixels }, { perm: [1, 0] });
      const a3 = run('Reshape', { x: a }, { shape: [1, inChannels, n * h * w] });
      const b = run('Reshape', { x: dy }, { shape: [1, n * h * w, outChannels] });
      const product = run('BatchMatMul', { a: a3, b }, { transposeA: false, transposeB: false });
      return run('Reshape', { x: product }, { shape: [1, 1, inChannels, outChannels] });
    }
    const input = run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
    const filter = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, Co]
    const conv = run(
      'Conv2D',
      { x: input, filter },
      { strides: [1, 1], dilations: [geometry.strideHeight, geometry.strideWidth], pad: geometry.pad, dataFormat: 'NHWC' },
    );
    const cropped = geometry.needsCrop
      ? run('Slice', { x: conv }, { begin: [0, 0, 0, 0], size: [inChannels, filterHeight, filterWidth, outChannels] })
      : conv;
    return run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] }); // [FH, FW, Ci, Co]
  });
}

function depthwiseConv2dNativeBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const gradAttrs = attrs as unknown as FilterGradAttrs;
  const geometry = gradientGeometry('DepthwiseConv2dNativeBackpropFilter', x, dy, gradAttrs, true);
  const [n, h, w, channels] = x.shape as Shape4;
  const [, outHeight, outWidth] = dy.shape as Shape4;
  const multiplier = gradAttrs.filterShape[3];
  const { filterHeight, filterWidth } = geometry;
  return composite(backend, (run) => {
    // Batch folded into channels: channel n·C + c of the input meets channel n·C + c of the filter.
    const hwnc = run('Transpose', { x }, { perm: [1, 2, 0, 3] }); // [H, W, N, C]
    const input = run('Reshape', { x: hwnc }, { shape: [1, h, w, n * channels] });
    // dy's channel c·M + m becomes filter channel n·C + c, multiplier m: a plain reshape once N moves inside.
    const dyT = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, C·M]
    const filter = run('Reshape', { x: dyT }, { shape: [outHeight, outWidth, n * channels, multiplier] });
    const conv = run(
      'DepthwiseConv2dNative',
      { x: input, filter },
      { strides: [1, 1], dilations: [geometry.strideHeight, geometry.strideWidth], pad: geometry.pad },
    );
    const [, convHeight, convWidth] = conv.shape as Shape4;
    const perImage = run('Reshape', { x: conv }, { shape: [convHeight, convWidth, n, channels * multiplier] });
    const summed = run('Sum', { x: perImage }, { axis: [2], keepDims: false }); // [FH', FW', C·M]
    const cropped = geometry.needsCrop
      ? run('Slice', { x: summed }, { begin: [0, 0, 0], size: [filterHeight, filterWidth, channels * multiplier] })
      : summed;
    return run('Reshape', { x: cropped }, { shape: [filterHeight, filterWidth, channels, multiplier] });
  });
}

function depthwiseConv2dNativeBackpropInput({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const gradAttrs = attrs as unknown as InputGradAttrs;
  const kernelName = 'DepthwiseConv2dNativeBackpropInput';
  const info = forwardGeometry(kernelName, gradAttrs.inputShape, filter.shape as Shape4, dy, gradAttrs, true);
  const [n, h, w, channels] = gradAttrs.inputShape;
  const [filterHeight, filterWidth, , multiplier] = filter.shape as Shape4;
  const outChannels = dy.shape[3] as number;
  const { strideHeight, strideWidth } = info;
  // A transposed convolution is a correlation with the flipped filter over dy spread out by the stride,
  // padded by what the forward pass's padding leaves of a "full" convolution.
  const top = filterHeight - 1 - info.padInfo.top;
  const left = filterWidth - 1 - info.padInfo.left;
  if (top < 0 || left < 0)
    throw new Error(`${kernelName} on wasm: padding ${JSON.stringify(gradAttrs.pad)} wider than the filter is not supported`);
  return composite(backend, (run) => {
    const { spread, pad } = spreadByStride(run, dy, { h, w, filterHeight, filterWidth, strideHeight, strideWidth, top, left });
    const flipped = run('Reverse', { x: filter }, { dims: [0, 1] });
    // Each of dy's C·M channels is correlated with its own filter slice, then the M slices of a channel summed.
    const perOutputChannel = run('Reshape', { x: flipped }, { shape: [filterHeight, filterWidth, outChannels, 1] });
    const conv = run('DepthwiseConv2dNative', { x: spread, filter: perOutputChannel }, { strides: [1, 1], dilations: [1, 1], pad });
    if (multiplier === 1) return conv;
    const split = run('Reshape', { x: conv }, { shape: [n, h, w, channels, multiplier] });
    return run('Sum', { x: split }, { axis: [4], keepDims: false });
  });
}

const KERNELS: ReadonlyArray<[string, tf.KernelFunc]> = [
  ['UnsortedSegmentSum', unsortedSegmentSum],
  ['Conv2DBackpropFilter', conv2DBackpropFilter],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseConv2dNativeBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseConv2dNativeBackpropInput],
];

let registered = false;

/**
 * Registers the missing kernels once; call before `tf.setBackend('wasm')`. A kernel a later wasm
 * release ships itself is left alone.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of KERNELS) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}

/** Runs a kernel on the backend, keeping what it made for disposal: as composite() and the fast gradients give it. */
export type RunKernel = (name: string, inputs: tf.NamedTensorInfoMap, attrs: object) => tf.TensorInfo;

/**
 * A strided convolution's dy as a transposed convolution reads it: spread out by the stride (zeros
 * between its pixels) and cut to the rows and columns that input row h − 1 and column w − 1 reach.
 * Returns it with the padding that makes the correlation with the flipped filter a full convolution.
 * Shared by the depthwise input gradient here and the Conv2D one in wasm-fast-grads.ts.
 */
export function spreadByStride(
  run: RunKernel,
  dy: tf.TensorInfo,
  g: {
    h: number;
    w: number;
    filterHeight: number;
    filterWidth: number;
    strideHeight: number;
    strideWidth: number;
    top: number;
    left: number;
  },
): { spread: tf.TensorInfo; pad: tf.backend_util.ExplicitPadding } {
  const { h, w, filterHeight, filterWidth, strideHeight, strideWidth, top, left } = g;
  const [n, outHeight, outWidth, outChannels] = dy.shape as Shape4;
  let spread = dy;
  if (strideHeight > 1 || strideWidth > 1) {
    // Zeros between dy's pixels: pad singleton axes after each row and column, then fold them back.
    const expanded = run('Reshape', { x: dy }, { shape: [n * outHeight, 1, outWidth, 1, outChannels] });
    const padded = run(
      'PadV2',
      { x: expanded },
      {
        paddings: [
          [0, 0],
          [0, strideHeight - 1],
          [0, 0],
          [0, strideWidth - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    spread = run('Reshape', { x: padded }, { shape: [n, outHeight * strideHeight, outWidth * strideWidth, outChannels] });
  }
  // Rows past what input row h − 1 reads are trailing zeros or never reached: cut them.
  const bottom = h + filterHeight - 1 - (spread.shape[1] as number) - top;
  const right = w + filterWidth - 1 - (spread.shape[2] as number) - left;
  if (bottom < 0 || right < 0) {
    spread = run(
      'Slice',
      { x: spread },
      {
        begin: [0, 0, 0, 0],
        size: [n, (spread.shape[1] as number) + Math.min(0, bottom), (spread.shape[2] as number) + Math.min(0, right), outChannels],
      },
    );
  }
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [top, Math.max(0, bottom)],
    [left, Math.max(0, right)],
    [0, 0],
  ];
  return { spread, pad };
}
