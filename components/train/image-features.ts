/**
 * Backbone features of the catalogue's model-ready images, cached in the artifact store by the sha256
 * of the image bytes and the backbone's id (`cache/image-features/<backbone>/<sha256>.f32`): a retrain
 * computes features only for pictures it has not seen, and a changed picture gets new ones. Images
 * are decoded and run through the backbone a batch at a time, so memory stays flat however many there are.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { bytesOfFloat32, float32FromBytes, NotFoundError, Progress, type ArtifactStore, type Logger } from '../core/platform/index.js';
import { imagePixels } from '../core/ml/index.js';

export interface FeatureExtractor {
  /** Names the cache: a different backbone must never read another's features. */
  id: string;
  model: tf.LayersModel;
  inputSize: number;
  featureDim: number;
}

const cacheKey = (extractor: FeatureExtractor, sha: string) => `cache/image-features/${extractor.id}/${sha.slice(0, 2)}/${sha}.f32`;

/** Features per image key; keys whose image is missing or unreadable are left out (and logged). */
export async function imageFeatures(
  store: ArtifactStore,
  extractor: FeatureExtractor,
  keys: readonly string[],
  log: Logger,
  batchSize = 16,
): Promise<Map<string, Float32Array>> {
  const result = new Map<string, Float32Array>();
  const pending: { key: string; sha: string; bytes: Buffer }[] = [];
  let cached = 0;
  let unreadable = 0;
  const progress = new Progress(log, 'image features', keys.length);
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending.splice(0, pending.length);
    const pixels: Float32Array[] = [];
    const usable: typeof batch = [];
    // Decoded together: sharp works on libuv's thread pool, off the main thread the backend computes on.
    const decoded = await Promise.allSettled(batch.map((item) => imagePixels(item.bytes, { size: extractor.inputSize })));
    decoded.forEach((outcome, k) => {
      const item = batch[k]!;
      if (outcome.status === 'fulfilled') {
        pixels.push(outcome.value);
        usable.push(item);
      } else {
        unreadable++;
        log.warn({ key: item.key, error: (outcome.reason as Error).message }, 'image left out of training: unreadable');
      }
    });
    if (usable.length === 0) return;
    const size = extractor.inputSize;
    const flat = new Float32Array(usable.length * size * size * 3);
    pixels.forEach((p, k) => flat.set(p, k * size * size * 3));
    const features = tf.tidy(() => extractor.model.predict(tf.tensor4d(flat, [usable.length, size, size, 3])) as tf.Tensor2D);
    const data = (await features.data()) as Float32Array;
    features.dispose();
    for (const [k, item] of usable.entries()) {
      const vector = data.slice(k * extractor.featureDim, (k + 1) * extractor.featureDim);
      await store.put(cacheKey(extractor, item.sha), bytesOfFloat32(vector));
      result.set(item.key, vector);
    }
    progress.tick(usable.length);
  };
  for (const key of keys) {
    let bytes: Buffer;
    try {
      bytes = await store.get(key);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      unreadable++;
      log.warn({ key }, 'image left out of training: not in the artifact store');
      continue;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    try {
      result.set(key, float32FromBytes(await store.get(cacheKey(extractor, sha))));
      cached++;
      progress.tick();
      continue;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    pending.push({ key, sha, bytes });
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  progress.finish();
  log.info({ images: keys.length, cached, computed: result.size - cached, unreadable }, 'image features ready');
  return result;
}

/** A product's image feature: the mean over its pictures' features (null without any). */
export function productFeature(keys: readonly string[], features: ReadonlyMap<string, Float32Array>, dim: number): Float32Array | null {
  const vectors = keys.map((key) => features.get(key)).filter((v): v is Float32Array => v !== undefined);
  if (vectors.length === 0) return null;
  const mean = new Float32Array(dim);
  for (const vector of vectors) for (let d = 0; d < dim; d++) mean[d]! += vector[d]! / vectors.length;
  return mean;
}
