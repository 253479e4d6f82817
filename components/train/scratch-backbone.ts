/**
 * The image feature extractor for users without a pretrained backbone: the picture CNN of
 * picture-cnn.ts, trained here on the catalogue's own pictures to predict the classifier's labels,
 * then frozen and used exactly as a pretrained backbone is (features cached, a head trained on them,
 * exported to ONNX with the rest). Its embedding (the layer before its classifier) is the feature.
 *
 * It reads the pictures at their own size, up to `maxInputSize`: clean keeps a picture smaller than
 * its model-ready square at its own side, so Fashion-MNIST's articles train at 28×28, and larger
 * photos at 64×64 (on 2 CPU cores a CNN at 224×224 trains too slowly to be worth it). The same
 * network and trainer measured on the official Fashion-MNIST split: docs/fashion-mnist.md.
 *
 * The pictures are held as bytes (size² × 3 each: 2.4 KB at 28, 12 KB at 64); past `maxBytes`, an
 * evenly spaced sample of them trains the CNN, so memory is bounded whatever the catalogue's size.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { InputError, NotFoundError, Progress, type ArtifactStore, type Logger } from '../core/platform/index.js';
import { imageBytes } from '../core/ml/index.js';
import type { Example } from './dataset.js';
import type { FeatureExtractor } from './image-features.js';
import { buildPictureCnn, type PictureSet } from './picture-cnn.js';
import { trainPictureCnn } from './picture-training.js';

export interface ScratchOptions {
  /** Largest input side; a catalogue of smaller pictures trains at their side (rounded up to a multiple of 4). */
  maxInputSize: number;
  featureDim: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Bytes of training pictures held at once (a sample beyond). */
  maxBytes: number;
}

export const SCRATCH_DEFAULTS: ScratchOptions = {
  maxInputSize: 64,
  featureDim: 128,
  epochs: 8,
  batchSize: 64,
  learningRate: 2e-3,
  seed: 1,
  maxBytes: 1024 ** 3,
};

interface Picture {
  key: string;
  label: number;
}

/**
 * The largest side among (up to) the first 256 of these pictures, or `max` as soon as one reaches it:
 * what the picture CNN reads them at (capped, a multiple of 4), and what `auto` chooses a backbone by.
 */
export async function pictureSide(store: ArtifactStore, keys: readonly string[], max: number): Promise<number> {
  let side = 0;
  for (const key of keys.slice(0, 256)) {
    try {
      const metadata = await sharp(await store.get(key)).metadata();
      side = Math.max(side, metadata.width ?? 0, metadata.height ?? 0);
    } catch {
      // an unreadable picture is left out (and logged) when the pictures are read
    }
    if (side >= max) return max;
  }
  return Math.min(max, Math.max(8, Math.ceil(side / 4) * 4));
}

/** The pictures as bytes at `size` (unreadable ones left out, logged), at most `limit` of them, evenly spaced. */
async function readPictures(
  store: ArtifactStore,
  pictures: readonly Picture[],
  size: number,
  limit: number,
  what: string,
  log: Logger,
): Promise<PictureSet> {
  const chosen =
    pictures.length <= limit ? pictures : Array.from({ length: limit }, (_, i) => pictures[Math.floor((i * pictures.length) / limit)]!);
  const area = size * size * 3;
  const pixels = new Uint8Array(chosen.length * area);
  const labels = new Uint8Array(chosen.length);
  const progress = new Progress(log, `reading the ${what} pictures for the scratch CNN`, chosen.length);
  let count = 0;
  // Decoded a batch at a time on libuv's pool (sharp), written in order.
  for (let start = 0; start < chosen.length; start += 32) {
    const batch = chosen.slice(start, start + 32);
    const decoded = await Promise.allSettled(batch.map(async (p) => imageBytes(await store.get(p.key), { size })));
    decoded.forEach((outcome, k) => {
      if (outcome.status === 'rejected') {
        // Missing or unreadable: left out, as image-features.ts leaves it out; anything else (the store down) stops training.
        if (!(outcome.reason instanceof NotFoundError) && !(outcome.reason instanceof InputError)) throw outcome.reason;
        log.warn({ key: batch[k]!.key, error: (outcome.reason as Error).message }, 'picture left out of the scratch CNN');
        return;
      }
      pixels.set(outcome.value, count * area);
      labels[count] = batch[k]!.label;
      count++;
    });
    progress.tick(batch.length);
  }
  progress.finish();
  return { pixels: pixels.subarray(0, count * area), labels: labels.subarray(0, count), count, size, channels: 3 };
}

/** The extractor, and the CNN's training loss per epoch; `size`: the side it reads (pictureSide's). */
export async function pretrainScratchBackbone(
  store: ArtifactStore,
  data: { train: readonly Example[]; val: readonly Example[]; labels: readonly string[] },
  size: number,
  options: ScratchOptions,
  log: Logger,
): Promise<{ extractor: FeatureExtractor; losses: number[] }> {
  if (data.labels.length > 256) throw new Error(`the scratch CNN takes at most 256 labels (got ${data.labels.length})`);
  const picturesOf = (examples: readonly Example[]) =>
    examples.flatMap((e) => e.imageKeys.map((key) => ({ key, label: data.labels.indexOf(e.label) })));
  const trainPictures = picturesOf(data.train);
  const limit = Math.max(1, Math.floor(options.maxBytes / (size * size * 3)));
  if (trainPictures.length > limit)
    log.warn(
      { pictures: trainPictures.length, kept: limit, maxBytes: options.maxBytes },
      'scratch CNN: training on an evenly spaced sample of the pictures',
    );
  const train = await readPictures(store, trainPictures, size, limit, 'training', log);
  const val = await readPictures(store, picturesOf(data.val), size, Math.max(1, Math.floor(limit / 8)), 'validation', log);
  if (train.count === 0) throw new Error('the scratch CNN has no readable training picture');
  log.info(
    { train: train.count, validation: val.count, size, labels: data.labels.length },
    'scratch CNN: the picture CNN at the pictures’ own size',
  );
  // Batch norm's moving statistics must settle within the run: a window of about a twentieth of its
  // steps, between 10 steps (momentum 0.9) and Keras's 100 (0.99). At 0.99, a run of 72 steps validated
  // at 0.22 while it trained at 0.78 (the statistics were still those of the first batches).
  const steps = Math.ceil(train.count / options.batchSize) * options.epochs;
  const batchNormMomentum = Math.min(0.99, Math.max(0.9, 1 - 20 / steps));
  const cnn = buildPictureCnn({ size, classes: data.labels.length, embeddingDim: options.featureDim, batchNormMomentum });
  const result = await trainPictureCnn(
    cnn,
    train,
    val,
    {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      seed: options.seed,
      augmentation: { flip: 0.5, shift: Math.max(1, Math.round(size / 14)) },
    },
    log,
  );
  // The cache id names these exact weights: features of another training must never be reused.
  const hash = createHash('sha256');
  for (const weight of cnn.embedder.getWeights()) hash.update(Buffer.from((await weight.data()).buffer));
  return {
    extractor: { id: `scratch-${hash.digest('hex').slice(0, 16)}`, model: cnn.embedder, inputSize: size, featureDim: options.featureDim },
    losses: result.curve.map((epoch) => epoch.loss),
  };
}
