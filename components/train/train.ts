/**
 * The train component's work: a pinned snapshot in, a published model folder out
 * (`models/<version>/`, manifest written last; see core/model-metadata.ts for what it holds).
 *
 * The version is a hash of the snapshot id and the hyper-parameters: training the same thing twice
 * finds the published model and stops (a pipeline retry costs nothing), and a crashed run resumes from
 * the checkpoint of the same version.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { AlreadyExistsError, Progress, NotFoundError, type ArtifactStore, type Logger } from '../core/platform/index.js';
import { buildProfile, type FeaturizerConfig, MODEL_FILES, MODEL_PREFIX, ModelMetadata, openPublished, profileRowOf, publish, type SplitFile } from '../core/contracts/index.js';
import { classification, DEFAULT_FEATURIZER, featurizeAll, SENTENCE_ENCODER, TextFeaturizer } from '../core/ml/index.js';
import { BACKBONE_FEATURE_DIM, BACKBONE_INPUT_SIZE, loadMobileNetBackbone } from './backbone.js';
import { makeBatch, sequentialBatches, type Encoded, type ListingViews } from './batches.js';
import { storeCheckpoints } from './checkpoint.js';
import { curvesHtml } from './curves.js';
import { readDataset, type Example } from './dataset.js';
import { exportModels, ONNX_AGREEMENT, onnxAgreement, tfjsFiles, toOnnx } from './export.js';
import { imageFeatures, productFeature, type FeatureExtractor } from './image-features.js';
import { evaluate, trainLoop, type Accuracy } from './loop.js';
import { forward } from './losses.js';
import { buildTowers, fuse, wideColumns, wideInputs, type ModelShape, type Towers } from './model/multimodal.js';
import { pretrainScratchBackbone, SCRATCH_DEFAULTS } from './scratch-backbone.js';
import { fitLinearSvm, SVM_DEFAULTS } from './linear-svm.js';
import { SPLIT_RULE } from './split.js';
import { initBackend, type BackendChoice, type BackendInfo } from './tf/backend.js';

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
   * `mobilenet_v2`: pretrained, frozen (from the nsfwjs package); `scratch`: a small CNN trained here
   * on the catalogue's pictures first (for users without a pretrained backbone); `none`: text only.
   */
  imageBackbone: 'mobilenet_v2' | 'scratch' | 'none';
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
  imageBackbone: 'mobilenet_v2',
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
export const QUICK: Partial<Hyperparameters> = { epochs: 2, sample: 1200, buckets: 2 ** 16, maxFeatures: 512, textDim: 32, embeddingDim: 128, imageHidden: 256 };

export interface TrainRequest {
  snapshotId: string;
  hyperparameters: Hyperparameters;
  backend?: BackendChoice;
  /** Stop after this many optimiser steps (tests of the loop). */
  maxSteps?: number;
}

export interface TrainResult {
  version: string;
  key: string;
  uri: string;
  reused: boolean;
  metadata: ModelMetadata;
}

/** A hash of everything that decides the weights; a capped (--max-steps) run is a different model. */
export function modelVersion(snapshotId: string, hyperparameters: Hyperparameters, maxSteps?: number): string {
  const hash = createHash('sha256').update(JSON.stringify({ snapshotId, hyperparameters, ...(maxSteps ? { maxSteps } : {}) })).digest('hex');
  return `m-${hash.slice(0, 16)}`;
}

/** Words kept per listing for span views. */
const SPAN_SOURCE_WORDS = 200;

/**
 * The listing-contrastive term's views of examples: each title featurised as the search service
 * featurises a query (`{ title }`, hashed features only), and the sub-category as the hard-negative pool.
 */
