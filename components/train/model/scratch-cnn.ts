/**
 * The from-scratch image tower, for users without a pretrained backbone: a small MobileNet-like CNN
 * (a stride-2 stem, then depthwise-separable blocks, global average pooling and a linear projection to
 * the feature size). It trains on every backend, wasm included (see ../tf/wasm-kernels.ts for the filter
 * gradients wasm lacked), and uses only layer types the ONNX exporter translates exactly: Conv2D,
 * DepthwiseConv2D, BatchNormalization, ReLU, GlobalAveragePooling2D, Dense.
 *
 * Input: NHWC float RGB in [0, 1], `inputSize`×`inputSize`. Output: [N, featureDim], linear (the caller
 * normalises or classifies it).
 */
import * as tf from '@tensorflow/tfjs';

export interface ScratchCnnOptions {
  /** Height and width of the square input image in pixels (at least 8: the tower downsamples 8×). */
  inputSize: number;
  /** Length of the output feature vector. */
  featureDim: number;
  /** Channels of the stem; the blocks widen to 2×, 4× and 8× of it. Default 16: about 37k weights before the projection to featureDim. */
  width?: number;
}

/**
 * Depthwise-separable blocks after the stem: depthwise stride, then the 1×1 output channels as a
 * multiple of `width`. Three stride-2 steps in all (stem included) take 64×64 to 8×8.
 */
const BLOCKS: ReadonlyArray<{ stride: 1 | 2; widthMultiple: number }> = [
  { stride: 1, widthMultiple: 2 },
  { stride: 2, widthMultiple: 4 },
  { stride: 1, widthMultiple: 4 },
  { stride: 2, widthMultiple: 8 },
  { stride: 1, widthMultiple: 8 },
];

/**
 * Lower than Keras's 0.99 so the moving statistics inference uses settle within the few hundred
 * steps a small marketplace dataset gives; batch statistics drive training either way.
 */
const BN_MOMENTUM = 0.9;

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`buildScratchCnn: ${name} must be a positive integer (got ${value})`);
  return value;
}

/** Convolution output → batch norm → ReLU; the convolution has no bias because batch norm's beta is one. */
function normalisedRelu(x: tf.SymbolicTensor): tf.SymbolicTensor {
  const normalised = tf.layers.batchNormalization({ momentum: BN_MOMENTUM }).apply(x) as tf.SymbolicTensor;
  return tf.layers.reLU().apply(normalised) as tf.SymbolicTensor;
}

export function buildScratchCnn(options: ScratchCnnOptions): tf.LayersModel {
  const inputSize = positiveInteger('inputSize', options.inputSize);
  const featureDim = positiveInteger('featureDim', options.featureDim);
  const width = positiveInteger('width', options.width ?? 16);
  if (inputSize < 8) throw new Error(`buildScratchCnn: inputSize must be at least 8 (got ${inputSize})`);

  const input = tf.input({ shape: [inputSize, inputSize, 3], dtype: 'float32' });
  let x = normalisedRelu(
    tf.layers.conv2d({ filters: width, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor,
  );
  for (const block of BLOCKS) {
    x = normalisedRelu(
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: block.stride, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor,
    );
    x = normalisedRelu(
      tf.layers
        .conv2d({ filters: width * block.widthMultiple, kernelSize: 1, padding: 'same', useBias: false })
        .apply(x) as tf.SymbolicTensor,
    );
  }
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const features = tf.layers.dense({ units: featureDim }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: features, name: 'scratch_cnn' });
}
