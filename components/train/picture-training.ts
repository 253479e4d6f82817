/**
 * Trains the picture CNN (picture-cnn.ts) on pictures held as bytes: seeded shuffles, augmentation,
 * Adam with a cosine learning-rate decay over the planned steps, progress with loss, samples/s and ETA,
 * validation accuracy after each epoch, and a checkpoint (model and optimizer weights, the curve so far)
 * every `checkpointSteps` steps and at each epoch's end, from which a killed run resumes where it stopped:
 * each epoch's order and each batch's augmentation are drawn from seeds of their own, so a resumed run
 * sees the batches the uninterrupted one would have.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { InputError, NotFoundError, seededRandom, type Logger } from '../core/platform/index.js';
import { fillBatch, NO_AUGMENTATION, type Augmentation, type PictureSet, type PictureCnn } from './picture-cnn.js';

export interface PictureTrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  augmentation: Augmentation;
  /** Where checkpoints go (and are resumed from); none: no checkpoints. */
  checkpointDir?: string;
  checkpointSteps?: number;
  /** Stop after this many steps in this process (a test's way to simulate a kill). */
  stopAfterSteps?: number;
  /**
   * A training-time budget in seconds: the learning rate decays over whichever of the planned steps and
   * the budget runs out first, and training ends when the budget is spent (with a last validation). On
   * a shared machine whose speed swings 5x within minutes, a step count alone cannot be planned.
   */
  timeBudgetSeconds?: number;
  /**
   * A previous run's checkpoint folder whose model weights (not its optimizer state or schedule) this
   * run starts from: a second phase with its own rate, epochs and augmentation, for example fine-tuning
   * on unshifted pictures at a low rate after a run with shifts.
   */
  initFrom?: string;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface PictureTrainResult {
  curve: EpochRecord[];
  /** Seconds spent training in this and earlier (resumed) processes. */
  seconds: number;
  /** Training samples per second over the whole run (steps × batch / seconds). */
  samplesPerSecond: number;
  /** True when the run stopped early (stopAfterSteps) with epochs left. */
  stopped: boolean;
  resumedFromStep: number;
  steps?: number;
  samples?: number;
}

const CheckpointState = z.object({
  fingerprint: z.string(),
  step: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  curve: z.array(
    z.object({
      epoch: z.number(),
      loss: z.number(),
      trainAccuracy: z.number(),
      valAccuracy: z.number(),
      seconds: z.number(),
      samplesPerSecond: z.number(),
    }),
  ),
  epochLoss: z.number(),
  epochCorrect: z.number(),
  epochSeen: z.number(),
  epochSeconds: z.number(),
  weights: z.array(z.object({ shape: z.array(z.number().int()) })),
  optimizer: z.array(z.object({ name: z.string(), shape: z.array(z.number().int()) })),
});
type CheckpointState = z.infer<typeof CheckpointState>;

/** A number from a seed and two counters, for per-epoch and per-batch random streams. */
function subSeed(seed: number, a: number, b: number): number {
  return createHash('sha256').update(`${seed}:${a}:${b}`).digest().readUInt32BE(0);
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Class probabilities of every picture of `set`, in batches: [count × classes]. */
export async function predictPictures(model: tf.LayersModel, set: PictureSet, batchSize = 256): Promise<Float32Array> {
  const outDim = (model.outputs[0]!.shape[1] as number) ?? 0;
  const result = new Float32Array(set.count * outDim);
  const buffer = new Float32Array(batchSize * set.size * set.size * 3);
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const indices = Array.from({ length: n }, (_, k) => start + k);
    fillBatch(set, indices, buffer, NO_AUGMENTATION);
    const values = tf.tidy(() => {
      const x = tf.tensor4d(buffer.subarray(0, n * set.size * set.size * 3), [n, set.size, set.size, 3]);
      return model.predict(x) as tf.Tensor;
    });
    result.set(await values.data(), start * outDim);
    values.dispose();
  }
  return result;
}

