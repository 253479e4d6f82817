/**
 * The from-scratch picture classifier at a picture's real size (Fashion-MNIST: 28×28), trained in TF.js:
 * two convolution blocks (3×3 conv, batch norm, ReLU, 2×2 max pool: 32 then 64 channels), a 128-d
 * embedding (dense, batch norm, ReLU) and a linear classifier over it. The embedding is what image
 * search indexes; the classifier is what image-only accuracy scores. Every layer is one the ONNX exporter
 * translates exactly (Conv2D, BatchNormalization, ReLU, MaxPooling2D, Flatten, Dropout, Dense).
 *
 * Chosen by throughput on this 2-core machine (wasm, one thread): with the project's wasm gradients plus
 * tfjs-backend/wasm-fast-grads.ts this net trained at 87 samples/s in the probe (bench/fashion-probe.ts,
 * load average 7) and 46 in the shared bench round where the project's kernels alone gave 22; a
 * four-conv variant (32,32,64,64) at about a third of it, which would not fit a full run in a working
 * session. Pictures are augmented as product shots allow: a left-right flip and a shift of a pixel or two.
 *
 * Input: NHWC float RGB in [0, 1] (a grey picture has three equal channels), as the service's
 * `imagePixels` gives it, so a query upload and a catalogue picture go through the same path.
 */
import * as tf from '@tensorflow/tfjs';

export interface PictureCnnOptions {
  /** Height and width of the input in pixels (divisible by 4). */
  size: number;
  classes: number;
  /** Length of the embedding (the penultimate layer). Default 128. */
  embeddingDim?: number;
  /** Channels of the first block; the second has twice as many. Default 32. */
  width?: number;
  dropout?: number;
  /**
   * Momentum of batch norm's moving statistics (what inference uses). Default Keras's 0.99, as the
   * measured run trained; a run of a few dozen steps needs less (0.9) for them to settle.
   */
  batchNormMomentum?: number;
  /**
   * Seeds the layers' initial weights (glorot uniform, the layers' default, one seed a layer): the same
   * network every build. Without it tf.js draws them unseeded.
   */
  seed?: number;
}

export interface PictureCnn {
  /** Pixels → class probabilities (softmax): trained, and scored for image-only accuracy. */
  classifier: tf.LayersModel;
  /** Pixels → embedding (the same layers, shared weights): indexed for picture search. */
  embedder: tf.LayersModel;
}

/** The kernel initializer of the layer numbered `layer`: glorot uniform (the default), seeded when a seed is given. */
const kernel = (seed: number | undefined, layer: number) =>
  seed === undefined ? {} : { kernelInitializer: tf.initializers.glorotUniform({ seed: seed + layer }) };

function block(x: tf.SymbolicTensor, filters: number, name: string, momentum: number, init: object): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_conv`, ...init })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ name: `${name}_bn`, momentum }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.maxPooling2d({ poolSize: 2, name: `${name}_pool` }).apply(y) as tf.SymbolicTensor;
}

export function buildPictureCnn(options: PictureCnnOptions): PictureCnn {
  const { size, classes } = options;
  if (!Number.isInteger(size) || size < 4 || size % 4 !== 0)
    throw new Error(`buildPictureCnn: size must be a positive multiple of 4 (got ${size})`);
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`buildPictureCnn: classes must be at least 2 (got ${classes})`);
  const width = options.width ?? 32;
  const embeddingDim = options.embeddingDim ?? 128;
  const dropout = options.dropout ?? 0.3;
  const momentum = options.batchNormMomentum ?? 0.99;
  const input = tf.input({ shape: [size, size, 3], dtype: 'float32', name: 'pixels' });
  const { seed } = options;
  let x = block(input, width, 'block1', momentum, kernel(seed, 0));
  x = block(x, width * 2, 'block2', momentum, kernel(seed, 1));
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: dropout, name: 'dropout1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: embeddingDim, useBias: false, name: 'embedding_dense', ...kernel(seed, 2) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'embedding_bn', momentum }).apply(x) as tf.SymbolicTensor;
  const embedding = tf.layers.reLU({ name: 'embedding' }).apply(x) as tf.SymbolicTensor;
  const dropped = tf.layers.dropout({ rate: dropout, name: 'dropout2' }).apply(embedding) as tf.SymbolicTensor;
  const probabilities = tf.layers
    .dense({ units: classes, activation: 'softmax', name: 'classes', ...kernel(seed, 3) })
    .apply(dropped) as tf.SymbolicTensor;
  return {
    classifier: tf.model({ inputs: input, outputs: probabilities, name: 'picture_classifier' }),
    embedder: tf.model({ inputs: input, outputs: embedding, name: 'picture_embedder' }),
  };
}

/**
 * Pictures as bytes, `count` of them, `size`×`size` each, row-major: grey (one byte a pixel, the IDX
 * layout) or RGB (three, interleaved).
 */
export interface PictureSet {
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
  size: number;
  /** 1 (default): grey; 3: RGB. */
  channels?: 1 | 3;
}

export interface Augmentation {
  /** Probability of a left-right flip. */
  flip: number;
  /** Largest shift in pixels, each axis (the uncovered border repeats the edge pixels). */
  shift: number;
}

export const NO_AUGMENTATION: Augmentation = { flip: 0, shift: 0 };

/**
 * Writes pictures `indices` of `set` into `out` as RGB floats in [0, 1] (NHWC), each flipped and
 * shifted as `augmentation` and `random` say. Returns `out`.
 */
const clamp = (v: number, size: number) => (v < 0 ? 0 : v >= size ? size - 1 : v);

export function fillBatch(
  set: PictureSet,
  indices: ArrayLike<number>,
  out: Float32Array,
  augmentation: Augmentation = NO_AUGMENTATION,
  random: () => number = Math.random,
): Float32Array {
  const { size, pixels } = set;
  const channels = set.channels ?? 1;
  const area = size * size;
  if (out.length < indices.length * area * 3)
    throw new Error(`fillBatch: out holds ${out.length} floats, ${indices.length * area * 3} needed`);
  for (let k = 0; k < indices.length; k++) {
    const source = indices[k]! * area * channels;
    const flip = augmentation.flip > 0 && random() < augmentation.flip;
    const dy = augmentation.shift > 0 ? Math.floor(random() * (2 * augmentation.shift + 1)) - augmentation.shift : 0;
    const dx = augmentation.shift > 0 ? Math.floor(random() * (2 * augmentation.shift + 1)) - augmentation.shift : 0;
    let o = k * area * 3;
    for (let r = 0; r < size; r++) {
      const sr = r - dy;
      for (let c = 0; c < size; c++) {
        const sc0 = c - dx;
        const sc = flip ? size - 1 - sc0 : sc0;
        // The border a shift uncovers repeats the edge pixel: Fashion-MNIST's black or a letterbox's white.
        const at = source + (clamp(sr, size) * size + clamp(sc, size)) * channels;
        for (let ch = 0; ch < 3; ch++) out[o + ch] = pixels[at + (channels === 3 ? ch : 0)]! / 255;
        o += 3;
      }
    }
  }
  return out;
}
