/**
 * Training examples in the model's input form, and the batches cut from them. Text features are
 * computed once (they are small); image features are the cached backbone features (1280 floats per
 * product), so no decoded picture is held in memory during training.
 */
import * as tf from '@tensorflow/tfjs';
import { padBatch, seededRandom, type SparseDoc } from '../core/index.js';

export interface Encoded {
  ids: string[];
  docs: SparseDoc[];
  /** Backbone features per example, null where the product has no usable picture. */
  images: (Float32Array | null)[];
  labels: Int32Array;
}

export interface Batch {
  ids: tf.Tensor2D;
  weights: tf.Tensor2D;
  imageFeatures: tf.Tensor2D;
  textMask: tf.Tensor2D;
  imageMask: tf.Tensor2D;
  labels: tf.Tensor1D;
  /** Rows (within the batch) that have both a text and a picture: the contrastive pairs. */
  pairs: tf.Tensor1D | null;
  size: number;
  dispose(): void;
}

export function makeBatch(data: Encoded, rows: readonly number[], imageFeatureDim: number): Batch {
  const docs = rows.map((row) => data.docs[row]!);
  const padded = padBatch(docs);
  const features = new Float32Array(rows.length * imageFeatureDim);
  const imageMask = new Float32Array(rows.length);
  const textMask = new Float32Array(rows.length);
  const pairs: number[] = [];
  rows.forEach((row, k) => {
    const image = data.images[row];
    const hasText = (data.docs[row]?.ids.length ?? 0) > 0;
    textMask[k] = hasText ? 1 : 0;
    if (image) {
      features.set(image, k * imageFeatureDim);
      imageMask[k] = 1;
      if (hasText) pairs.push(k);
    }
  });
  const batch: Batch = {
    ids: tf.tensor2d(padded.ids, [rows.length, padded.length], 'int32'),
    weights: tf.tensor2d(padded.weights, [rows.length, padded.length]),
    imageFeatures: tf.tensor2d(features, [rows.length, imageFeatureDim]),
    textMask: tf.tensor2d(textMask, [rows.length, 1]),
    imageMask: tf.tensor2d(imageMask, [rows.length, 1]),
    labels: tf.tensor1d(Int32Array.from(rows, (row) => data.labels[row]!), 'int32'),
    pairs: pairs.length >= 2 ? tf.tensor1d(pairs, 'int32') : null,
    size: rows.length,
    dispose() {
      tf.dispose([batch.ids, batch.weights, batch.imageFeatures, batch.textMask, batch.imageMask, batch.labels, ...(batch.pairs ? [batch.pairs] : [])]);
    },
  };
  return batch;
}

/**
 * The batches of one epoch, as row lists: shuffled with a seed (the same epoch of a resumed run sees
 * the same order), then length-bucketed (rows of similar feature count batched together, which cuts
 * padding several-fold), then the batch order shuffled again.
 */
export function epochBatches(data: Encoded, batchSize: number, seed: number): number[][] {
  const random = seededRandom(seed);
  const order = Array.from(data.labels, (_, i) => i);
  shuffle(order, random);
  const chunk = batchSize * 32;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += chunk) {
    const part = order.slice(start, start + chunk).sort((a, b) => data.docs[a]!.ids.length - data.docs[b]!.ids.length);
    for (let i = 0; i < part.length; i += batchSize) batches.push(part.slice(i, i + batchSize));
  }
  return shuffle(batches, random);
}

/** Fixed batches in data order (evaluation). */
export function sequentialBatches(count: number, batchSize: number): number[][] {
  const batches: number[][] = [];
  for (let start = 0; start < count; start += batchSize) batches.push(Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i));
  return batches;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
