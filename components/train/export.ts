/**
 * The trained towers as serving artifacts: TF.js models (to fine-tune or inspect) and four ONNX graphs
 * (serving needs onnxruntime-node only):
 *   text_encoder.onnx     ids int32 [N,L], weights [N,L] → embedding [N,E]
 *   text_classifier.onnx  ids int32 [N,L], weights [N,L] → logits [N,C]   (the frozen linear SVMs)
 *   image_encoder.onnx    pixels [N,224,224,3] in [0,1]  → embedding [N,E], logits [N,C]   (backbone included)
 *   fusion.onnx           text_embedding, image_embedding [N,E], text_logits [N,C], text_mask, image_mask [N,1]
 *                         → embedding [N,E], logits [N,C]
 * The text encoder and the text classifier are two graphs because they are two sizes and two users:
 * the classifier's table (every hash bucket and sentence id × every root and sub-category) is about
 * two thirds of the text tower's weights, and only evaluate classifies; search, index and drift
 * embed, so they never load it.
 * After export, ONNX Runtime and TF.js run the same inputs and must agree to 1e-4 (the export is
 * refused otherwise): an exporter bug must not reach production as a silently different model.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { L2Normalize } from './model/layers.js';
import type { Towers } from './model/multimodal.js';
import type { Logger } from '../core/platform/index.js';
import { makeBatch, sequentialBatches } from './batches.js';
import type { PreparedData } from './encode.js';
import type { FittedModel } from './fit.js';
import { MODEL_LAYER_TRANSLATIONS } from './model/onnx-layers.js';
import { exportLayersModel } from './onnx-export/index.js';

export const ONNX_AGREEMENT = 1e-4;

export interface ExportModels {
  text: tf.LayersModel;
  textClassifier: tf.LayersModel;
  image: tf.LayersModel | null;
  fusion: tf.LayersModel;
}

/** Composes the export graphs from the towers (sharing their weights). */
export function exportModels(
  towers: Towers,
  backbone: tf.LayersModel | null,
  shape: { embeddingDim: number; classes: number },
): ExportModels {
  // Cut from the tower's own graph, not by calling the tower: a called model is exported whole, so
  // each graph would carry both outputs' weights.
  const [t, wide] = towers.text.outputs;
  const text = tf.model({ name: 'text_encoder', inputs: towers.text.inputs, outputs: t! });
  const textClassifier = tf.model({ name: 'text_classifier', inputs: towers.text.inputs, outputs: wide! });

  let image: tf.LayersModel | null = null;
  if (backbone) {
    const pixels = tf.input({ shape: backbone.inputs[0]!.shape.slice(1) as number[], name: 'pixels' });
    const i = towers.image.apply(backbone.apply(pixels) as tf.SymbolicTensor) as tf.SymbolicTensor;
    image = tf.model({ name: 'image_encoder', inputs: pixels, outputs: [i, towers.head.apply(i) as tf.SymbolicTensor] });
  }

  const te = tf.input({ shape: [shape.embeddingDim], name: 'text_embedding' });
  const ie = tf.input({ shape: [shape.embeddingDim], name: 'image_embedding' });
  const tl = tf.input({ shape: [shape.classes], name: 'text_logits' });
  const tm = tf.input({ shape: [1], name: 'text_mask' });
  const im = tf.input({ shape: [1], name: 'image_mask' });
  const sum = tf.layers
    .add()
    .apply([
      tf.layers.multiply().apply([te, tm]) as tf.SymbolicTensor,
      tf.layers.multiply().apply([ie, im]) as tf.SymbolicTensor,
    ]) as tf.SymbolicTensor;
  const f = new L2Normalize({ name: 'fused_embedding' }).apply(sum) as tf.SymbolicTensor;
  // As losses.ts fusedClassifier: the head where there is a picture, plus the text classifier where there is text.
  const pictured = tf.layers.multiply().apply([towers.head.apply(f) as tf.SymbolicTensor, im]) as tf.SymbolicTensor;
  const logits = tf.layers.add().apply([pictured, tf.layers.multiply().apply([tl, tm]) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const fusion = tf.model({ name: 'fusion', inputs: [te, ie, tl, tm, im], outputs: [f, logits] });
  return { text, textClassifier, image, fusion };
}

export const ONNX_NAMES = {
  text: { inputNames: ['ids', 'weights'], outputNames: ['embedding'] },
  textClassifier: { inputNames: ['ids', 'weights'], outputNames: ['logits'] },
  image: { inputNames: ['pixels'], outputNames: ['embedding', 'logits'] },
  fusion: {
    inputNames: ['text_embedding', 'image_embedding', 'text_logits', 'text_mask', 'image_mask'],
    outputNames: ['embedding', 'logits'],
  },
} as const;

export function toOnnx(model: tf.LayersModel, which: keyof typeof ONNX_NAMES, docString: string): Uint8Array {
  return exportLayersModel(model, {
    name: model.name,
    docString,
    inputNames: [...ONNX_NAMES[which].inputNames],
    outputNames: [...ONNX_NAMES[which].outputNames],
    layers: MODEL_LAYER_TRANSLATIONS,
  });
}

/** Runs TF.js and ONNX Runtime on the same inputs; the largest absolute difference over all outputs. */
export async function onnxAgreement(
  model: tf.LayersModel,
  onnxBytes: Uint8Array,
  which: keyof typeof ONNX_NAMES,
  inputs: tf.Tensor[],
): Promise<number> {
  const session = await ort.InferenceSession.create(onnxBytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    ONNX_NAMES[which].inputNames.forEach((name, k) => {
      const tensor = inputs[k]!;
      feeds[name] = new ort.Tensor(
        tensor.dtype === 'int32' ? 'int32' : 'float32',
        tensor.dataSync() as Int32Array | Float32Array,
        tensor.shape,
      );
    });
    const onnxOut = await session.run(feeds);
    const tfOut = [model.predict(inputs)].flat();
    let worst = 0;
    ONNX_NAMES[which].outputNames.forEach((name, k) => {
      const a = onnxOut[name]!.data as Float32Array;
      const b = tfOut[k]!.dataSync();
      for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs((a[j] ?? NaN) - b[j]!) || (Number.isNaN(a[j]!) ? Infinity : 0));
    });
    tf.dispose(tfOut);
    return worst;
  } finally {
    await session.release();
  }
}

/** A TF.js LayersModel as `model.json` (topology + weights manifest) and `weights.bin`. */
export async function tfjsFiles(model: tf.LayersModel, prefix: string): Promise<{ name: string; body: Buffer }[]> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error(`TF.js did not serialise ${model.name}`);
  const weightData = artifacts.weightData;
  const weights = Buffer.concat((Array.isArray(weightData) ? weightData : [weightData]).map((part) => Buffer.from(part)));
  const json = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  };
  return [
    { name: `${prefix}/model.json`, body: Buffer.from(JSON.stringify(json)) },
    { name: `${prefix}/weights.bin`, body: weights },
  ];
}

