/**
 * The training loop: seeded epochs of length-bucketed batches, Adam, validation after each epoch,
 * early stopping on validation loss (the best weights restored at the end: tfjs's earlyStopping
 * callback cannot), a checkpoint after each epoch to resume from, and progress lines on stderr.
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom, type Logger } from '../core/platform/index.js';
import { padBatch, type SparseDoc } from '../core/ml/index.js';
import { epochBatches, makeBatch, sequentialBatches, type Encoded } from './batches.js';
import type { Checkpoints } from './checkpoint.js';
import type { Accuracy, EpochRecord, KnownItem } from './history.js';
import { forward, type LossWeights } from './losses.js';
import { trainableWeights, type Towers } from './model/multimodal.js';

export interface LoopOptions extends LossWeights {
  epochs: number;
  batchSize: number;
  learningRate: number;
  patience: number;
  seed: number;
  imageFeatureDim: number;
  /** Hard negatives per row for the listing-contrastive term (other listings of its sub-category). */
  listingHardNegatives: number;
  /** Chance that a row's query view is a short span of its words rather than its title (training only). */
  listingSpanShare: number;
  /** Stop after this many batches in total (for smoke tests of the loop itself). */
  maxSteps?: number;
}

export interface LoopResult {
  history: EpochRecord[];
  bestEpoch: number;
  stoppedEarly: boolean;
  resumedFrom: number | null;
}

export interface Evaluation {
  loss: number;
  accuracy: Accuracy;
}

const argmaxEquals = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.equal(tf.argMax(logits, 1), labels);

/**
 * Loss and accuracy per modality on a split, without dropout. The listing-contrastive term is scored
 * on title queries only (what the service is asked), with hard negatives drawn by a fixed seed, so
 * that the validation loss of one epoch compares with the next.
 */
export function evaluate(
  towers: Towers,
  data: Encoded,
  options: Pick<LoopOptions, 'batchSize' | 'imageFeatureDim' | 'listingHardNegatives'> & LossWeights,
): Evaluation {
  let loss = 0;
  const hits = { text: 0, image: 0, combined: 0 };
  const counts = { text: 0, image: 0, combined: 0 };
  const draw = { hardNegatives: options.listingHardNegatives, spanShare: 0, random: seededRandom(17) };
  for (const rows of sequentialBatches(data.labels.length, options.batchSize * 4)) {
    const batch = makeBatch(data, rows, options.imageFeatureDim, draw);
    tf.tidy(() => {
      const out = forward(towers, batch, { ...options, modalityDropout: 0 }, false, () => 0);
      loss += out.loss.dataSync()[0]! * batch.size;
      const textMask = batch.textMask.reshape([-1]);
      hits.text += tf.sum(tf.mul(tf.cast(argmaxEquals(out.textLogits, batch.labels), 'float32'), textMask)).dataSync()[0]!;
      counts.text += tf.sum(textMask).dataSync()[0]!;
      if (out.imageLogits) {
        const imageMask = batch.imageMask.reshape([-1]);
        hits.image += tf.sum(tf.mul(tf.cast(argmaxEquals(out.imageLogits, batch.labels), 'float32'), imageMask)).dataSync()[0]!;
        counts.image += tf.sum(imageMask).dataSync()[0]!;
      }
      hits.combined += tf.sum(tf.cast(argmaxEquals(out.fusedLogits, batch.labels), 'float32')).dataSync()[0]!;
      counts.combined += batch.size;
    });
    batch.dispose();
  }
  const share = (key: keyof typeof hits) => (counts[key] > 0 ? hits[key] / counts[key] : null);
  return {
    loss: loss / Math.max(1, data.labels.length),
    accuracy: { text: share('text'), image: share('image'), combined: share('combined') ?? 0 },
  };
}

/** Text embeddings of sparse docs (the text tower's embedding, no dropout), n × E. */
export function embedDocs(towers: Towers, docs: readonly SparseDoc[], batchSize: number): Float32Array {
  const dim = towers.textEmbedding.outputs[0]!.shape[1]!;
  const out = new Float32Array(docs.length * dim);
  for (let start = 0; start < docs.length; start += batchSize) {
    const part = docs.slice(start, start + batchSize);
    const padded = padBatch(part);
    const embedded = tf.tidy(
      () =>
        towers.textEmbedding.predict([
          tf.tensor2d(padded.ids, [part.length, padded.length], 'int32'),
          tf.tensor2d(padded.weights, [part.length, padded.length]),
        ]) as tf.Tensor,
    );
    out.set(embedded.dataSync(), start * dim);
    embedded.dispose();
  }
  return out;
}

/**
 * Known-item retrieval within a split: each listing's title (featurised as a query) against every
 * listing of the split (full text and fields) by inner product; the share found first and in the top
 * 10 (a tie counts for the listing). Null without listing views. A cheap, relative signal: the real
 * figure (evaluate) searches the whole catalogue.
 */
export function knownItemRecall(towers: Towers, data: Encoded, batchSize: number): KnownItem | null {
  const views = data.listing;
  if (!views) return null;
  const dim = towers.textEmbedding.outputs[0]!.shape[1]!;
  const listings = embedDocs(towers, data.docs, batchSize);
  const queries = embedDocs(towers, views.titles, batchSize);
  const n = data.docs.length;
  let at1 = 0;
  let at10 = 0;
  let asked = 0;
  for (let q = 0; q < n; q++) {
    if (views.titles[q]!.ids.length === 0) continue;
    asked++;
    const score = (j: number) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += queries[q * dim + d]! * listings[j * dim + d]!;
      return s;
    };
    const own = score(q);
    let rank = 1;
    for (let j = 0; j < n && rank <= 10; j++) if (j !== q && score(j) > own) rank++;
    if (rank === 1) at1++;
    if (rank <= 10) at10++;
  }
  return asked > 0 ? { at1: at1 / asked, at10: at10 / asked } : null;
}

