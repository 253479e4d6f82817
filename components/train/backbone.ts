/**
 * The pretrained image backbone, loaded fully offline.
 *
 * Default: the MobileNetV2 (Keras, 224×224, ImageNet-style weights fine-tuned for nsfwjs's 5-class
 * content filter) that ships inside the npm package nsfwjs 4.4.0 (MIT) as `dist/models/mobilenet_v2/
 * model.min.js` and `group1-shard*.min.js`: CommonJS modules exporting the model JSON and base64
 * weight shards (uint8-quantised; TF.js dequantises them to float32 on load). The feature extractor
 * ends at `flatten_1`, the 1280-d average-pooled activations before nsfwjs's classifier head.
 *
 * Input: [N, 224, 224, 3] float RGB in [0, 1] (pixels / 255, no mean or std). The returned model
 * shares its layers with the cached instance: set `trainable` on it knowingly (freezing it freezes
 * it for every user in this process).
 *
 * A TF.js backend must be ready before loading (`initBackend` in ./tf/backend.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InputError, NotFoundError } from '../core/platform/index.js';

export const BACKBONE_INPUT_SIZE = 224;
export const BACKBONE_FEATURE_DIM = 1280;
/** The layer whose output is the feature vector, in nsfwjs's MobileNetV2 (and its InceptionV3). */
export const BACKBONE_FEATURE_LAYER = 'flatten_1';

const require = createRequire(import.meta.url);

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  trainingConfig?: tf.io.TrainingConfig;
}

/** A CommonJS module by absolute path, dropped from the require cache after (the shards are MBs of base64). */
function requireOnce<T>(file: string): T {
  const resolved = require.resolve(file);
  try {
    const loaded = require(resolved) as T | { default: T };
    return (loaded as { default?: T }).default ?? (loaded as T);
  } finally {
    delete require.cache[resolved];
  }
}

function concat(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((sum, p) => sum + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out.buffer;
}

async function fromArtifacts(json: ModelJson, shards: Uint8Array[]): Promise<tf.LayersModel> {
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: concat(shards),
    format: json.format ?? 'layers-model',
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
  };
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

/** `model` cut at `featureLayer` (inputs unchanged), or `model` itself when no layer is named. */
function featureExtractor(model: tf.LayersModel, featureLayer: string | undefined, name: string): tf.LayersModel {
  if (!featureLayer) return model;
  let layer: tf.layers.Layer;
  try {
    layer = model.getLayer(featureLayer);
  } catch {
    throw new InputError(
      `backbone: the model has no layer '${featureLayer}' (layers end with ${model.layers
        .slice(-5)
        .map((l) => l.name)
        .join(', ')})`,
    );
  }
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor, name });
}

async function loadNsfwjsMobileNet(): Promise<tf.LayersModel> {
  // nsfwjs's package exports do not list the model files; resolve them beside its CommonJS entry.
  const dir = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
  const json = requireOnce<ModelJson>(path.join(dir, 'model.min.js'));
  const shards = json.weightsManifest
    .flatMap((group) => group.paths)
    .map((p) => Buffer.from(requireOnce<string>(path.join(dir, `${p}.min.js`)), 'base64'));
  const full = await fromArtifacts(json, shards);
  const features = featureExtractor(full, BACKBONE_FEATURE_LAYER, 'mobilenet_v2_features');
  const [, h, w, c] = features.inputs[0]!.shape;
  const [, dim] = features.outputs[0]!.shape;
  if (h !== BACKBONE_INPUT_SIZE || w !== BACKBONE_INPUT_SIZE || c !== 3 || dim !== BACKBONE_FEATURE_DIM) {
    throw new Error(`backbone: nsfwjs's mobilenet_v2 has input [${h}, ${w}, ${c}] and ${dim}-d features, expected [224, 224, 3] and 1280`);
  }
  return features;
}

let cached: Promise<tf.LayersModel> | undefined;

/** The pretrained MobileNetV2 feature extractor ([N,224,224,3] in [0,1] → [N,1280]), loaded once per process. */
export function loadMobileNetBackbone(): Promise<tf.LayersModel> {
  if (!cached) {
    cached = loadNsfwjsMobileNet();
    cached.catch(() => (cached = undefined));
  }
  return cached;
}

/** Reads a TF.js LayersModel saved as `model.json` + weight files (a folder, or the model.json path). */
async function loadFromFiles(target: string): Promise<tf.LayersModel> {
  let file = target;
  try {
    if ((await stat(target)).isDirectory()) file = path.join(target, 'model.json');
  } catch {
    throw new NotFoundError(`backbone: ${target} does not exist`);
  }
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as ModelJson;
  } catch (error) {
    throw new InputError(`backbone: ${file} is not a TF.js model.json (${(error as Error).message})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest))
    throw new InputError(`backbone: ${file} is not a TF.js LayersModel (no modelTopology / weightsManifest)`);
  const dir = path.dirname(file);
  const shards = await Promise.all(
    json.weightsManifest.flatMap((group) => group.paths).map(async (p) => new Uint8Array(await readFile(path.join(dir, p)))),
  );
  return fromArtifacts(json, shards);
}

/**
 * A user-provided TF.js LayersModel as the backbone: a folder holding `model.json` and its weight
 * files, the path of a model.json, a file: URL, or an http(s) URL of a model.json. With
 * `featureLayer` the model is cut at that layer's output; without, its own output is the feature.
 */
export async function loadBackboneFrom(pathOrUrl: string, featureLayer?: string): Promise<tf.LayersModel> {
  const model = /^https?:\/\//i.test(pathOrUrl)
    ? await tf.loadLayersModel(pathOrUrl)
    : await loadFromFiles(pathOrUrl.startsWith('file:') ? fileURLToPath(pathOrUrl) : pathOrUrl);
  if (model.inputs.length !== 1 || model.inputs[0]!.shape.length !== 4) {
    throw new InputError(
      `backbone: ${pathOrUrl} takes ${model.inputs.length} input(s) of shape [${model.inputs[0]?.shape.join(', ')}]; a backbone takes one [N, H, W, 3] image batch`,
    );
  }
  const features = featureExtractor(model, featureLayer, `${model.name}_features`);
  if (features.outputs.length !== 1 || features.outputs[0]!.shape.length !== 2) {
    throw new InputError(
      `backbone: the features of ${pathOrUrl} have shape [${features.outputs[0]?.shape.join(', ')}]; name a feature layer with a flat [N, D] output`,
    );
  }
  return features;
}
