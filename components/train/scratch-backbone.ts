/**
 * The image feature extractor for users without a pretrained backbone: the from-scratch CNN of
 * model/scratch-cnn.ts, trained here on the catalogue's own pictures to predict their root category,
 * then frozen and used exactly as a pretrained backbone is (features cached, a head trained on them,
 * exported to ONNX with the rest). Pictures stream from the artifact store a batch at a time.
 * It runs at 64×64: on 2 CPU cores a CNN at 224×224 trains too slowly to be worth it.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { seededRandom, type ArtifactStore, type Logger } from '../core/platform/index.js';
import { imagePixels } from '../core/ml/index.js';
import type { Example } from './dataset.js';
import type { FeatureExtractor } from './image-features.js';
import { buildScratchCnn } from './model/scratch-cnn.js';

export interface ScratchOptions {
  inputSize: number;
  featureDim: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export const SCRATCH_DEFAULTS: ScratchOptions = { inputSize: 64, featureDim: 128, epochs: 8, batchSize: 32, learningRate: 3e-3, seed: 1 };

/** The extractor, and the training loss per epoch of the CNN's own classification training. */
export async function pretrainScratchBackbone(
  store: ArtifactStore,
  examples: readonly Example[],
  labels: readonly string[],
  options: ScratchOptions,
  log: Logger,
): Promise<{ extractor: FeatureExtractor; losses: number[] }> {
  const pictures = examples.flatMap((e) => e.imageKeys.map((key) => ({ key, label: labels.indexOf(e.root) })));
  const cnn = buildScratchCnn({ inputSize: options.inputSize, featureDim: options.featureDim });
  const input = tf.input({ shape: [options.inputSize, options.inputSize, 3] });
  const features = cnn.apply(input) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: labels.length, activation: 'softmax' })
    .apply(tf.layers.activation({ activation: 'relu' }).apply(features) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const classifier = tf.model({ inputs: input, outputs: logits });
  classifier.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const random = seededRandom(options.seed);
  const size = options.inputSize;
  const losses: number[] = [];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const order = pictures
      .map((p) => ({ p, r: random() }))
      .sort((a, b) => a.r - b.r)
      .map(({ p }) => p);
    let loss = 0;
    let accuracy = 0;
    let batches = 0;
    const started = Date.now();
    // Batch i+1 is read and decoded while batch i trains: the wasm backend computes on the main thread,
    // sharp decodes on libuv's thread pool, so the two overlap on separate cores.
    const decode = (batch: readonly (typeof pictures)[number][]) =>
      Promise.all(batch.map(async (item) => imagePixels(await store.get(item.key), { size })));
    const prefetch = (start: number) => {
      const decoded = start < order.length ? decode(order.slice(start, start + options.batchSize)) : null;
      decoded?.catch(() => undefined); // awaited on the next step; this only keeps it from counting as unhandled meanwhile
      return decoded;
    };
    let next = prefetch(0);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const batch = order.slice(start, start + options.batchSize);
      const decoded = await next!;
      next = prefetch(start + options.batchSize);
      const pixels = new Float32Array(batch.length * size * size * 3);
      decoded.forEach((p, k) => pixels.set(p, k * size * size * 3));
      const x = tf.tensor4d(pixels, [batch.length, size, size, 3]);
      const y = tf.tensor1d(
        batch.map((item) => item.label),
        'float32',
      );
      const [batchLoss, batchAccuracy] = (await classifier.trainOnBatch(x, y)) as number[];
      tf.dispose([x, y]);
      loss += batchLoss!;
      accuracy += batchAccuracy!;
      batches++;
    }
    losses.push(loss / batches);
    log.info(
      {
        epoch,
        loss: loss / batches,
        accuracy: accuracy / batches,
        samplesPerSecond: Math.round(order.length / ((Date.now() - started) / 1000)),
      },
      `scratch CNN epoch ${epoch}/${options.epochs}`,
    );
  }
  // The cache id names these exact weights: features of another training must never be reused.
  const hash = createHash('sha256');
  for (const weight of cnn.getWeights()) hash.update(Buffer.from((await weight.data()).buffer));
  return {
    extractor: { id: `scratch-${hash.digest('hex').slice(0, 16)}`, model: cnn, inputSize: size, featureDim: options.featureDim },
    losses,
  };
}