export function listingViews(examples: readonly Example[], featurizer: TextFeaturizer): ListingViews {
  const groups = new Map<string, number>();
  const featurizeQuery = (text: string) => featurizer.featurize({ title: text });
  return {
    titles: examples.map((e) => featurizeQuery(e.title)),
    titleKeys: examples.map((e) => e.title.toLowerCase().split(/\s+/).filter(Boolean).join(' ')),
    words: examples.map((e) => `${e.title} ${e.text}`.split(/\s+/).filter(Boolean).slice(0, SPAN_SOURCE_WORDS)),
    groups: Int32Array.from(examples, (e) => {
      if (!groups.has(e.subcategory)) groups.set(e.subcategory, groups.size);
      return groups.get(e.subcategory)!;
    }),
    featurizeQuery,
  };
}

async function encode(store: ArtifactStore, examples: readonly Example[], featurizer: TextFeaturizer, labels: readonly string[], images: ReadonlyMap<string, Float32Array>, featureDim: number, withListingViews: boolean, log: Logger): Promise<Encoded> {
  const progress = featurizer.config.sentence ? new Progress(log, `text features with ${featurizer.config.sentence.encoder}`, examples.length) : undefined;
  return {
    ids: examples.map((e) => e.id),
    docs: await featurizeAll(featurizer, examples, { store, progress }),
    images: examples.map((e) => productFeature(e.imageKeys, images, featureDim)),
    labels: Int32Array.from(examples, (e) => labels.indexOf(e.root)),
    ...(withListingViews ? { listing: listingViews(examples, featurizer) } : {}),
  };
}

/** Predictions per modality on a split, for macro-F1, and the fused embeddings' mean / variance. */
function predictions(towers: Towers, data: Encoded, labels: readonly string[], featureDim: number, batchSize: number) {
  const text: string[] = [];
  const image: [string, string][] = [];
  const combined: string[] = [];
  const sum = new Float64Array(towers.head.inputs[0]!.shape[1]!);
  const squares = new Float64Array(sum.length);
  for (const rows of sequentialBatches(data.labels.length, batchSize)) {
    const batch = makeBatch(data, rows, featureDim);
    const tensors = tf.tidy(() => {
      const f = forward(towers, batch, { contrastive: 0, temperature: 1, modalityDropout: 0, listingContrastive: 0, listingTemperature: 1 }, false, () => 0);
      const [t] = towers.text.apply([batch.ids, batch.weights]) as tf.Tensor[];
      const i = f.imageLogits ? (towers.image.apply(batch.imageFeatures) as tf.Tensor) : tf.zerosLike(t!);
      return {
        text: tf.argMax(f.textLogits, 1),
        image: f.imageLogits ? tf.argMax(f.imageLogits, 1) : tf.zeros([0]),
        combined: tf.argMax(f.fusedLogits, 1),
        embeddings: fuse(t!, i, batch.textMask, batch.imageMask),
      };
    });
    const out = {
      text: tensors.text.arraySync() as number[],
      image: tensors.image.size > 0 ? (tensors.image.arraySync() as number[]) : null,
      combined: tensors.combined.arraySync() as number[],
      embeddings: tensors.embeddings.arraySync() as number[][],
      imageMask: batch.imageMask.dataSync(),
    };
    tf.dispose(Object.values(tensors));
    rows.forEach((_, k) => {
      text.push(labels[out.text[k]!]!);
      combined.push(labels[out.combined[k]!]!);
      if (out.image && out.imageMask[k]) image.push([labels[data.labels[rows[k]!]!]!, labels[out.image[k]!]!]);
      out.embeddings[k]!.forEach((v, d) => {
        sum[d]! += v;
        squares[d]! += v * v;
      });
    });
    batch.dispose();
  }
  const n = Math.max(1, data.labels.length);
  const mean = Array.from(sum, (s) => s / n);
  return { text, image, combined, embeddings: { dim: sum.length, mean, variance: Array.from(squares, (s, d) => s / n - mean[d]! ** 2) } };
}

/** The text features the hyper-parameters ask for: hashed n-grams, and the sentence vector unless its weight is 0. */
export function featurizerConfigOf(hp: Hyperparameters): FeaturizerConfig {
  return {
    ...DEFAULT_FEATURIZER,
    buckets: hp.buckets,
    maxFeatures: hp.maxFeatures,
    sentence: hp.sentenceWeight > 0 ? { encoder: SENTENCE_ENCODER.id, dim: SENTENCE_ENCODER.dim, weight: hp.sentenceWeight, maxTokens: hp.sentenceTokens } : null,
  };
}

