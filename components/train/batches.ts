/**
 * Training examples in the model's input form, and the batches cut from them. Text features are
 * computed once (they are small); image features are the cached backbone features (1280 floats per
 * product), so no decoded picture is held in memory during training.
 *
 * With listing views (`Encoded.listing`), a batch also carries what the listing-contrastive term
 * (losses.ts) reads: each row's query view (its title alone, featurised exactly as the search service
 * featurises a query, or sometimes a short span of its words), hard negatives (other listings of the
 * same sub-category, drawn per row), and a mask of candidates that are the same listing reposted.
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../core/platform/index.js';
import { padBatch, type SparseDoc } from '../core/ml/index.js';

export interface Encoded {
  ids: string[];
  docs: SparseDoc[];
  /** Backbone features per example, null where the product has no usable picture. */
  images: (Float32Array | null)[];
  labels: Int32Array;
  /** The listing-contrastive term's views; absent: the term is off. */
  listing?: ListingViews;
}

/** Per example: what a buyer's query for it looks like, and whom it is easily confused with. */
export interface ListingViews {
  /** The title alone, featurised as a search query is (`{ title }`): the query view. */
  titles: SparseDoc[];
  /** The title, normalised (lower case, single spaces): listings with the same one are reposts, not negatives. */
  titleKeys: string[];
  /** Words of the title and description, for span views. */
  words: string[][];
  /** The hard-negative pool: examples with the same group (the sub-category) are confusable. */
  groups: Int32Array;
  /** Features of a query text (the featuriser with a title alone). */
  featurizeQuery(text: string): SparseDoc;
}

/** How a batch draws its listing views. */
export interface ListingDraw {
  /** Hard negatives per row: other listings of its sub-category, added as candidates. */
  hardNegatives: number;
  /** Chance that a row's query is a short span of its words instead of its whole title. */
  spanShare: number;
  random: () => number;
}

/**
 * The listing-contrastive part of a batch: `n` query rows (those of `rows` with a non-empty query),
 * their candidates being the `n` listings themselves (in order, so the target of query k is
 * candidate k) followed by the hard negatives.
 */
export interface ListingBatch {
  /** Rows of the batch that take part: the listings, in the order of the queries. */
  rows: tf.Tensor1D;
  queryIds: tf.Tensor2D;
  queryWeights: tf.Tensor2D;
  negativeIds: tf.Tensor2D | null;
  negativeWeights: tf.Tensor2D | null;
  /** [n, n + H], 0 or a large negative where the candidate is another copy of query k's listing (same title). */
  mask: tf.Tensor2D;
  n: number;
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
  /** The listing-contrastive views (null: not asked for, or fewer than two rows with a query). */
  listing: ListingBatch | null;
  size: number;
  dispose(): void;
}

/** Additive logit mask for a candidate that is the same listing as the query (a repost). */
export const SAME_LISTING = -1e4;

/** Span views: 2–6 consecutive words, like a buyer's short query. */
const SPAN_WORDS = { min: 2, max: 6 };

function listingBatch(data: Encoded, views: ListingViews, rows: readonly number[], draw: ListingDraw): ListingBatch | null {
  const anchors: number[] = [];
  const queries: SparseDoc[] = [];
  rows.forEach((row, k) => {
    if ((data.docs[row]?.ids.length ?? 0) === 0) return;
    let query = views.titles[row]!;
    const words = views.words[row]!;
    if (draw.spanShare > 0 && words.length > SPAN_WORDS.min && draw.random() < draw.spanShare) {
      const length = Math.min(words.length, SPAN_WORDS.min + Math.floor(draw.random() * (SPAN_WORDS.max - SPAN_WORDS.min + 1)));
      const start = Math.floor(draw.random() * (words.length - length + 1));
      const span = views.featurizeQuery(words.slice(start, start + length).join(' '));
      if (span.ids.length > 0) query = span;
    }
    if (query.ids.length === 0) return;
    anchors.push(k);
    queries.push(query);
  });
  if (anchors.length < 2) return null;
  const inBatch = new Set(anchors.map((k) => rows[k]!));
  const negatives: number[] = [];
  if (draw.hardNegatives > 0) {
    const members = groupMembers(views);
    for (const k of anchors) {
      const row = rows[k]!;
      const pool = members.get(views.groups[row]!) ?? [];
      for (let h = 0; h < draw.hardNegatives; h++) {
        // A few tries for a listing that is neither in the batch nor a repost of this one.
        for (let attempt = 0; attempt < 4 && pool.length > 1; attempt++) {
          const other = pool[Math.floor(draw.random() * pool.length)]!;
          if (inBatch.has(other) || views.titleKeys[other] === views.titleKeys[row] || (data.docs[other]?.ids.length ?? 0) === 0) continue;
          negatives.push(other);
          break;
        }
      }
    }
  }
  const n = anchors.length;
  const candidates = [...anchors.map((k) => rows[k]!), ...negatives];
  const mask = new Float32Array(n * candidates.length);
  anchors.forEach((k, q) => {
    const key = views.titleKeys[rows[k]!];
    candidates.forEach((candidate, c) => {
      if (c !== q && views.titleKeys[candidate] === key) mask[q * candidates.length + c] = SAME_LISTING;
    });
  });
  const padded = padBatch(queries);
  const negativeDocs = padBatch(negatives.map((row) => data.docs[row]!));
  return {
    rows: tf.tensor1d(anchors, 'int32'),
    queryIds: tf.tensor2d(padded.ids, [n, padded.length], 'int32'),
    queryWeights: tf.tensor2d(padded.weights, [n, padded.length]),
    negativeIds: negatives.length > 0 ? tf.tensor2d(negativeDocs.ids, [negatives.length, negativeDocs.length], 'int32') : null,
    negativeWeights: negatives.length > 0 ? tf.tensor2d(negativeDocs.weights, [negatives.length, negativeDocs.length]) : null,
    mask: tf.tensor2d(mask, [n, candidates.length]),
    n,
  };
}

const membersCache = new WeakMap<ListingViews, Map<number, number[]>>();

function groupMembers(views: ListingViews): Map<number, number[]> {
  let members = membersCache.get(views);
  if (!members) {
    members = new Map();
    views.groups.forEach((group, row) => {
      const list = members!.get(group);
      if (list) list.push(row);
      else members!.set(group, [row]);
    });
    membersCache.set(views, members);
  }
  return members;
}

/** Listing views with `listing` given and the data holding them; else none. */
export function makeBatch(data: Encoded, rows: readonly number[], imageFeatureDim: number, listing?: ListingDraw): Batch {
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
    labels: tf.tensor1d(
      Int32Array.from(rows, (row) => data.labels[row]!),
      'int32',
    ),
    pairs: pairs.length >= 2 ? tf.tensor1d(pairs, 'int32') : null,
    listing: listing && data.listing ? listingBatch(data, data.listing, rows, listing) : null,
    size: rows.length,
    dispose() {
      const l = batch.listing;
      const listingTensors = l
        ? [l.rows, l.queryIds, l.queryWeights, l.mask, ...(l.negativeIds ? [l.negativeIds, l.negativeWeights!] : [])]
        : [];
      tf.dispose([
        batch.ids,
        batch.weights,
        batch.imageFeatures,
        batch.textMask,
        batch.imageMask,
        batch.labels,
        ...(batch.pairs ? [batch.pairs] : []),
        ...listingTensors,
      ]);
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
  for (let start = 0; start < count; start += batchSize)
    batches.push(Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i));
  return batches;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
