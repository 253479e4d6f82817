/**
 * The from-scratch image tower trains on the wasm backend (which needed the filter-gradient kernels of
 * components/train/tf/wasm-kernels.ts): a few steps on tiny generated images of three colour patterns
 * bring the loss down and the accuracy well above chance.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createLogger } from '../../components/core/platform/log.js';
import { buildScratchCnn } from '../../components/train/model/scratch-cnn.js';
import { initBackend, tf } from '../../components/train/tfjs-backend/backend.js';

const SIZE = 32;
const CLASSES = 3;
const PER_CLASS = 16;

/**
 * Three classes, each its own colour and pattern (red horizontal stripes, green vertical stripes, a
 * blue checkerboard) at varying phase and period, over uniform noise; the classes interleave.
 */
function patternImages(): { images: tf.Tensor4D; labels: tf.Tensor2D; classes: number[] } {
  return tf.tidy(() => {
    const coordinate = tf.range(0, SIZE, 1, 'float32');
    const rows = coordinate.reshape([SIZE, 1]).tile([1, SIZE]);
    const cols = coordinate.reshape([1, SIZE]).tile([SIZE, 1]);
    const images: tf.Tensor3D[] = [];
    const classes: number[] = [];
    for (let i = 0; i < CLASSES * PER_CLASS; i++) {
      const label = i % CLASSES;
      const phase = (i * 7) % 4;
      const period = 4 + (i % 3) * 2;
      const stripe = (axis: tf.Tensor): tf.Tensor =>
        tf
          .sin(axis.add(phase).mul((2 * Math.PI) / period))
          .greater(0)
          .toFloat();
      const pattern = label === 0 ? stripe(rows) : label === 1 ? stripe(cols) : stripe(rows).sub(stripe(cols)).abs();
      const colour = tf.oneHot(label, 3).toFloat().reshape([1, 1, 3]);
      const noise = tf.randomUniform([SIZE, SIZE, 3], 0, 0.3, 'float32', 1000 + i);
      images.push(pattern.expandDims(2).mul(colour).mul(0.7).add(noise).clipByValue(0, 1) as tf.Tensor3D);
      classes.push(label);
    }
    return { images: tf.stack(images) as tf.Tensor4D, labels: tf.oneHot(classes, CLASSES).toFloat() as tf.Tensor2D, classes };
  });
}

describe('buildScratchCnn', () => {
  before(async () => {
    await initBackend(createLogger('test', 'warn'), 'wasm');
  });

  it('maps NHWC images to featureDim features with only the layer types the ONNX exporter knows', () => {
    const model = buildScratchCnn({ inputSize: 64, featureDim: 24, width: 8 });
    const allowed = new Set(['InputLayer', 'Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU', 'GlobalAveragePooling2D', 'Dense']);
    for (const layer of model.layers) assert.ok(allowed.has(layer.getClassName()), layer.getClassName());
    assert.deepEqual(model.outputs[0]?.shape, [null, 24]);
    const out = tf.tidy(() => (model.predict(tf.ones([2, 64, 64, 3])) as tf.Tensor).shape);
    assert.deepEqual(out, [2, 24]);
    model.dispose();
    assert.throws(() => buildScratchCnn({ inputSize: 4, featureDim: 8 }), /inputSize must be at least 8/);
    assert.throws(() => buildScratchCnn({ inputSize: 32, featureDim: 0 }), /featureDim must be a positive integer/);
  });

  it('trains on wasm: loss falls and accuracy rises well above chance', async () => {
    assert.equal(tf.getBackend(), 'wasm');
    const { images, labels, classes } = patternImages();
    const tower = buildScratchCnn({ inputSize: SIZE, featureDim: 16, width: 8 });
    const input = tf.input({ shape: [SIZE, SIZE, 3] });
    const probabilities = tf.layers.dense({ units: CLASSES, activation: 'softmax' }).apply(tower.apply(input)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: probabilities });
    model.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    try {
      const before = tf.tidy(() => (model.evaluate(images, labels) as tf.Scalar[])[0]?.dataSync()[0] as number);
      const history = await model.fit(images, labels, { epochs: 10, batchSize: 8, shuffle: true, verbose: 0 });
      const losses = history.history.loss as number[];
      const accuracies = history.history.acc as number[];
      // Adam on 48 images is noisy epoch to epoch: judge the end by its best of the last three epochs.
      const first = losses[0] as number;
      const end = Math.min(...losses.slice(-3));
      assert.ok(losses.every(Number.isFinite), `losses ${losses.join(', ')}`);
      assert.ok(end < first * 0.5, `training loss fell from ${first} to ${end}`);
      assert.ok(Math.max(...accuracies.slice(-3)) > 0.8, `training accuracy ${accuracies.join(', ')} (chance 0.33)`);
      // Inference mode (batch norm's moving statistics, which lag the batch statistics early on) agrees.
      const predicted = tf.tidy(() => Array.from((model.predict(images) as tf.Tensor).argMax(1).dataSync()));
      const accuracy = predicted.filter((p, i) => p === classes[i]).length / classes.length;
      const after = tf.tidy(() => (model.evaluate(images, labels) as tf.Scalar[])[0]?.dataSync()[0] as number);
      assert.ok(accuracy > 0.6, `inference accuracy ${accuracy} (chance 0.33)`);
      assert.ok(after < before, `evaluated loss ${before} → ${after}`);
    } finally {
      tf.dispose([images, labels]);
      model.dispose();
    }
  });
});