/** The four ONNX graphs of a trained model (image: null without pictures) and how far they are from TF.js. */
export interface CheckedExport {
  text: Uint8Array;
  textClassifier: Uint8Array;
  fusion: Uint8Array;
  image: Uint8Array | null;
  maxAbsDiff: number;
}

/**
 * Train's third stage: the towers exported to ONNX, then ONNX Runtime and TF.js run on real
 * validation rows (and random pixels for the image graph); a difference past ONNX_AGREEMENT stops
 * the run before anything is published.
 */
export async function exportChecked(fitted: FittedModel, data: PreparedData, docString: string, log: Logger): Promise<CheckedExport> {
  const { towers, shape } = fitted;
  const { val, featureDim, withImages, extractor } = data;
  const exported = exportModels(towers, withImages ? extractor!.model : null, shape);
  const text = toOnnx(exported.text, 'text', docString);
  const textClassifier = toOnnx(exported.textClassifier, 'textClassifier', docString);
  const fusion = toOnnx(exported.fusion, 'fusion', docString);
  const image = exported.image ? toOnnx(exported.image, 'image', docString) : null;
  const probe = makeBatch(val, sequentialBatches(val.labels.length, 8)[0]!, featureDim);
  let maxDiff = await onnxAgreement(exported.text, text, 'text', [probe.ids, probe.weights]);
  maxDiff = Math.max(maxDiff, await onnxAgreement(exported.textClassifier, textClassifier, 'textClassifier', [probe.ids, probe.weights]));
  const probeT = tf.tidy(() => towers.text.predict([probe.ids, probe.weights]) as tf.Tensor[]);
  const probeI = withImages ? (towers.image.predict(probe.imageFeatures) as tf.Tensor) : tf.zerosLike(probeT[0]!);
  maxDiff = Math.max(
    maxDiff,
    await onnxAgreement(exported.fusion, fusion, 'fusion', [probeT[0]!, probeI, probeT[1]!, probe.textMask, probe.imageMask]),
  );
  if (image && exported.image) {
    const pixels = tf.randomUniform([2, extractor!.inputSize, extractor!.inputSize, 3], 0, 1, 'float32', 7);
    maxDiff = Math.max(maxDiff, await onnxAgreement(exported.image, image, 'image', [pixels]));
    pixels.dispose();
  }
  tf.dispose([...probeT, probeI]);
  probe.dispose();
  if (!(maxDiff < ONNX_AGREEMENT))
    throw new Error(`ONNX export disagrees with TF.js by ${maxDiff} (limit ${ONNX_AGREEMENT}); the model is not published`);
  log.info({ maxAbsDiff: maxDiff }, 'ONNX export agrees with TF.js');
  return { text, textClassifier, fusion, image, maxAbsDiff: maxDiff };
}