export function argmaxRows(values: Float32Array, width: number): Uint8Array {
  const rows = values.length / width;
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (values[r * width + c]! > values[r * width + best]!) best = c;
    out[r] = best;
  }
  return out;
}

export function accuracyOf(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return labels.length ? correct / labels.length : 0;
}

async function saveCheckpoint(
  dir: string,
  cnn: PictureCnn,
  optimizer: tf.Optimizer,
  state: Omit<CheckpointState, 'weights' | 'optimizer'>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weights = cnn.classifier.getWeights();
  const optimizerWeights = await optimizer.getWeights();
  const arrays = [...weights.map((w) => w.dataSync() as Float32Array), ...optimizerWeights.map((w) => w.tensor.dataSync() as Float32Array)];
  const total = arrays.reduce((sum, a) => sum + a.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    all.set(a, offset);
    offset += a.length;
  }
  const full: CheckpointState = {
    ...state,
    weights: weights.map((w) => ({ shape: w.shape })),
    optimizer: optimizerWeights.map((w) => ({ name: w.name, shape: w.tensor.shape })),
  };
  // Weights first, state last, each by rename: a kill leaves the previous checkpoint or this one whole.
  await writeFile(path.join(dir, 'weights.bin.tmp'), Buffer.from(all.buffer, all.byteOffset, all.byteLength));
  await writeFile(path.join(dir, 'state.json.tmp'), JSON.stringify(full));
  await rename(path.join(dir, 'weights.bin.tmp'), path.join(dir, 'weights.bin'));
  await rename(path.join(dir, 'state.json.tmp'), path.join(dir, 'state.json'));
}

/**
 * A checkpoint's state and a reader of its arrays in the order saved (model weights, then optimizer
 * slots); null when `dir` holds none.
 */
