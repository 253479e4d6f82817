/**
 * The train component's work: a pinned snapshot in, a published model folder out
 * (`models/<version>/`, manifest written last; see core/contracts/model-metadata.ts for what it
 * holds), in four stages: prepare the data (encode.ts), fit the model (fit.ts), export and check it
 * (export.ts), publish it (here).
 *
 * The version is a hash of the snapshot id and the hyper-parameters: training the same thing twice
 * finds the published model and stops (a pipeline retry costs nothing), and a crashed run resumes from
 * the checkpoint of the same version.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { AlreadyExistsError, NotFoundError, type ArtifactStore, type Logger } from '../core/platform/index.js';
import {
  buildProfile,
  MODEL_FILES,
  MODEL_PREFIX,
  ModelMetadata,
  openPublished,
  profileRowOf,
  publish,
  type SplitFile,
} from '../core/contracts/index.js';
import { storeCheckpoints } from './checkpoint.js';
import { prepareData, type PreparedData } from './encode.js';
import { exportChecked, tfjsFiles, type CheckedExport } from './export.js';
import { fitModel, type FittedModel } from './fit.js';
import { curvesHtml } from './history.js';
import type { Hyperparameters } from './hyperparameters.js';
import { SPLIT_RULE } from './split.js';
import { initBackend, type BackendChoice, type BackendInfo } from './tfjs-backend/backend.js';
import { registerWasmFastGrads } from './tfjs-backend/wasm-fast-grads.js';

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
  const hash = createHash('sha256')
    .update(JSON.stringify({ snapshotId, hyperparameters, ...(maxSteps ? { maxSteps } : {}) }))
    .digest('hex');
  return `m-${hash.slice(0, 16)}`;
}

export async function trainModel(store: ArtifactStore, request: TrainRequest, log: Logger): Promise<TrainResult> {
  const hp = request.hyperparameters;
  const version = modelVersion(request.snapshotId, hp, request.maxSteps);
  const published = await alreadyTrained(store, version, log);
  if (published) return published;

  const started = Date.now();
  const backend = await initBackend(log, request.backend);
  // The picture CNN's gradient kernels (2.1x its training speed on wasm; docs/fashion-mnist.md).
  if (backend.engine === 'wasm') registerWasmFastGrads();
  const data = await prepareData(store, request.snapshotId, hp, log);
  const checkpoints = storeCheckpoints(store, version);
  const fitted = await fitModel(data, hp, checkpoints, request.maxSteps, log);
  const onnx = await exportChecked(fitted, data, `marketplace-ranking model ${version} (snapshot ${request.snapshotId})`, log);
  const result = await publishModel(store, { version, request, backend, data, fitted, onnx, trainSeconds: (Date.now() - started) / 1000 });
  await checkpoints.clear();
  tf.dispose([...fitted.towers.text.weights, ...fitted.towers.image.weights, ...fitted.towers.head.weights].map((w) => w.read()));
  return result;
}

/** The published model of this version, when a run before this one finished it. */
async function alreadyTrained(store: ArtifactStore, version: string, log: Logger): Promise<TrainResult | null> {
  const key = MODEL_PREFIX(version);
  try {
    const existing = await openPublished(store, key);
    log.info({ model: store.uri(key) }, 'this snapshot and configuration is already trained: nothing to do');
    return { version, key, uri: store.uri(key), reused: true, metadata: ModelMetadata.parse(existing.manifest.metadata) };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return null;
  }
}

interface Trained {
  version: string;
  request: TrainRequest;
  backend: BackendInfo;
  data: PreparedData;
  fitted: FittedModel;
  onnx: CheckedExport;
  trainSeconds: number;
}

/** The last stage: the model folder's files and metadata, published with its manifest last. */
async function publishModel(store: ArtifactStore, trained: Trained): Promise<TrainResult> {
  const { version, request, backend, data, fitted, onnx } = trained;
  const hp = request.hyperparameters;
  const key = MODEL_PREFIX(version);
  const { dataset, featurizer, val, withImages, extractor } = data;
  const { towers, loop } = fitted;
  const profile = {
    ...buildProfile(dataset.train.map(profileRowOf), request.snapshotId, new Date().toISOString()),
    embeddings: fitted.embeddings,
  };
  const split: SplitFile = { rule: SPLIT_RULE, val: dataset.val.map((e) => e.id), test: dataset.testIds };
  const files = [
    { name: MODEL_FILES.textEncoder, body: Buffer.from(onnx.text) },
    { name: MODEL_FILES.textClassifier, body: Buffer.from(onnx.textClassifier) },
    { name: MODEL_FILES.fusion, body: Buffer.from(onnx.fusion) },
    ...(onnx.image ? [{ name: MODEL_FILES.imageEncoder, body: Buffer.from(onnx.image) }] : []),
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
    labelDepth: dataset.labelDepth,
    embeddingDim: hp.embeddingDim,
    featurizer: featurizer.config,
    modalities: { text: true, image: withImages },
    image: withImages
      ? {
          backbone: extractor!.id,
          inputSize: extractor!.inputSize,
          ...(data.pretrainingLosses ? { pretrainingLosses: data.pretrainingLosses } : {}),
        }
      : null,
    backend,
    hyperparameters: { ...hp },
    validation: { rows: val.labels.length, accuracy: fitted.valuation.accuracy, macroF1: fitted.macroF1 },
    onnxMaxAbsDiff: onnx.maxAbsDiff,
    bestEpoch: loop.bestEpoch,
    trainSamplesPerSecond: loop.history.reduce((sum, h) => sum + h.samplesPerSecond, 0) / Math.max(1, loop.history.length),
    trainSeconds: trained.trainSeconds,
  };
  try {
    await publish(store, key, files, { kind: 'model', version, metadata });
  } catch (error) {
    // Another run of the same version won the race: its model is the same training, use it.
    if (!(error instanceof AlreadyExistsError)) throw error;
  }
  return { version, key, uri: store.uri(key), reused: false, metadata };
}
