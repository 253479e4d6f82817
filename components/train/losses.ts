/**
 * The training objective: root-category cross-entropy on the fused embedding and on each tower, plus a
 * symmetric InfoNCE loss between the text and image embeddings of the same product (so a text query
 * finds matching pictures). Modality dropout hides the text or the picture of some products from the
 * fused embedding, so the model learns to classify any subset of modalities.
 *
 * And a listing-contrastive term on text alone: the category cross-entropy only sorts listings into
 * their category (on text-only data nothing else pulls one listing away from its neighbours, so the
 * embedding held category clusters, not listings). Two views of one listing, its query view (the title
 * alone, as the service embeds a buyer's query, or a short span of its words) and its full text and
 * fields (as the index embeds it), are pulled together by a symmetric InfoNCE: each query against
 * every listing of the batch plus hard negatives (other listings of its sub-category, which the
 * category head pulls close), and each listing against every query of the batch. Reposts of a listing
 * (the same title) are masked out as negatives.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch, ListingBatch } from './batches.js';
import { fuse, type Towers } from './model/multimodal.js';

export interface LossWeights {
  /** InfoNCE weight. */
  contrastive: number;
  /** InfoNCE temperature. */
  temperature: number;
  /** Chance of hiding one modality of a product that has both, from the fused embedding. */
  modalityDropout: number;
  /** Weight of the listing-contrastive term (query view against the listing's own text); 0: off. */
  listingContrastive: number;
  /** Its temperature. */
  listingTemperature: number;
}

export interface Forward {
  loss: tf.Scalar;
  /** Logits per modality, for accuracy; image logits only where the batch has pictures. */
  textLogits: tf.Tensor2D;
  imageLogits: tf.Tensor2D | null;
  fusedLogits: tf.Tensor2D;
}

/** Mean cross-entropy over the rows whose mask is 1 (0 when there are none). */
function maskedCrossEntropy(labels: tf.Tensor1D, logits: tf.Tensor, mask: tf.Tensor2D): tf.Scalar {
  const perRow = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]!), logits, undefined, undefined, tf.Reduction.NONE);
  const m = tf.reshape(mask, [-1]);
  return tf.div(tf.sum(tf.mul(perRow, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
}

function infoNce(t: tf.Tensor, i: tf.Tensor, pairs: tf.Tensor1D, temperature: number): tf.Scalar {
  const tp = tf.gather(t, pairs);
  const ip = tf.gather(i, pairs);
  const similarity = tf.div(tf.matMul(tp, ip, false, true), temperature);
  const n = pairs.shape[0];
  const targets = tf.oneHot(tf.range(0, n, 1, 'int32'), n);
  const forward = tf.losses.softmaxCrossEntropy(targets, similarity);
  const backward = tf.losses.softmaxCrossEntropy(targets, tf.transpose(similarity));
  return tf.mul(tf.add(forward, backward), 0.5) as tf.Scalar;
}

/**
 * Symmetric InfoNCE between the query views of a batch's listings and the listings themselves:
 * similarities [n, n + H] (query k's target is candidate k; the H hard negatives are candidates of
 * every query), and back from each listing to the n queries.
 */
export function listingInfoNce(towers: Towers, t: tf.Tensor, listing: ListingBatch, temperature: number, training: boolean): tf.Scalar {
  const queries = towers.textEmbedding.apply([listing.queryIds, listing.queryWeights], { training }) as tf.Tensor2D;
  let candidates = tf.gather(t, listing.rows);
  if (listing.negativeIds && listing.negativeWeights) {
    const negatives = towers.textEmbedding.apply([listing.negativeIds, listing.negativeWeights], { training }) as tf.Tensor2D;
    candidates = tf.concat([candidates, negatives], 0);
  }
  const n = listing.n;
  const similarity = tf.add(tf.div(tf.matMul(queries, candidates, false, true), temperature), listing.mask);
  const targets = tf.oneHot(tf.range(0, n, 1, 'int32'), n);
  const forward = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.range(0, n, 1, 'int32'), similarity.shape[1]!), similarity);
  const backward = tf.losses.softmaxCrossEntropy(targets, tf.transpose(tf.slice(similarity, [0, 0], [n, n])));
  return tf.mul(tf.add(forward, backward), 0.5) as tf.Scalar;
}

