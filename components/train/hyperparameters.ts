/**
 * What a training run can be told: the hyper-parameters (every one of them is in the model's
 * version hash), their defaults, `--quick`, and the text features they imply.
 */
import type { FeaturizerConfig } from '../core/contracts/index.js';
import { DEFAULT_FEATURIZER, SENTENCE_ENCODER } from '../core/ml/index.js';
import { SCRATCH_DEFAULTS } from './scratch-backbone.js';

export interface Hyperparameters {
  epochs: number;
  batchSize: number;
  learningRate: number;
  patience: number;
  seed: number;
  buckets: number;
  maxFeatures: number;
  textDim: number;
  embeddingDim: number;
  imageHidden: number;
  dropout: number;
  contrastive: number;
  temperature: number;
  modalityDropout: number;
  /** Training examples kept (a deterministic sample); undefined: all. */
  sample?: number;
  /**
   * `mobilenet_v2`: pretrained, frozen (from the nsfwjs package); `scratch`: the picture CNN trained
   * here on the catalogue's pictures first, at their own size (for users without a pretrained backbone);
   * `none`: text only; `auto`: scratch where the pictures are thumbnails smaller than 64 pixels a side
   * (MobileNetV2 reads 224×224 photos: on Fashion-MNIST's 28×28 articles its features found 0.575 of
   * ten neighbours in the class, the picture CNN 0.886; docs/fashion-mnist.md), else mobilenet_v2.
   */
  imageBackbone: 'auto' | 'mobilenet_v2' | 'scratch' | 'none';
  /** Epochs of the scratch CNN's own training (with imageBackbone `scratch`). */
  scratchEpochs: number;
  /** C of the linear SVM that is the wide (text classifier) part. */
  svmC: number;
  /** SVM decision values are multiplied by this to become logits (they are margins near ±1). */
  wideScale: number;
  /**
   * Weight of each root's best sub-category score in the wide part's root logits (a second SVM over
   * the sub-categories of the training split); 0: roots only.
   */
  subcategoryWeight: number;
  /** Norm of the pretrained sentence vector among the text features (the hashed ones: 1); 0: none. */
  sentenceWeight: number;
  /** SentencePiece tokens of each text the sentence encoder reads. */
  sentenceTokens: number;
  /**
   * Weight of the listing-contrastive term on text alone (losses.ts): a listing's query view (its
   * title, as the service embeds a query) against its full text and fields, symmetric InfoNCE with
   * in-batch and hard negatives; 0: off (the text embedding is then trained by the category head only).
   */
  listingContrastive: number;
  /** Temperature of that InfoNCE. */
  listingTemperature: number;
  /** Hard negatives per listing: other listings of its sub-category, drawn per batch. */
  listingHardNegatives: number;
  /** Chance that a listing's query view is a short span (2–6 words) of its title and description instead of its title. */
  listingSpanShare: number;
}

export const DEFAULTS: Hyperparameters = {
  epochs: 8,
  batchSize: 64,
  learningRate: 3e-3,
  patience: 2,
  seed: 1,
  buckets: DEFAULT_FEATURIZER.buckets,
  maxFeatures: DEFAULT_FEATURIZER.maxFeatures,
  textDim: 64,
  embeddingDim: 256,
  imageHidden: 512,
  dropout: 0.3,
  contrastive: 1,
  temperature: 0.07,
  modalityDropout: 0.2,
  imageBackbone: 'auto',
  scratchEpochs: SCRATCH_DEFAULTS.epochs,
  svmC: 1,
  wideScale: 5,
  subcategoryWeight: 1,
  sentenceWeight: 0.3,
  sentenceTokens: 64,
  listingContrastive: 1,
  listingTemperature: 0.05,
  listingHardNegatives: 1,
  listingSpanShare: 0,
};

/** `--quick`: a small configuration for smoke runs (minutes on 2 cores). */
export const QUICK: Partial<Hyperparameters> = {
  epochs: 2,
  sample: 1200,
  buckets: 2 ** 16,
  maxFeatures: 512,
  textDim: 32,
  embeddingDim: 128,
  imageHidden: 256,
};

/** The text features the hyper-parameters ask for: hashed n-grams, and the sentence vector unless its weight is 0. */
export function featurizerConfigOf(hp: Hyperparameters): FeaturizerConfig {
  return {
    ...DEFAULT_FEATURIZER,
    buckets: hp.buckets,
    maxFeatures: hp.maxFeatures,
    sentence:
      hp.sentenceWeight > 0
        ? { encoder: SENTENCE_ENCODER.id, dim: SENTENCE_ENCODER.dim, weight: hp.sentenceWeight, maxTokens: hp.sentenceTokens }
        : null,
  };
}