export async function trainLoop(
  towers: Towers,
  train: Encoded,
  val: Encoded,
  options: LoopOptions,
  checkpoints: Checkpoints,
  log: Logger,
): Promise<LoopResult> {
  const withImages = train.images.some((image) => image !== null);
  const variables = trainableWeights(towers, withImages);
  const optimizer = tf.train.adam(options.learningRate);
  const history: EpochRecord[] = [];
  let best = { loss: Infinity, epoch: 0 };
  let bestWeights: tf.Tensor[] | null = null;
  let firstEpoch = 1;
  let resumedFrom: number | null = null;

  const resumed = await checkpoints.load();
  if (resumed) {
    await restore(variables, resumed.weights);
    if (resumed.optimizer.length > 0) await optimizer.setWeights(resumed.optimizer.map((tensor, k) => ({ name: `w${k}`, tensor })));
    history.push(...resumed.state.history);
    best = { loss: resumed.state.bestLoss, epoch: resumed.state.bestEpoch };
    bestWeights = resumed.best;
    firstEpoch = resumed.state.epoch + 1;
    resumedFrom = resumed.state.epoch;
    log.info({ epoch: resumed.state.epoch, bestEpoch: best.epoch }, 'resuming from checkpoint');
  }

  let steps = 0;
  let stoppedEarly = false;
  for (let epoch = firstEpoch; epoch <= options.epochs; epoch++) {
    if (epoch - best.epoch > options.patience && best.epoch > 0) {
      stoppedEarly = true;
      break;
    }
    const batches = epochBatches(train, options.batchSize, options.seed * 1000 + epoch);
    const random = seededRandom(options.seed * 7919 + epoch);
    const draw = {
      hardNegatives: options.listingHardNegatives,
      spanShare: options.listingSpanShare,
      random: seededRandom(options.seed * 104729 + epoch),
    };
    const started = Date.now();
    let lastLog = started;
    let lossSum = 0;
    let seen = 0;
    for (const [k, rows] of batches.entries()) {
      const batch = makeBatch(train, rows, options.imageFeatureDim, options.listingContrastive > 0 ? draw : undefined);
      const cost = optimizer.minimize(() => forward(towers, batch, options, true, random).loss, true, variables);
      lossSum += cost!.dataSync()[0]! * batch.size;
      seen += batch.size;
      cost!.dispose();
      batch.dispose();
      steps++;
      const now = Date.now();
      if (now - lastLog > 5000) {
        lastLog = now;
        const rate = seen / ((now - started) / 1000);
        const remaining = train.labels.length - seen;
        log.info(
          {
            epoch,
            batch: k + 1,
            batches: batches.length,
            loss: round(lossSum / seen),
            samplesPerSecond: round(rate, 1),
            etaSeconds: Math.round(remaining / rate),
          },
          `epoch ${epoch}/${options.epochs}: batch ${k + 1}/${batches.length}`,
        );
      }
      if (options.maxSteps !== undefined && steps >= options.maxSteps) break;
    }
    const seconds = (Date.now() - started) / 1000;
    const valuation = evaluate(towers, val, options);
    const knownItem = options.listingContrastive > 0 ? knownItemRecall(towers, val, options.batchSize * 4) : null;
    const record: EpochRecord = {
      epoch,
      trainLoss: lossSum / Math.max(1, seen),
      valLoss: valuation.loss,
      valAccuracy: valuation.accuracy,
      samplesPerSecond: seen / Math.max(seconds, 1e-3),
      seconds,
      ...(knownItem ? { valKnownItem: knownItem } : {}),
    };
    history.push(record);
    log.info(
      {
        ...record,
        trainLoss: round(record.trainLoss),
        valLoss: round(record.valLoss),
        samplesPerSecond: round(record.samplesPerSecond, 1),
      },
      `epoch ${epoch}/${options.epochs} done`,
    );
    if (valuation.loss < best.loss) {
      best = { loss: valuation.loss, epoch };
      tf.dispose(bestWeights ?? []);
      bestWeights = variables.map((variable) => variable.clone());
    }
    const optimizerWeights = (await optimizer.getWeights()).map((named) => named.tensor);
    await checkpoints.save({
      state: { epoch, bestEpoch: best.epoch, bestLoss: best.loss, history },
      weights: variables,
      optimizer: optimizerWeights,
      best: bestWeights,
      bestChanged: best.epoch === epoch,
    });
    if (options.maxSteps !== undefined && steps >= options.maxSteps) break;
  }
  if (bestWeights) await restore(variables, bestWeights);
  tf.dispose(bestWeights ?? []);
  optimizer.dispose();
  return { history, bestEpoch: best.epoch, stoppedEarly, resumedFrom };
}

async function restore(variables: tf.Variable[], values: readonly tf.Tensor[]): Promise<void> {
  if (values.length !== variables.length)
    throw new Error(
      `checkpoint has ${values.length} weights, the model ${variables.length}: was it written by another model configuration?`,
    );
  variables.forEach((variable, k) => {
    const value = values[k]!;
    if (value.shape.join('x') !== variable.shape.join('x'))
      throw new Error(`checkpoint weight ${k} has shape ${value.shape}, the model's ${variable.name} ${variable.shape}`);
    variable.assign(value);
  });
}

const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;
