/**
 * The multimodal model, as three small TF.js models that share one embedding space:
 *
 *   text tower   [ids, weights] ─ WeightedBag(buckets → textDim) ─ dropout ─ Dense(embeddingDim) ─ L2 ─► t
 *                               └ WeightedBag(buckets + sentence → classes + subs, bias): linear SVMs, frozen
 *                                   ─ HierarchicalLogits (root + best of its sub-categories) ──────► wide
 *   image tower  backbone features ─ Dense(hidden, relu) ─ dropout ─ Dense(embeddingDim) ─ L2 ─────► i
 *   head         embedding ─ Dense(classes) ─► logits      (one head for t, i and the fused f)
 *   fusion       f = L2(mt·t + mi·i)   (mt, mi: does the product have text / an image)
 *   classifiers  text: wide; image: head(i); product: mi·head(f) + mt·wide
 *
 * Why this shape:
 * - The deep bag is a learned low-rank projection of hashed TF-IDF features: a text query and a
 *   listing land in the same space as pictures (the InfoNCE loss pulls t and i of one product together).
 *   On text alone, the listing-contrastive loss (../losses.ts) pulls a listing's title, embedded as a
 *   query is, to the listing's full text, against other listings: without it the category head was
 *   the only signal, and t held category clusters rather than listings.
 * - The "wide" bag is a full-rank linear classifier over the same features (Wide & Deep, Cheng et al.
 *   2016): on this data a linear model over word and character n-grams is the strongest text classifier
 *   (the TF-IDF + linear SVM floor), and the deep bag alone, or the wide bag trained by Adam beside it,
 *   stays 1–2 points below it. So it is solved exactly as a linear SVM first (../linear-svm.ts) and
 *   frozen; it is the text classifier, and the product classifier wherever a product has text.
 * - The pretrained sentence vector (core/ml/sentence-encoder.ts) is read by the wide part only: it is worth
 *   a point of accuracy to the classifier, while the embedding t stays a function of the hashed features,
 *   so embedding a search query or a product needs no sentence encoder (a query through it costs about
 *   8 ms of one core; the hashed features, microseconds). The deep bag skips the sentence ids.
 * - The wide part also scores the sub-categories (the second level of the category path) and adds
 *   each root's best sub-category score to the root's own: a root such as Home & Garden is a mix of
 *   unlike things, and a classifier over its parts separates them better than one over the whole
 *   (+0.7 points in 5-fold cross-validation on the real export; README, Train).
 * - Fusion is a masked sum, not a learned layer: a product without a picture gets exactly its text
 *   embedding (no invented image), and one head serves every subset of modalities.
 * - The image tower reads features of a frozen backbone (cached per image): a pretrained one
 *   (../backbone.ts) or, for users without one, the picture CNN (../picture-cnn.ts), first trained on
 *   the catalogue's own pictures at their own size and then frozen (../scratch-backbone.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { HierarchicalLogits, L2Normalize, WeightedBag } from './layers.js';

export interface ModelShape {
  /** Hash buckets of the text features: the deep bag's rows. */
  buckets: number;
  /** Width of the sentence vector whose ids follow the buckets (0: none): the wide bag reads it too. */
  sentenceDim: number;
  textDim: number;
  embeddingDim: number;
  classes: number;
  imageFeatureDim: number;
  imageHidden: number;
  dropout: number;
  /**
   * The sub-categories the wide part also scores: for each root class, the indices of its
   * sub-categories (together, each of 0…S-1 once), and the weight of the best one's score.
   * Null: roots only.
   */
  subcategories: { groups: number[][]; weight: number } | null;
}

/** Rows of the wide bag: the hash buckets, then the sentence vector's ids. */
export function wideInputs(shape: ModelShape): number {
  return shape.buckets + shape.sentenceDim;
}

/** Columns of the wide bag: the roots, then the sub-categories. */
export function wideColumns(shape: ModelShape): number {
  return shape.classes + (shape.subcategories?.groups.flat().length ?? 0);
}

export interface Towers {
  /** [ids int32 [N,L], weights [N,L]] → [t [N,E], wide [N,C]] */
  text: tf.LayersModel;
  /** The text tower's embedding alone (the same layers), without the wide part's work: query views. */
  textEmbedding: tf.LayersModel;
  /** features [N,F] → i [N,E] */
  image: tf.LayersModel;
  /** embedding [N,E] → logits [N,C] */
  head: tf.LayersModel;
}

export function buildTowers(shape: ModelShape): Towers {
  const ids = tf.input({ shape: [null], dtype: 'int32', name: 'ids' });
  const weights = tf.input({ shape: [null], name: 'weights' });
  const bag = new WeightedBag({
    name: 'text_bag',
    inputDim: shape.buckets,
    outputDim: shape.textDim,
    skipOutOfRange: shape.sentenceDim > 0,
  }).apply([ids, weights]) as tf.SymbolicTensor;
  const dropped = tf.layers.dropout({ name: 'text_dropout', rate: shape.dropout }).apply(bag) as tf.SymbolicTensor;
  const projected = tf.layers.dense({ name: 'text_projection', units: shape.embeddingDim }).apply(dropped) as tf.SymbolicTensor;
  const t = new L2Normalize({ name: 'text_embedding' }).apply(projected) as tf.SymbolicTensor;
  let wide = new WeightedBag({
    name: 'text_wide',
    inputDim: wideInputs(shape),
    outputDim: wideColumns(shape),
    useBias: true,
    initScale: 0,
  }).apply([ids, weights]) as tf.SymbolicTensor;
  if (shape.subcategories)
    wide = new HierarchicalLogits({ name: 'text_wide_roots', classes: shape.classes, ...shape.subcategories }).apply(
      wide,
    ) as tf.SymbolicTensor;
  const text = tf.model({ name: 'text_tower', inputs: [ids, weights], outputs: [t, wide] });
  const textEmbedding = tf.model({ name: 'text_embedding_only', inputs: [ids, weights], outputs: t });

  const features = tf.input({ shape: [shape.imageFeatureDim], name: 'image_features' });
  let x = tf.layers.dense({ name: 'image_hidden', units: shape.imageHidden, activation: 'relu' }).apply(features) as tf.SymbolicTensor;
  x = tf.layers.dropout({ name: 'image_dropout', rate: shape.dropout }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: 'image_projection', units: shape.embeddingDim }).apply(x) as tf.SymbolicTensor;
  const i = new L2Normalize({ name: 'image_embedding' }).apply(x) as tf.SymbolicTensor;
  const image = tf.model({ name: 'image_tower', inputs: features, outputs: i });

  const embedding = tf.input({ shape: [shape.embeddingDim], name: 'embedding' });
  const logits = tf.layers.dense({ name: 'category', units: shape.classes }).apply(embedding) as tf.SymbolicTensor;
  const head = tf.model({ name: 'head', inputs: embedding, outputs: logits });
  return { text, textEmbedding, image, head };
}

/** f = L2(mt·t + mi·i); masks are [N,1] of 0/1. */
export function fuse(t: tf.Tensor, i: tf.Tensor, textMask: tf.Tensor, imageMask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const sum = tf.add(tf.mul(t, textMask), tf.mul(i, imageMask));
    return tf.mul(sum, tf.rsqrt(tf.maximum(tf.sum(tf.square(sum), -1, true), 1e-12)));
  });
}

export function trainableWeights(towers: Towers, withImage: boolean): tf.Variable[] {
  const models = withImage ? [towers.text, towers.image, towers.head] : [towers.text, towers.head];
  return models.flatMap((model) => model.trainableWeights.map((weight) => (weight as unknown as { val: tf.Variable }).val));
}