/**
 * One forward pass. `training` turns on dropout and modality dropout; `random` draws the latter
 * (seeded by the caller). Without image rows in the batch, the image terms are left out entirely.
 */
export function forward(towers: Towers, batch: Batch, weights: LossWeights, training: boolean, random: () => number): Forward {
  const [t, wide] = towers.text.apply([batch.ids, batch.weights], { training }) as tf.Tensor2D[];
  // The text classifier is the frozen linear SVM (the wide part); the head on t is trained so the
  // text embedding space is organised by category, as the image and fused ones are.
  const textLogits = wide!;
  let loss = maskedCrossEntropy(batch.labels, towers.head.apply(t!, { training }) as tf.Tensor2D, batch.textMask);
  if (batch.listing && weights.listingContrastive > 0)
    loss = tf.add(
      loss,
      tf.mul(listingInfoNce(towers, t!, batch.listing, weights.listingTemperature, training), weights.listingContrastive),
    );
  const hasImages = batch.imageMask.sum().dataSync()[0]! > 0;
  if (!hasImages) return { loss, textLogits, imageLogits: null, fusedLogits: textLogits };

  const i = towers.image.apply(batch.imageFeatures, { training }) as tf.Tensor2D;
  const imageLogits = towers.head.apply(i, { training }) as tf.Tensor2D;
  loss = tf.add(loss, maskedCrossEntropy(batch.labels, imageLogits, batch.imageMask));

  let textMask = batch.textMask;
  let imageMask = batch.imageMask;
  if (training && weights.modalityDropout > 0) [textMask, imageMask] = dropModalities(batch, weights.modalityDropout, random);
  const fusedLogits = fusedClassifier(towers, t!, i, wide!, textMask, imageMask, training);
  loss = tf.add(loss, maskedCrossEntropy(batch.labels, fusedLogits, tf.onesLike(batch.textMask)));
  if (batch.pairs && weights.contrastive > 0)
    loss = tf.add(loss, tf.mul(infoNce(t!, i, batch.pairs, weights.temperature), weights.contrastive));
  return { loss, textLogits, imageLogits, fusedLogits };
}

/**
 * Logits of a product from whatever it has: the head on the fused embedding where there is a picture,
 * plus the SVM's where there is text. A text-only product is classified exactly as the SVM does.
 */
export function fusedClassifier(
  towers: Towers,
  t: tf.Tensor,
  i: tf.Tensor,
  wide: tf.Tensor,
  textMask: tf.Tensor,
  imageMask: tf.Tensor,
  training = false,
): tf.Tensor2D {
  const f = fuse(t, i, textMask, imageMask);
  return tf.add(tf.mul(towers.head.apply(f, { training }) as tf.Tensor2D, imageMask), tf.mul(wide, textMask)) as tf.Tensor2D;
}

function dropModalities(batch: Batch, rate: number, random: () => number): [tf.Tensor2D, tf.Tensor2D] {
  const text = batch.textMask.dataSync();
  const image = batch.imageMask.dataSync();
  const keepText = new Float32Array(text.length);
  const keepImage = new Float32Array(image.length);
  for (let k = 0; k < text.length; k++) {
    keepText[k] = text[k]!;
    keepImage[k] = image[k]!;
    if (text[k] && image[k] && random() < rate) {
      if (random() < 0.5) keepText[k] = 0;
      else keepImage[k] = 0;
    }
  }
  return [tf.tensor2d(keepText, [text.length, 1]), tf.tensor2d(keepImage, [image.length, 1])];
}