async function readCheckpoint(dir: string): Promise<{ state: CheckpointState; take: (shape: number[]) => tf.Tensor } | null> {
  let state: CheckpointState;
  let bytes: Buffer;
  try {
    state = CheckpointState.parse(JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')));
    bytes = await readFile(path.join(dir, 'weights.bin'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let offset = 0;
  const take = (shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(all.subarray(offset, offset + size), shape);
    offset += size;
    return t;
  };
  return { state, take };
}

async function loadCheckpoint(dir: string, fingerprint: string, cnn: PictureCnn, optimizer: tf.Optimizer): Promise<CheckpointState | null> {
  const checkpoint = await readCheckpoint(dir);
  if (!checkpoint || checkpoint.state.fingerprint !== fingerprint) return null;
  const { state, take } = checkpoint;
  const weights = state.weights.map((w) => take(w.shape));
  cnn.classifier.setWeights(weights);
  tf.dispose(weights);
  const optimizerWeights = state.optimizer.map((w) => ({ name: w.name, tensor: take(w.shape) }));
  await optimizer.setWeights(optimizerWeights);
  return state;
}

/** What a checkpoint must match to be resumed: the options that change what is trained. */
function fingerprintOf(train: PictureSet, options: PictureTrainOptions, initFrom: CheckpointState | null): string {
  const { epochs, batchSize, learningRate, seed, augmentation, timeBudgetSeconds } = options;
  const init = initFrom ? { fingerprint: initFrom.fingerprint, step: initFrom.step } : null;
  return createHash('sha256')
    .update(
      JSON.stringify({
        epochs,
        batchSize,
        learningRate,
        seed,
        augmentation,
        timeBudgetSeconds,
        count: train.count,
        size: train.size,
        init,
      }),
    )
    .digest('hex')
    .slice(0, 16);
}

export async function trainPictureCnn(
  cnn: PictureCnn,
  train: PictureSet,
  val: PictureSet,
  options: PictureTrainOptions,
  log: Logger,
): Promise<PictureTrainResult> {
  const { batchSize, epochs } = options;
  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const optimizer = tf.train.adam(options.learningRate);
  cnn.classifier.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const initFrom = options.initFrom ? await loadInitialWeights(options.initFrom, cnn) : null;
  if (initFrom)
    log.info(
      { from: options.initFrom, step: initFrom.step, valAccuracy: initFrom.curve.at(-1)?.valAccuracy },
      'picture CNN: starting from a previous run',
    );
  const fingerprint = fingerprintOf(train, options, initFrom);
  const checkpointSteps = options.checkpointSteps ?? 200;
  let step = 0;
  let seconds = 0;
  let curve: EpochRecord[] = [];
  let epochLoss = 0;
  let epochCorrect = 0;
  let epochSeen = 0;
  let epochSeconds = 0;
  if (options.checkpointDir) {
    // The optimizer's slots exist only after a first update: make them with a zero-rate step, then overwrite.
    const restored = await (async () => {
      const probe = await loadCheckpointShapes(options.checkpointDir!, fingerprint);
      if (!probe) return null;
      await warmOptimizer(cnn, optimizer, train);
      return loadCheckpoint(options.checkpointDir!, fingerprint, cnn, optimizer);
    })();
    if (restored) {
      ({ step, seconds, curve, epochLoss, epochCorrect, epochSeen, epochSeconds } = restored);
      log.info(
        { step, epoch: Math.floor(step / stepsPerEpoch) + 1, checkpoint: options.checkpointDir },
        'picture CNN: resumed from checkpoint',
      );
    }
  }
  const resumedFromStep = step;
  const budget = options.timeBudgetSeconds ?? Infinity;
  const setRate = (s: number) => {
    // Cosine decay over the planned steps (or the time budget, whichever is nearer its end), from the given rate to 2% of it.
    const progress = Math.min(1, Math.max(s / totalSteps, seconds / budget));
    const rate = options.learningRate * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    (optimizer as unknown as { learningRate: number }).learningRate = rate;
  };
  const area = train.size * train.size * 3;
  const buffer = new Float32Array(batchSize * area);
  let stepsThisProcess = 0;
  let lastLog = Date.now();
  while (step < totalSteps) {
    const epoch = Math.floor(step / stepsPerEpoch) + 1;
    const order = permutation(train.count, subSeed(options.seed, epoch, 0));
    const within = step % stepsPerEpoch;
    const start = within * batchSize;
    const indices = order.subarray(start, Math.min(train.count, start + batchSize));
    fillBatch(train, indices, buffer, options.augmentation, seededRandom(subSeed(options.seed, epoch, within + 1)));
    setRate(step);
    const started = performance.now();
    const labels = new Float32Array(indices.length);
    for (let k = 0; k < indices.length; k++) labels[k] = train.labels[indices[k]!]!;
    const x = tf.tensor4d(buffer.subarray(0, indices.length * area), [indices.length, train.size, train.size, 3]);
    const y = tf.tensor1d(labels, 'float32');
    const [loss, accuracy] = (await cnn.classifier.trainOnBatch(x, y)) as number[];
    tf.dispose([x, y]);
    const elapsed = (performance.now() - started) / 1000;
    seconds += elapsed;
    epochSeconds += elapsed;
    epochLoss += loss! * indices.length;
    epochCorrect += accuracy! * indices.length;
    epochSeen += indices.length;
    step++;
    stepsThisProcess++;
    if (Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      const rate = epochSeen / epochSeconds;
      log.info(
        {
          epoch,
          step,
          of: totalSteps,
          loss: epochLoss / epochSeen,
          samplesPerSecond: Math.round(rate),
          etaMinutes: Math.round(((totalSteps - step) * batchSize) / rate / 60),
        },
        'picture CNN training',
      );
    }
    const outOfTime = seconds >= budget && step < totalSteps;
    const epochDone = step % stepsPerEpoch === 0 || outOfTime;
    if (epochDone) {
      const valAccuracy = accuracyOf(
        argmaxRows(await predictPictures(cnn.classifier, val), cnn.classifier.outputs[0]!.shape[1] as number),
        val.labels,
      );
      const record: EpochRecord = {
        epoch,
        loss: epochLoss / epochSeen,
        trainAccuracy: epochCorrect / epochSeen,
        valAccuracy,
        seconds: epochSeconds,
        samplesPerSecond: epochSeen / epochSeconds,
      };
      curve.push(record);
      log.info(record, `picture CNN epoch ${epoch}/${epochs}`);
      epochLoss = 0;
      epochCorrect = 0;
      epochSeen = 0;
      epochSeconds = 0;
    }
    const stopping = options.stopAfterSteps !== undefined && stepsThisProcess >= options.stopAfterSteps && step < totalSteps;
    if (options.checkpointDir && (epochDone || step % checkpointSteps === 0 || stopping)) {
      await saveCheckpoint(options.checkpointDir, cnn, optimizer, {
        fingerprint,
        step,
        seconds,
        curve,
        epochLoss,
        epochCorrect,
        epochSeen,
        epochSeconds,
      });
    }
    if (stopping) return { curve, seconds, samplesPerSecond: (step * batchSize) / seconds, stopped: true, resumedFromStep };
    if (outOfTime) {
      log.info({ step, of: totalSteps, seconds }, 'picture CNN: time budget spent');
      break;
    }
  }
  const samples = (step - Math.floor(step / stepsPerEpoch) * stepsPerEpoch) * batchSize + Math.floor(step / stepsPerEpoch) * train.count;
  return {
    curve,
    seconds,
    samplesPerSecond: Math.min(samples, step * batchSize) / seconds,
    stopped: false,
    resumedFromStep,
    steps: step,
    samples,
  };
}

/** Sets `cnn`'s weights from the checkpoint in `dir` (refusing one of another shape); returns its state. */
async function loadInitialWeights(dir: string, cnn: PictureCnn): Promise<CheckpointState> {
  let checkpoint: Awaited<ReturnType<typeof readCheckpoint>>;
  try {
    checkpoint = await readCheckpoint(dir);
  } catch (error) {
    throw new InputError(`--init-from: ${dir} is not a picture CNN checkpoint (${(error as Error).message})`);
  }
  if (!checkpoint) throw new NotFoundError(`--init-from: ${dir} holds no checkpoint (state.json and weights.bin)`);
  const { state, take } = checkpoint;
  const want = cnn.classifier.getWeights().map((w) => w.shape.join('x'));
  const got = state.weights.map((w) => w.shape.join('x'));
  if (want.join(',') !== got.join(','))
    throw new InputError(`--init-from: ${dir} holds weights [${got.join(', ')}], this network has [${want.join(', ')}]`);
  const weights = state.weights.map((w) => take(w.shape));
  cnn.classifier.setWeights(weights);
  tf.dispose(weights);
  return state;
}

async function loadCheckpointShapes(dir: string, fingerprint: string): Promise<boolean> {
  try {
    const state = CheckpointState.parse(JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')));
    return state.fingerprint === fingerprint;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** One update at learning rate 0 so Adam has made its slot variables (their values are then replaced). */
async function warmOptimizer(cnn: PictureCnn, optimizer: tf.Optimizer, train: PictureSet): Promise<void> {
  (optimizer as unknown as { learningRate: number }).learningRate = 0;
  const buffer = fillBatch(train, [0], new Float32Array(train.size * train.size * 3));
  const x = tf.tensor4d(buffer, [1, train.size, train.size, 3]);
  const y = tf.tensor1d([train.labels[0]!], 'float32');
  // Batch statistics of one picture would move the moving averages: save and restore every weight.
  const before = cnn.classifier.getWeights().map((w) => w.clone());
  await cnn.classifier.trainOnBatch(x, y);
  cnn.classifier.setWeights(before);
  tf.dispose([x, y, ...before]);
}
