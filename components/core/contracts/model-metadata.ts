/**
 * What a published model folder (`models/<version>/`, see publish.ts) says about itself in its
 * manifest's metadata: the contract between train, which writes it, and evaluate, index, drift and
 * the search service, which read it.
 */
import { z } from 'zod';

/** How the text featuriser (ml/text-features.ts) was set when the model was trained: it must be set the same to apply it. */
export const FeaturizerConfig = z.object({
  /** Hash buckets: a power of two. Bucket 0 is reserved for padding. */
  buckets: z.number().int().min(256),
  /** Features kept per document, highest weight first. */
  maxFeatures: z.number().int().positive(),
  charNgrams: z.boolean(),
  listingFields: z.boolean(),
  /** The pretrained sentence vector appended to the features; null (and models before it): none. */
  sentence: z
    .object({
      encoder: z.literal('universal-sentence-encoder-lite'),
      dim: z.number().int().positive(),
      /** Its norm beside the hashed features' 1. */
      weight: z.number().positive(),
      /** SentencePiece tokens read per text (the title and the start of the description). */
      maxTokens: z.number().int().positive(),
    })
    .nullable()
    .default(null),
});
export type FeaturizerConfig = z.infer<typeof FeaturizerConfig>;

export const MODEL_PREFIX = (version: string) => `models/${version}`;

export const MODEL_FILES = {
  textEncoder: 'text_encoder.onnx',
  /** The text classifier (the frozen SVMs). Models published before it carry its logits as the text encoder's second output. */
  textClassifier: 'text_classifier.onnx',
  imageEncoder: 'image_encoder.onnx',
  fusion: 'fusion.onnx',
  idf: 'idf.bin',
  split: 'split.json',
  profile: 'profile.json',
  curves: 'curves.json',
  curvesHtml: 'curves.html',
} as const;

const Accuracy = z.object({ text: z.number().nullable(), image: z.number().nullable(), combined: z.number() });

/**
 * How deep in the category path the classifier's labels are: 1, the root categories (a general
 * marketplace: Gumtree has 13); 2, `root / sub` (a catalogue whose listings share one root, as the
 * Fashion-MNIST pictures catalogue's ten classes do under Clothes, Footwear & Accessories).
 */
export const LabelDepth = z.union([z.literal(1), z.literal(2)]);
export type LabelDepth = z.infer<typeof LabelDepth>;

/** A listing's label at that depth: `root`, or `root / sub` (the root alone where its path stops there). */
export function categoryLabel(path: readonly string[], depth: LabelDepth): string {
  return path.slice(0, depth).join(' / ');
}

export const ModelMetadata = z.object({
  snapshotId: z.string(),
  labels: z.array(z.string()).min(2),
  /** Models before it: root categories. */
  labelDepth: LabelDepth.default(1),
  embeddingDim: z.number().int().positive(),
  featurizer: FeaturizerConfig,
  /** Which inputs the model was trained on: an image query to a text-only model is refused, not guessed. */
  modalities: z.object({ text: z.boolean(), image: z.boolean() }),
  image: z
    .object({
      backbone: z.string(),
      inputSize: z.number().int().positive(),
      /** A from-scratch backbone's own training loss per epoch. */
      pretrainingLosses: z.array(z.number()).optional(),
    })
    .nullable(),
  backend: z.object({ name: z.string(), engine: z.string(), version: z.string() }),
  hyperparameters: z.record(z.string(), z.unknown()),
  validation: z.object({ rows: z.number().int(), accuracy: Accuracy, macroF1: Accuracy.partial() }),
  onnxMaxAbsDiff: z.number(),
  bestEpoch: z.number().int(),
  /** Mean over the epochs run, training steps only. */
  trainSamplesPerSecond: z.number(),
  trainSeconds: z.number(),
});
export type ModelMetadata = z.infer<typeof ModelMetadata>;

export const SplitFile = z.object({ rule: z.string(), val: z.array(z.string()), test: z.array(z.string()) });
export type SplitFile = z.infer<typeof SplitFile>;
