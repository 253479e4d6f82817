/**
 * `tsx components/train/pictures-main.ts`: the picture CNN trained on Fashion-MNIST's official training
 * pictures at their real size (28×28), validation the ~11 % whose listing id falls in the product's
 * validation bucket; the official test pictures are never read here (evaluate scores them). Writes to
 * `--out`: `classifier.onnx` and `image_encoder.onnx` (exported from the trained weights, checked
 * against TF.js on the validation pictures), the TF.js weights, `training.json` (the curve, time,
 * samples/s, backend, options). Checkpoints under `--out/checkpoint` let a killed run resume.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createCommand, createLogger, positiveInteger, printSummary, runMain, type Logger } from '../core/platform/index.js';
import { registerWasmFastGrads } from './tfjs-backend/wasm-fast-grads.js';
import { initBackend, BACKENDS, type BackendChoice } from './tfjs-backend/backend.js';
import { buildPictureCnn, type PictureSet } from './picture-cnn.js';
import { trainPictureCnn, type PictureTrainOptions } from './picture-training.js';
import { FASHION_MNIST_DIR, readFashionMnist, splitFashionTrain } from '../core/contracts/index.js';

export interface PictureRunOptions extends PictureTrainOptions {
  data: string;
  out: string;
  limitTrain?: number;
  backend?: BackendChoice;
  dropout?: number;
}

function subset(set: PictureSet, indices: readonly number[]): PictureSet {
  const area = set.size * set.size;
  const pixels = new Uint8Array(indices.length * area);
  const labels = new Uint8Array(indices.length);
  indices.forEach((source, k) => {
    pixels.set(set.pixels.subarray(source * area, (source + 1) * area), k * area);
    labels[k] = set.labels[source]!;
  });
  return { pixels, labels, count: indices.length, size: set.size };
}

export async function trainPictures(options: PictureRunOptions, log: Logger) {
  const backend = await initBackend(log, options.backend);
  if (backend.engine === 'wasm') registerWasmFastGrads();
  const all = await readFashionMnist(options.data, 'train', options.limitTrain);
  const { train: trainIdx, val: valIdx } = splitFashionTrain(all.count);
  const train = subset(all, trainIdx);
  const val = subset(all, valIdx);
  log.info(
    { train: train.count, val: val.count, size: train.size, backend: backend.name },
    'picture CNN: official training pictures, split by listing id',
  );
  const cnn = buildPictureCnn({ size: train.size, classes: 10, dropout: options.dropout });
  await mkdir(options.out, { recursive: true });
  const result = await trainPictureCnn(
    cnn,
    train,
    val,
    { ...options, checkpointDir: options.checkpointDir ?? path.join(options.out, 'checkpoint') },
    log,
  );
  if (result.stopped) return result;
  // Loaded when needed: training (and its checkpoints) never waits on the exporter and ONNX Runtime.
  const { exportPictureModels } = await import('./picture-export.js');
  const exported = await exportPictureModels(cnn, val, options.out, log);
  const record = {
    dataset: 'Fashion-MNIST official training split (validation: listing ids in bucket 8)',
    train: train.count,
    val: val.count,
    size: train.size,
    backend,
    options: {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      seed: options.seed,
      augmentation: options.augmentation,
      dropout: options.dropout,
      timeBudgetSeconds: options.timeBudgetSeconds,
      initFrom: options.initFrom,
    },
    steps: result.steps,
    samples: result.samples,
    parameters: cnn.classifier.countParams(),
    trainingSeconds: result.seconds,
    samplesPerSecond: result.samplesPerSecond,
    curve: result.curve,
    onnx: exported,
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  };
  await writeFile(path.join(options.out, 'training.json'), JSON.stringify(record, null, 2));
  tf.dispose(cnn.classifier.getWeights());
  return record;
}

const program = createCommand('train-pictures', 'Train the picture CNN on Fashion-MNIST (official training split) and export it to ONNX')
  .option('--data <dir>', 'folder of the IDX .gz files', FASHION_MNIST_DIR)
  .requiredOption('--out <dir>', 'where the model, ONNX files and training.json go')
  .option('--epochs <n>', 'epochs', positiveInteger, 6)
  .option('--batch-size <n>', 'batch size', positiveInteger, 64)
  .option('--learning-rate <x>', 'Adam learning rate at the start (cosine decay to 2 %)', Number, 2e-3)
  .option('--seed <n>', 'seed', positiveInteger, 1)
  .option('--no-augment', 'no flips or shifts')
  .option('--limit-train <n>', 'the first n official training pictures only', positiveInteger)
  .option('--time-budget-minutes <x>', 'end training when this much training time is spent (the learning rate decays to it)', Number)
  .option('--dropout <x>', 'dropout rate', Number, 0.2)
  .option('--shift <n>', 'largest random shift in pixels (augmentation)', Number, 2)
  .option('--init-from <dir>', "start from a previous run's checkpoint folder (its weights; this run's rate, epochs and augmentation)")
  .option('--stop-after-steps <n>', 'stop (checkpointed) after n steps: to test resuming', positiveInteger)
  .option('--backend <name>', `one of ${BACKENDS.join(', ')}`)
  .action(
    async (opts: {
      data: string;
      out: string;
      epochs: number;
      batchSize: number;
      learningRate: number;
      seed: number;
      augment: boolean;
      timeBudgetMinutes?: number;
      dropout: number;
      shift: number;
      limitTrain?: number;
      stopAfterSteps?: number;
      initFrom?: string;
      backend?: BackendChoice;
    }) => {
      const log = createLogger('train-pictures');
      const summary = await trainPictures(
        {
          data: opts.data,
          out: opts.out,
          epochs: opts.epochs,
          batchSize: opts.batchSize,
          learningRate: opts.learningRate,
          seed: opts.seed,
          augmentation: opts.augment ? { flip: 0.5, shift: opts.shift } : { flip: 0, shift: 0 },
          timeBudgetSeconds: opts.timeBudgetMinutes ? opts.timeBudgetMinutes * 60 : undefined,
          dropout: opts.dropout,
          limitTrain: opts.limitTrain,
          stopAfterSteps: opts.stopAfterSteps,
          initFrom: opts.initFrom,
          backend: opts.backend,
        },
        log,
      );
      printSummary(summary);
    },
  );

if (import.meta.url === `file://${process.argv[1]}`) await runMain(program);
