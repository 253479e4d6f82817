/**
 * The frozen pretrained backbone (MobileNetV2 from nsfwjs, components/train/backbone.ts) as a picture
 * feature on Fashion-MNIST, beside our picture CNN and raw pixels, on the same subsample (MobileNetV2
 * reads 224×224, 16 pictures/s on an idle machine: the full 70,000-picture catalogue would take 73 min).
 * Catalogue: the first --catalogue official training pictures plus the queries; queries: the first
 * --queries official test pictures. Precision@10 of each query among the other listings, and 5-NN vote
 * accuracy over the training pictures, cosine similarity throughout.
 *
 *   tsx bench/fashion-backbone.ts --model <dir with image_encoder.onnx> [--catalogue 1000] [--queries 200]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { FASHION_MNIST_DIR, readFashionMnist } from '../components/core/contracts/index.js';
import { createLogger } from '../components/core/platform/index.js';
import { loadMobileNetBackbone } from '../components/train/backbone.js';
import { fillBatch, type PictureSet } from '../components/train/picture-cnn.js';
import { initBackend } from '../components/train/tfjs-backend/backend.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback?: string) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : fallback;
};
const model = flag('model');
if (!model) throw new Error('--model <dir> is required');
const catalogueCount = Number(flag('catalogue', '1000'));
const queryCount = Number(flag('queries', '200'));

function normalised(rows: Float32Array[]): Float32Array[] {
  return rows.map((r) => {
    const norm = Math.sqrt(r.reduce((s, v) => s + v * v, 0)) || 1;
    return r.map((v) => v / norm);
  });
}

function scores(vectors: Float32Array[], labels: Uint8Array, trainCount: number): { precisionAt10: number; accuracy: number } {
  const v = normalised(vectors);
  const dot = (a: Float32Array, b: Float32Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
    return s;
  };
  let precision = 0;
  let correct = 0;
  const queries = vectors.length - trainCount;
  for (let q = trainCount; q < vectors.length; q++) {
    const ranked = v.map((row, k) => ({ k, s: k === q ? -Infinity : dot(v[q]!, row) })).sort((a, b) => b.s - a.s);
    precision += ranked.slice(0, 10).filter((r) => labels[r.k] === labels[q]).length / 10;
    const votes = new Array<number>(10).fill(0);
    for (const r of ranked.filter((r) => r.k < trainCount).slice(0, 5)) votes[labels[r.k]!]! += 1 + r.s * 1e-3;
    if (votes.indexOf(Math.max(...votes)) === labels[q]) correct++;
  }
  return { precisionAt10: precision / queries, accuracy: correct / queries };
}

const log = createLogger('bench-fashion-backbone', 'warn');
await initBackend(log, 'wasm');
const train = await readFashionMnist(FASHION_MNIST_DIR, 'train', catalogueCount);
const test = await readFashionMnist(FASHION_MNIST_DIR, 'test', queryCount);
const area = 28 * 28;
const all: PictureSet = {
  pixels: new Uint8Array((train.count + test.count) * area),
  labels: new Uint8Array(train.count + test.count),
  count: train.count + test.count,
  size: 28,
};
all.pixels.set(train.pixels, 0);
all.pixels.set(test.pixels, train.count * area);
all.labels.set(train.labels, 0);
all.labels.set(test.labels, train.count);
const pixels = fillBatch(
  all,
  Array.from({ length: all.count }, (_, k) => k),
  new Float32Array(all.count * area * 3),
);

const raw = Array.from({ length: all.count }, (_, k) => pixels.slice(k * area * 3, (k + 1) * area * 3));
const session = await ort.InferenceSession.create(await readFile(path.join(model, 'image_encoder.onnx')));
const oursOut = await session.run({ pixels: new ort.Tensor('float32', pixels, [all.count, 28, 28, 3]) });
const dims = oursOut['embedding']!.dims[1] as number;
const oursData = oursOut['embedding']!.data as Float32Array;
const ours = Array.from({ length: all.count }, (_, k) => oursData.slice(k * dims, (k + 1) * dims));

const backbone = await loadMobileNetBackbone();
const started = performance.now();
const mobile: Float32Array[] = [];
for (let start = 0; start < all.count; start += 16) {
  const n = Math.min(16, all.count - start);
  const features = tf.tidy(() => {
    const x = tf.tensor4d(pixels.subarray(start * area * 3, (start + n) * area * 3), [n, 28, 28, 3]);
    // Upscaled to the backbone's 224×224 (bilinear), grey as three equal channels, values in [0,1] as it expects.
    return backbone.predict(tf.image.resizeBilinear(x, [224, 224])) as tf.Tensor;
  });
  const data = (await features.data()) as Float32Array;
  features.dispose();
  for (let k = 0; k < n; k++) mobile.push(data.slice(k * 1280, (k + 1) * 1280));
}
const mobileSeconds = (performance.now() - started) / 1000;
const result = {
  catalogue: all.count,
  queries: test.count,
  ours: scores(ours, all.labels, train.count),
  frozenMobileNetV2: { ...scores(mobile, all.labels, train.count), picturesPerSecond: all.count / mobileSeconds },
  rawPixels: scores(raw, all.labels, train.count),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