/**
 * The sub-categories of the training examples, sorted, grouped under their roots (the wide part's
 * HierarchicalLogits takes the groups), and each example's sub-category index.
 */
export function subcategoriesOf(examples: readonly Example[], labels: readonly string[]): { names: string[]; groups: number[][]; of: Int32Array } {
  const names = [...new Set(examples.map((e) => e.subcategory))].sort();
  const rootOf = new Map(examples.map((e) => [e.subcategory, e.root]));
  const groups = labels.map((label) => names.flatMap((name, index) => (rootOf.get(name) === label ? [index] : [])));
  return { names, groups, of: Int32Array.from(examples, (e) => names.indexOf(e.subcategory)) };
}

/**
 * Solves the wide part on the training split and freezes it in the text tower: a linear SVM over the
 * roots and, with sub-categories, one over those, side by side in one table.
 */
function freezeSvmWidePart(towers: Towers, train: Encoded, subcategoryLabels: Int32Array | null, shape: ModelShape, hp: Hyperparameters, log: Logger): void {
  const started = Date.now();
  const options = { ...SVM_DEFAULTS, c: hp.svmC, seed: hp.seed };
  const inputs = wideInputs(shape);
  const parts = [fitLinearSvm(train.docs, train.labels, shape.classes, inputs, options)];
  if (shape.subcategories && subcategoryLabels) parts.push(fitLinearSvm(train.docs, subcategoryLabels, wideColumns(shape) - shape.classes, inputs, options));
  const columns = wideColumns(shape);
  const weights = new Float32Array(inputs * columns);
  const bias = new Float32Array(columns);
  let offset = 0;
  for (const part of parts) {
    const width = part.bias.length;
    for (let bucket = 0; bucket < inputs; bucket++) {
      for (let k = 0; k < width; k++) weights[bucket * columns + offset + k] = part.weights[bucket * width + k]! * hp.wideScale;
    }
    for (let k = 0; k < width; k++) bias[offset + k] = part.bias[k]! * hp.wideScale;
    offset += width;
  }
  const wide = towers.text.getLayer('text_wide');
  const tensors = [tf.tensor2d(weights, [inputs, columns]), tf.tensor1d(bias)];
  wide.setWeights(tensors);
  tf.dispose(tensors);
  wide.trainable = false;
  log.info({ seconds: (Date.now() - started) / 1000, c: hp.svmC, subcategories: columns - shape.classes }, 'wide part: linear SVM solved and frozen');
}

