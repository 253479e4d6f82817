/**
 * The trained picture CNN as serving artifacts: `image_encoder.onnx` (pixels [N,S,S,3] in [0,1] →
 * embedding [N,E], class probabilities [N,C]) written by the project's exporter, and the TF.js model
 * (`tfjs/model.json` + weights). ONNX Runtime and TF.js run the same validation pictures and must agree
 * to 1e-4, or nothing is written: an exporter bug must not reach search as a silently different model.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { Logger } from '../core/platform/index.js';
import { exportLayersModel } from './onnx-export/index.js';
import { fillBatch, type PictureSet, type PictureCnn } from './picture-cnn.js';

export const PICTURE_ONNX_AGREEMENT = 1e-4;

export interface PictureExport {
  file: string;
  bytes: number;
  /** Largest absolute difference between ONNX Runtime and TF.js over the checked pictures, both outputs. */
  maxAbsDifference: number;
  checkedPictures: number;
}

/** One graph, two outputs: the embedding search indexes and the probabilities accuracy scores. */
export function pictureEncoder(cnn: PictureCnn): tf.LayersModel {
  return tf.model({
    name: 'image_encoder',
    inputs: cnn.classifier.inputs,
    outputs: [cnn.embedder.outputs[0]!, cnn.classifier.outputs[0]!],
  });
}

export async function exportPictureModels(
  cnn: PictureCnn,
  check: PictureSet,
  out: string,
  log: Logger,
  checkCount = 256,
): Promise<PictureExport> {
  const encoder = pictureEncoder(cnn);
  const bytes = exportLayersModel(encoder, { inputNames: ['pixels'], outputNames: ['embedding', 'probabilities'] });
  const n = Math.min(checkCount, check.count);
  const size = check.size;
  const pixels = fillBatch(
    check,
    Array.from({ length: n }, (_, k) => k),
    new Float32Array(n * size * size * 3),
  );
  const session = await ort.InferenceSession.create(bytes);
  let maxAbsDifference = 0;
  try {
    const results = await session.run({ pixels: new ort.Tensor('float32', pixels, [n, size, size, 3]) });
    const expected = tf.tidy(() =>
      (encoder.predict(tf.tensor4d(pixels, [n, size, size, 3])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array),
    );
    for (const [k, name] of ['embedding', 'probabilities'].entries()) {
      const got = results[name]!.data as Float32Array;
      const want = expected[k]!;
      if (got.length !== want.length) throw new Error(`ONNX ${name} has ${got.length} values, TF.js ${want.length}`);
      for (let i = 0; i < got.length; i++) maxAbsDifference = Math.max(maxAbsDifference, Math.abs(got[i]! - want[i]!));
    }
  } finally {
    await session.release();
  }
  if (!(maxAbsDifference <= PICTURE_ONNX_AGREEMENT))
    throw new Error(`image_encoder.onnx disagrees with TF.js by ${maxAbsDifference} (limit ${PICTURE_ONNX_AGREEMENT}): not written`);
  await mkdir(path.join(out, 'tfjs'), { recursive: true });
  const file = path.join(out, 'image_encoder.onnx');
  await writeFile(file, bytes);
  await encoder.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await writeFile(
        path.join(out, 'tfjs', 'model.json'),
        JSON.stringify({
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      await writeFile(path.join(out, 'tfjs', 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  log.info({ file, bytes: bytes.length, maxAbsDifference, checkedPictures: n }, 'image_encoder.onnx written (agrees with TF.js)');
  return { file, bytes: bytes.length, maxAbsDifference, checkedPictures: n };
}
