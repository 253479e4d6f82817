/**
 * Train's second stage: the towers built for the data's shape, the wide part solved as a linear SVM
 * and frozen, the loop run (early stopping, checkpoints), then the validation split measured per
 * modality (accuracy, macro-F1) and the fused embeddings' statistics for the drift profile.
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/platform/index.js';
import { classification } from '../core/ml/index.js';
import { makeBatch, sequentialBatches, type Encoded } from './batches.js';
import type { Checkpoints } from './checkpoint.js';
import type { PreparedData } from './encode.js';
import type { Accuracy } from './history.js';
import type { Hyperparameters } from './hyperparameters.js';
import { fitLinearSvm, SVM_DEFAULTS } from './linear-svm.js';
import { evaluate, trainLoop, type Evaluation, type LoopResult } from './loop.js';
import { forward } from './losses.js';
import { buildTowers, fuse, wideColumns, wideInputs, type ModelShape, type Towers } from './model/multimodal.js';

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
      const f = forward(
        towers,
        batch,
        { contrastive: 0, temperature: 1, modalityDropout: 0, listingContrastive: 0, listingTemperature: 1 },
        false,
        () => 0,
      );
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

/**
 * Solves the wide part on the training split and freezes it in the text tower: a linear SVM over the
 * roots and, with sub-categories, one over those, side by side in one table.
 */
function freezeSvmWidePart(
  towers: Towers,
  train: Encoded,
  subcategoryLabels: Int32Array | null,
  shape: ModelShape,
  hp: Hyperparameters,
  log: Logger,
): void {
  const started = Date.now();
  const options = { ...SVM_DEFAULTS, c: hp.svmC, seed: hp.seed };
  const inputs = wideInputs(shape);
  const parts = [fitLinearSvm(train.docs, train.labels, shape.classes, inputs, options)];
  if (shape.subcategories && subcategoryLabels)
    parts.push(fitLinearSvm(train.docs, subcategoryLabels, wideColumns(shape) - shape.classes, inputs, options));
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
  log.info(
    { seconds: (Date.now() - started) / 1000, c: hp.svmC, subcategories: columns - shape.classes },
    'wide part: linear SVM solved and frozen',
  );
}

/** Factors of the configured wide scale the validation split chooses from (1: as configured; never 0, which would lose the SVM's argmax). */
const WIDE_FACTORS = [0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2] as const;

/**
 * Temperature scaling of the frozen SVM's logits on the validation split (Guo et al., 2017): the factor
 * of the wide scale whose softmax has the least cross-entropy there. The SVM is solved on the training
 * split, where it can be right for reasons that do not carry over: on the Fashion-MNIST catalogue each
 * listing's text is a unique item number, the SVM learns them by heart, and at the configured scale its
 * confident noise outvoted the pictures in the combined logits (combined accuracy 0.09, image 0.22 on a
 * quick run). Text that does tell the class keeps a factor near 1. The SVM's own argmax is unchanged,
 * so a text-only listing is classified as before.
 */
function calibrateWidePart(towers: Towers, val: Encoded, featureDim: number, hp: Hyperparameters, log: Logger): void {
  if (val.labels.length === 0) return;
  // Summed cross-entropy of softmax(factor · logits) per factor, a validation batch at a time.
  const sums = WIDE_FACTORS.map(() => 0);
  for (const rows of sequentialBatches(val.labels.length, hp.batchSize * 4)) {
    const batch = makeBatch(val, rows, featureDim);
    const wide = tf.tidy(() => (towers.text.apply([batch.ids, batch.weights]) as tf.Tensor[])[1]!);
    const classes = wide.shape[1]!;
    const logits = wide.dataSync();
    wide.dispose();
    batch.dispose();
    rows.forEach((row, n) => {
      const at = (c: number) => logits[n * classes + c]!;
      WIDE_FACTORS.forEach((factor, f) => {
        let max = -Infinity;
        for (let c = 0; c < classes; c++) max = Math.max(max, factor * at(c));
        let z = 0;
        for (let c = 0; c < classes; c++) z += Math.exp(factor * at(c) - max);
        sums[f]! += Math.log(z) + max - factor * at(val.labels[row]!);
      });
    });
  }
  const crossEntropy = (f: number) => sums[f]! / val.labels.length;
  const best = WIDE_FACTORS.reduce((a, _, f) => (crossEntropy(f) < crossEntropy(a) ? f : a), 0);
  const factor = WIDE_FACTORS[best]!;
  log.info(
    { factor, scale: factor * hp.wideScale, crossEntropy: crossEntropy(best), atConfigured: crossEntropy(WIDE_FACTORS.indexOf(1)) },
    'wide part: its logits scaled as the validation split prefers',
  );
  if (factor === 1) return;
  const wide = towers.text.getLayer('text_wide');
  const scaled = wide.getWeights().map((w) => w.mul(factor));
  wide.setWeights(scaled);
  tf.dispose(scaled);
}

export interface FittedModel {
  towers: Towers;
  shape: ModelShape;
  loop: LoopResult;
  valuation: Evaluation;
  /** Fused embeddings' mean and variance on the validation split (for the drift profile). */
  embeddings: ReturnType<typeof predictions>['embeddings'];
  macroF1: Partial<Accuracy>;
}

export async function fitModel(
  data: PreparedData,
  hp: Hyperparameters,
  checkpoints: Checkpoints,
  maxSteps: number | undefined,
  log: Logger,
): Promise<FittedModel> {
  const { dataset, featurizer, train, val, featureDim, subcategories } = data;
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
  calibrateWidePart(towers, val, featureDim, hp, log);
  const loop = await trainLoop(towers, train, val, { ...hp, imageFeatureDim: featureDim, maxSteps }, checkpoints, log);
  const valuation = evaluate(towers, val, { ...hp, imageFeatureDim: featureDim });
  const predicted = predictions(towers, val, dataset.labels, featureDim, hp.batchSize * 4);
  const truth = Array.from(val.labels, (k) => dataset.labels[k]!);
  const macroF1: Partial<Accuracy> = {
    text: classification(truth, predicted.text, dataset.labels).macroF1,
    combined: classification(truth, predicted.combined, dataset.labels).macroF1,
    ...(predicted.image.length > 0
      ? {
          image: classification(
            predicted.image.map(([t]) => t),
            predicted.image.map(([, p]) => p),
            dataset.labels,
          ).macroF1,
        }
      : {}),
  };
  return { towers, shape, loop, valuation, embeddings: predicted.embeddings, macroF1 };
}