export async function trainModel(store: ArtifactStore, request: TrainRequest, log: Logger): Promise<TrainResult> {
  const hp = request.hyperparameters;
  const version = modelVersion(request.snapshotId, hp, request.maxSteps);
  const key = MODEL_PREFIX(version);
  try {
    const existing = await openPublished(store, key);
    log.info({ model: store.uri(key) }, 'this snapshot and configuration is already trained: nothing to do');
    return { version, key, uri: store.uri(key), reused: true, metadata: ModelMetadata.parse(existing.manifest.metadata) };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const started = Date.now();
  const backend: BackendInfo = await initBackend(log, request.backend);
  const dataset = await readDataset(store, request.snapshotId, { sample: hp.sample });
  log.info({ snapshot: request.snapshotId, train: dataset.train.length, validation: dataset.val.length, test: dataset.testIds.length, labels: dataset.labels.length }, 'dataset');

  const featurizerConfig = featurizerConfigOf(hp);
  const featurizer = TextFeaturizer.fit(dataset.train, featurizerConfig);

  const imageKeys = [...dataset.train, ...dataset.val].flatMap((e) => e.imageKeys);
  let extractor: FeatureExtractor | null = null;
  let pretrainingLosses: number[] | undefined;
  let features = new Map<string, Float32Array>();
  if (hp.imageBackbone !== 'none' && imageKeys.length > 0) {
    if (hp.imageBackbone === 'scratch') {
      const scratch = await pretrainScratchBackbone(store, dataset.train, dataset.labels, { ...SCRATCH_DEFAULTS, epochs: hp.scratchEpochs, seed: hp.seed }, log);
      extractor = scratch.extractor;
      pretrainingLosses = scratch.losses;
    } else {
      extractor = { id: hp.imageBackbone, model: await loadMobileNetBackbone(), inputSize: BACKBONE_INPUT_SIZE, featureDim: BACKBONE_FEATURE_DIM };
    }
    features = await imageFeatures(store, extractor, imageKeys, log);
  }
  const featureDim = extractor?.featureDim ?? BACKBONE_FEATURE_DIM;
  const withListingViews = hp.listingContrastive > 0;
  const train = await encode(store, dataset.train, featurizer, dataset.labels, features, featureDim, withListingViews, log);
  const val = await encode(store, dataset.val, featurizer, dataset.labels, features, featureDim, withListingViews, log);
  const withImages = train.images.some((f) => f !== null);
  if (!withImages) log.info(imageKeys.length === 0 ? 'no product has a picture: training on text and listing fields only' : 'no usable picture features: training on text only');

  const subcategories = hp.subcategoryWeight > 0 ? subcategoriesOf(dataset.train, dataset.labels) : null;
  const shape: ModelShape = {
    buckets: hp.buckets,
    sentenceDim: featurizer.config.sentence?.dim ?? 0,
    textDim: hp.textDim,
    embeddingDim: hp.embeddingDim,
    classes: dataset.labels.length,
    imageFeatureDim: featureDim,
    imageHidden: hp.imageHidden,
    dropout: hp.dropout,
    subcategories: subcategories ? { groups: subcategories.groups, weight: hp.subcategoryWeight } : null,
  };
  const towers = buildTowers(shape);
  freezeSvmWidePart(towers, train, subcategories?.of ?? null, shape, hp, log);
  const checkpoints = storeCheckpoints(store, version);
  const loop = await trainLoop(towers, train, val, { ...hp, imageFeatureDim: featureDim, maxSteps: request.maxSteps }, checkpoints, log);
  const valuation = evaluate(towers, val, { ...hp, imageFeatureDim: featureDim });
  const predicted = predictions(towers, val, dataset.labels, featureDim, hp.batchSize * 4);
  const truth = Array.from(val.labels, (k) => dataset.labels[k]!);
  const macroF1: Partial<Accuracy> = {
    text: classification(truth, predicted.text, dataset.labels).macroF1,
    combined: classification(truth, predicted.combined, dataset.labels).macroF1,
    ...(predicted.image.length > 0 ? { image: classification(predicted.image.map(([t]) => t), predicted.image.map(([, p]) => p), dataset.labels).macroF1 } : {}),
  };

  // Export, then prove ONNX and TF.js agree on real validation rows.
  const exported = exportModels(towers, withImages ? extractor!.model : null, shape);
  const doc = `marketplace-ranking model ${version} (snapshot ${request.snapshotId})`;
  const textOnnx = toOnnx(exported.text, 'text', doc);
  const textClassifierOnnx = toOnnx(exported.textClassifier, 'textClassifier', doc);
  const fusionOnnx = toOnnx(exported.fusion, 'fusion', doc);
  const imageOnnx = exported.image ? toOnnx(exported.image, 'image', doc) : null;
  const probe = makeBatch(val, sequentialBatches(val.labels.length, 8)[0]!, featureDim);
  let maxDiff = await onnxAgreement(exported.text, textOnnx, 'text', [probe.ids, probe.weights]);
  maxDiff = Math.max(maxDiff, await onnxAgreement(exported.textClassifier, textClassifierOnnx, 'textClassifier', [probe.ids, probe.weights]));
  const probeT = tf.tidy(() => towers.text.predict([probe.ids, probe.weights]) as tf.Tensor[]);
  const probeI = withImages ? (towers.image.predict(probe.imageFeatures) as tf.Tensor) : tf.zerosLike(probeT[0]!);
  maxDiff = Math.max(maxDiff, await onnxAgreement(exported.fusion, fusionOnnx, 'fusion', [probeT[0]!, probeI, probeT[1]!, probe.textMask, probe.imageMask]));
  if (imageOnnx && exported.image) {
    const pixels = tf.randomUniform([2, extractor!.inputSize, extractor!.inputSize, 3], 0, 1, 'float32', 7);
    maxDiff = Math.max(maxDiff, await onnxAgreement(exported.image, imageOnnx, 'image', [pixels]));
    pixels.dispose();
  }
  tf.dispose([...probeT, probeI]);
  probe.dispose();
  if (!(maxDiff < ONNX_AGREEMENT)) throw new Error(`ONNX export disagrees with TF.js by ${maxDiff} (limit ${ONNX_AGREEMENT}); the model is not published`);
  log.info({ maxAbsDiff: maxDiff }, 'ONNX export agrees with TF.js');

  const profile = {
    ...buildProfile(
      dataset.train.map(profileRowOf),
      request.snapshotId,
      new Date().toISOString(),
    ),
    embeddings: predicted.embeddings,
  };
  const split: SplitFile = { rule: SPLIT_RULE, val: dataset.val.map((e) => e.id), test: dataset.testIds };
  const files = [
    { name: MODEL_FILES.textEncoder, body: Buffer.from(textOnnx) },
    { name: MODEL_FILES.textClassifier, body: Buffer.from(textClassifierOnnx) },
    { name: MODEL_FILES.fusion, body: Buffer.from(fusionOnnx) },
    ...(imageOnnx ? [{ name: MODEL_FILES.imageEncoder, body: Buffer.from(imageOnnx) }] : []),
    { name: MODEL_FILES.idf, body: featurizer.idfBytes() },
    { name: MODEL_FILES.split, body: Buffer.from(JSON.stringify(split)) },
    { name: MODEL_FILES.profile, body: Buffer.from(JSON.stringify(profile, null, 2)) },
    { name: MODEL_FILES.curves, body: Buffer.from(JSON.stringify(loop.history, null, 2)) },
    { name: MODEL_FILES.curvesHtml, body: Buffer.from(await curvesHtml(version, loop.history, loop.bestEpoch)) },
    ...(await tfjsFiles(towers.text, 'tfjs/text_tower')),
    ...(await tfjsFiles(towers.head, 'tfjs/head')),
    ...(withImages ? await tfjsFiles(towers.image, 'tfjs/image_tower') : []),
  ];
  const metadata: ModelMetadata = {
    snapshotId: request.snapshotId,
    labels: dataset.labels,
    embeddingDim: hp.embeddingDim,
    featurizer: featurizerConfig,
    modalities: { text: true, image: withImages },
    image: withImages ? { backbone: extractor!.id, inputSize: extractor!.inputSize, ...(pretrainingLosses ? { pretrainingLosses } : {}) } : null,
    backend,
    hyperparameters: { ...hp },
    validation: { rows: val.labels.length, accuracy: valuation.accuracy, macroF1 },
    onnxMaxAbsDiff: maxDiff,
    bestEpoch: loop.bestEpoch,
    trainSamplesPerSecond: loop.history.reduce((sum, h) => sum + h.samplesPerSecond, 0) / Math.max(1, loop.history.length),
    trainSeconds: (Date.now() - started) / 1000,
  };
  try {
    await publish(store, key, files, { kind: 'model', version, metadata });
  } catch (error) {
    // Another run of the same version won the race: its model is the same training, use it.
    if (!(error instanceof AlreadyExistsError)) throw error;
  }
  await checkpoints.clear();
  tf.dispose([...towers.text.weights, ...towers.image.weights, ...towers.head.weights].map((w) => w.read()));
  return { version, key, uri: store.uri(key), reused: false, metadata };
}
