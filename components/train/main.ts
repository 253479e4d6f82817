/**
 * `npm run train`: trains the multimodal model on a pinned snapshot and publishes `models/<version>/`.
 * Prints one JSON line: {"model": "<uri>", "version", "backend", "accuracy": {"image", "text",
 * "combined"}, "macroF1": {…}} (validation split). `--quick` trains a small configuration for smoke runs.
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, Option } from 'commander';
import { createCommand, positiveInteger, printSummary, runMain, withStore, writeOutputFile } from '../core/platform/index.js';
import { snapshotIdFrom } from '../core/contracts/index.js';
import { BACKENDS, type BackendChoice } from './tfjs-backend/backend.js';
import { DEFAULTS, QUICK, type Hyperparameters } from './hyperparameters.js';
import { trainModel } from './train.js';

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0) || !Number.isFinite(parsed)) throw new InvalidArgumentError(`'${value}' is not a positive number.`);
  return parsed;
}

function nonNegativeNumber(value: string): number {
  const parsed = Number(value);
  if (!(parsed >= 0) || !Number.isFinite(parsed)) throw new InvalidArgumentError(`'${value}' is not a number ≥ 0.`);
  return parsed;
}

function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`'${value}' is not an integer ≥ 0.`);
  return parsed;
}

function share(value: string): number {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed < 1)) throw new InvalidArgumentError(`'${value}' is not a number in [0, 1).`);
  return parsed;
}

function onOff(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError(`'${value}' is not true or false.`);
}

function powerOfTwo(value: string): number {
  const parsed = positiveInteger(value);
  if ((parsed & (parsed - 1)) !== 0 || parsed < 256) throw new InvalidArgumentError(`'${value}' is not a power of two ≥ 256.`);
  return parsed;
}

interface TrainOptions extends Partial<Hyperparameters> {
  snapshot: string;
  quick?: boolean;
  backend?: BackendChoice;
  model?: string;
  curves?: string;
  maxSteps?: number;
}

export function trainCommand() {
  return createCommand(
    'train',
    'Train the multimodal search model (text + image towers, fused embedding) on a catalogue snapshot and publish it with its ONNX encoders.',
  )
    .requiredOption('--snapshot <id|file>', 'the snapshot to train on: its id (snap-…) or the snapshot.json the snapshot step wrote')
    .option(
      '--quick [on]',
      `a small configuration for smoke runs (${Object.entries(QUICK)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); --quick false turns it off (a pipeline passes the value)`,
      onOff,
    )
    .option('--epochs <n>', 'most epochs (early stopping may end sooner)', positiveInteger)
    .option('--batch-size <n>', 'examples per step', positiveInteger)
    .option('--learning-rate <x>', 'Adam learning rate', positiveNumber)
    .option('--patience <n>', 'epochs without a better validation loss before stopping', positiveInteger)
    .option('--seed <n>', 'seed of the shuffles and modality dropout', positiveInteger)
    .option('--buckets <n>', 'hash buckets of the text features (a power of two)', powerOfTwo)
    .option('--text-dim <n>', 'width of the text bag', positiveInteger)
    .option('--embedding-dim <n>', 'width of the shared embedding', positiveInteger)
    .option('--dropout <x>', 'dropout rate', share)
    .option('--contrastive <x>', 'weight of the image-text InfoNCE loss', (v) => Number(v))
    .option('--svm-c <x>', 'C of the linear SVM', positiveNumber)
    .option('--wide-scale <x>', 'factor from SVM decision values to logits', positiveNumber)
    .option('--subcategory-weight <x>', "weight of a root's best sub-category score in its text logits (0: roots only)", nonNegativeNumber)
    .option(
      '--sentence-weight <x>',
      'norm of the pretrained sentence vector (Universal Sentence Encoder lite) among the text features; 0: none',
      nonNegativeNumber,
    )
    .option('--sentence-tokens <n>', 'SentencePiece tokens of each text the sentence encoder reads', positiveInteger)
    .option(
      '--listing-contrastive <x>',
      'weight of the listing-contrastive loss on text alone (a title against its listing; 0: off)',
      nonNegativeNumber,
    )
    .option('--listing-temperature <x>', 'temperature of the listing-contrastive loss', positiveNumber)
    .option('--listing-hard-negatives <n>', 'hard negatives per listing (other listings of its sub-category)', nonNegativeInteger)
    .option('--listing-span-share <x>', 'share of listings whose query view is a 2–6 word span of their text instead of their title', share)
    .option(
      '--sample <n>',
      'train on a deterministic sample of this many products (with as many validation products as an eighth of it, at least 50); 0: the configuration’s own (all, or --quick’s)',
      nonNegativeInteger,
    )
    .addOption(
      new Option(
        '--image-backbone <name>',
        'image feature extractor: mobilenet_v2 (pretrained, frozen), scratch (the picture CNN trained here first, at the pictures’ own size), none (text only), auto (scratch for pictures under 64 px a side, else mobilenet_v2; the default)',
      ).choices(['auto', 'mobilenet_v2', 'scratch', 'none']),
    )
    .option('--scratch-epochs <n>', 'epochs of the picture CNN’s own training (with the scratch backbone)', positiveInteger)
    .addOption(new Option('--backend <name>', 'TF.js backend (default: the best available)').choices([...BACKENDS]))
    .option('--max-steps <n>', 'stop after this many optimiser steps (smoke tests)', positiveInteger)
    .option('--model <file>', 'write the model pointer (JSON: version, key, uri) here (a pipeline output)')
    .option('--curves <file>', 'write the training curves (HTML) here (a pipeline output)')
    .action(async (options: TrainOptions) => {
      const snapshotId = await snapshotIdFrom(options.snapshot);
      const chosen = Object.fromEntries(
        Object.keys(DEFAULTS)
          .filter((k) => options[k as keyof Hyperparameters] !== undefined)
          .map((k) => [k, options[k as keyof Hyperparameters]]),
      );
      // Options given on the command line win over the quick configuration, which wins over the defaults.
      const hyperparameters: Hyperparameters = {
        ...DEFAULTS,
        ...(options.quick ? QUICK : {}),
        ...chosen,
        ...(options.sample ? { sample: options.sample } : {}),
      };
      const result = await withStore('train', async ({ store, log }) => {
        const trained = await trainModel(store, { snapshotId, hyperparameters, backend: options.backend, maxSteps: options.maxSteps }, log);
        const curves = options.curves ? (await store.get(`${trained.key}/curves.html`)).toString('utf8') : undefined;
        return { ...trained, curves };
      });
      await writeOutputFile(options.model, JSON.stringify({ version: result.version, key: result.key, uri: result.uri }));
      if (result.curves !== undefined) await writeOutputFile(options.curves, result.curves);
      const { metadata } = result;
      printSummary({
        model: result.uri,
        version: result.version,
        reused: result.reused,
        snapshot: snapshotId,
        backend: metadata.backend.name,
        modalities: metadata.modalities,
        accuracy: metadata.validation.accuracy,
        macroF1: metadata.validation.macroF1,
        validationRows: metadata.validation.rows,
        bestEpoch: metadata.bestEpoch,
        samplesPerSecond: Math.round(metadata.trainSamplesPerSecond * 10) / 10,
        trainSeconds: Math.round(metadata.trainSeconds),
      });
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(trainCommand());
