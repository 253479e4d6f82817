/**
 * Image search measured on Fashion-MNIST's official test split (issue #23), with baselines in the same
 * run: the trained picture model's `image_encoder.onnx` (ONNX Runtime, as the search service runs it)
 * embeds and classifies every picture of the catalogue (the 60,000 official training pictures and the
 * 10,000 test pictures, one listing each), then
 *
 * - image-only accuracy and macro-F1: its class for each test picture;
 * - picture-to-listing search: each test picture queries the whole catalogue (FAISS exact inner product
 *   over L2-normalised embeddings, the index the service builds below 100k listings); its own listing
 *   is left out, so this is both `/search/image` with that picture and `/products/:id/similar` of its
 *   listing; precision@10 = the share of the ten results of the query's class;
 * - the same two measures for raw pixels (cosine over the 784 grey values; accuracy as a 5-nearest-
 *   neighbour vote among the official training pictures), the baseline every learnt picture model must
 *   beat.
 *
 * The test pictures are read here only; train never reads them (see contracts/fashion-mnist.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { FASHION_CLASSES, readFashionMnist } from '../core/contracts/index.js';
import type { Logger } from '../core/platform/index.js';
import { classification, loadFaiss } from '../core/ml/index.js';

export interface PictureSearchScores {
  /** Share of the test pictures whose predicted class is theirs. */
  accuracy: number;
  macroF1: number;
  /** Mean over the test pictures of the share of their 10 nearest other listings that share their class. */
  precisionAt10: number;
}

export interface PictureEvaluation {
  catalogue: { train: number; test: number };
  ours: PictureSearchScores & { perClassAccuracy: Record<string, number>; confusion: number[][] };
  rawPixels: PictureSearchScores;
  /** ONNX Runtime embedding throughput over the whole catalogue, pictures per second. */
  onnxPicturesPerSecond: number;
  seconds: number;
  examples: Array<{
    query: number;
    label: string;
    ours: Array<{ listing: number; label: string }>;
    rawPixels: Array<{ listing: number; label: string }>;
  }>;
}

interface FlatIndex {
  addFloat32(vectors: Float32Array): void;
  searchFloat32(queries: Float32Array, k: number): { distances: Float32Array; labels: Int32Array };
}

function normaliseRows(values: Float32Array, dims: number): Float32Array {
  for (let r = 0; r < values.length / dims; r++) {
    let sum = 0;
    for (let c = 0; c < dims; c++) sum += values[r * dims + c]! ** 2;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let c = 0; c < dims; c++) values[r * dims + c]! *= scale;
  }
  return values;
}

/** Nearest `k` catalogue rows of each query row, the query's own row (`self[q]`, or none: -1) left out. */
function nearest(catalogue: Float32Array, queries: Float32Array, dims: number, k: number, self: Int32Array): Int32Array {
  const faiss = loadFaiss();
  const index = new faiss.IndexFlatIP(dims) as unknown as FlatIndex;
  index.addFloat32(catalogue);
  const nq = queries.length / dims;
  const out = new Int32Array(nq * k);
  const chunk = 1000;
  for (let start = 0; start < nq; start += chunk) {
    const n = Math.min(chunk, nq - start);
    const { labels } = index.searchFloat32(queries.subarray(start * dims, (start + n) * dims), k + 1);
    for (let q = 0; q < n; q++) {
      let filled = 0;
      for (let j = 0; j <= k && filled < k; j++) {
        const hit = labels[q * (k + 1) + j]!;
        if (hit !== self[start + q]) out[(start + q) * k + filled++] = hit;
      }
    }
  }
  return out;
}

function precisionAtK(neighbours: Int32Array, k: number, queryLabels: ArrayLike<number>, catalogueLabels: ArrayLike<number>): number {
  let total = 0;
  for (let q = 0; q < queryLabels.length; q++) {
    let same = 0;
    for (let j = 0; j < k; j++) if (catalogueLabels[neighbours[q * k + j]!] === queryLabels[q]) same++;
    total += same / k;
  }
  return total / queryLabels.length;
}

function vote(neighbours: Int32Array, k: number, labels: ArrayLike<number>): Uint8Array {
  const rows = neighbours.length / k;
  const out = new Uint8Array(rows);
  for (let q = 0; q < rows; q++) {
    const counts = new Array<number>(FASHION_CLASSES.length).fill(0);
    for (let j = 0; j < k; j++) counts[labels[neighbours[q * k + j]!]!]! += k - j / k; // ties go to the nearer
    out[q] = counts.indexOf(Math.max(...counts));
  }
  return out;
}

function scoresOf(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
): { accuracy: number; macroF1: number; perClassAccuracy: Record<string, number>; confusion: number[][] } {
  const names = (values: ArrayLike<number>) => Array.from(values, (v) => FASHION_CLASSES[v]!);
  const result = classification(names(truth), names(predicted), FASHION_CLASSES);
  const confusion = FASHION_CLASSES.map(() => new Array<number>(FASHION_CLASSES.length).fill(0));
  for (let i = 0; i < truth.length; i++) confusion[truth[i]!]![predicted[i]!]!++;
  const perClassAccuracy = Object.fromEntries(
    FASHION_CLASSES.map((name, c) => [
      name,
      confusion[c]![c]! /
        Math.max(
          1,
          confusion[c]!.reduce((a, b) => a + b, 0),
        ),
    ]),
  );
  return { accuracy: result.accuracy, macroF1: result.macroF1, perClassAccuracy, confusion };
}

export interface EvaluatePicturesOptions {
  model: string;
  data: string;
  out?: string;
  limitTrain?: number;
  limitTest?: number;
  /** Test pictures to show with their top results (indices into the test split). */
  exampleQueries?: number[];
}

export async function evaluatePictures(options: EvaluatePicturesOptions, log: Logger): Promise<PictureEvaluation> {
  const started = Date.now();
  const train = await readFashionMnist(options.data, 'train', options.limitTrain);
  const test = await readFashionMnist(options.data, 'test', options.limitTest);
  const size = train.size;
  const area = size * size;
  const total = train.count + test.count;
  // The catalogue: training pictures first, then test pictures (test picture q is listing train.count + q).
  const grey = new Uint8Array(total * area);
  grey.set(train.pixels, 0);
  grey.set(test.pixels, train.count * area);
  const labels = new Uint8Array(total);
  labels.set(train.labels, 0);
  labels.set(test.labels, train.count);

  const session = await ort.InferenceSession.create(await readFile(path.join(options.model, 'image_encoder.onnx')));
  let dims = 0;
  let embeddings = new Float32Array(0);
  const probabilities = new Float32Array(test.count * FASHION_CLASSES.length);
  const batch = 500;
  const onnxStarted = performance.now();
  const pixels = new Float32Array(batch * area * 3);
  for (let start = 0; start < total; start += batch) {
    const n = Math.min(batch, total - start);
    for (let i = 0; i < n * area; i++) {
      const v = grey[start * area + i]! / 255;
      pixels[3 * i] = v;
      pixels[3 * i + 1] = v;
      pixels[3 * i + 2] = v;
    }
    const result = await session.run({ pixels: new ort.Tensor('float32', pixels.subarray(0, n * area * 3), [n, size, size, 3]) });
    const embedding = result['embedding']!;
    if (!dims) {
      dims = embedding.dims[1] as number;
      embeddings = new Float32Array(total * dims);
    }
    embeddings.set(embedding.data as Float32Array, start * dims);
    const firstTest = Math.max(start, train.count);
    if (firstTest < start + n) {
      const probs = (result['probabilities']!.data as Float32Array).subarray((firstTest - start) * FASHION_CLASSES.length);
      probabilities.set(probs, (firstTest - train.count) * FASHION_CLASSES.length);
    }
  }
  const onnxPicturesPerSecond = total / ((performance.now() - onnxStarted) / 1000);
  await session.release();
  log.info({ pictures: total, onnxPicturesPerSecond: Math.round(onnxPicturesPerSecond) }, 'catalogue embedded with image_encoder.onnx');

  const predicted = new Uint8Array(test.count);
  for (let q = 0; q < test.count; q++) {
    let best = 0;
    for (let c = 1; c < FASHION_CLASSES.length; c++) if (probabilities[q * 10 + c]! > probabilities[q * 10 + best]!) best = c;
    predicted[q] = best;
  }
  const oursScores = scoresOf(predicted, test.labels);
  const self = Int32Array.from({ length: test.count }, (_, q) => train.count + q);
  normaliseRows(embeddings, dims);
  const oursNeighbours = nearest(embeddings, embeddings.subarray(train.count * dims), dims, 10, self);
  const oursPrecision = precisionAtK(oursNeighbours, 10, test.labels, labels);
  log.info({ accuracy: oursScores.accuracy, precisionAt10: oursPrecision }, 'ours');

  const raw = new Float32Array(total * area);
  for (let i = 0; i < raw.length; i++) raw[i] = grey[i]! / 255;
  normaliseRows(raw, area);
  const rawNeighbours = nearest(raw, raw.subarray(train.count * area), area, 10, self);
  const rawPrecision = precisionAtK(rawNeighbours, 10, test.labels, labels);
  const rawVoteNeighbours = nearest(
    raw.subarray(0, train.count * area),
    raw.subarray(train.count * area),
    area,
    5,
    new Int32Array(test.count).fill(-1),
  );
  const rawScores = scoresOf(vote(rawVoteNeighbours, 5, train.labels), test.labels);
  log.info({ accuracy: rawScores.accuracy, precisionAt10: rawPrecision }, 'raw pixels');

  const examples = (options.exampleQueries ?? [])
    .filter((q) => q < test.count)
    .map((q) => ({
      query: q,
      label: FASHION_CLASSES[test.labels[q]!]!,
      ours: Array.from(oursNeighbours.subarray(q * 10, q * 10 + 10), (listing) => ({ listing, label: FASHION_CLASSES[labels[listing]!]! })),
      rawPixels: Array.from(rawNeighbours.subarray(q * 10, q * 10 + 10), (listing) => ({
        listing,
        label: FASHION_CLASSES[labels[listing]!]!,
      })),
    }));
  const evaluation: PictureEvaluation = {
    catalogue: { train: train.count, test: test.count },
    ours: { ...oursScores, precisionAt10: oursPrecision },
    rawPixels: { accuracy: rawScores.accuracy, macroF1: rawScores.macroF1, precisionAt10: rawPrecision },
    onnxPicturesPerSecond,
    seconds: (Date.now() - started) / 1000,
    examples,
  };
  if (options.out) {
    await mkdir(options.out, { recursive: true });
    await writeFile(path.join(options.out, 'pictures-evaluation.json'), JSON.stringify(evaluation, null, 2));
    for (const example of examples)
      await writeContactSheet(path.join(options.out, `query-${example.query}.png`), grey, size, train.count + example.query, example);
  }
  return evaluation;
}

/**
 * A picture query and its top results as one PNG (pictures 3x enlarged, nearest neighbour, so the
 * pixels show as they are): the query, then ours' ten, then raw pixels' ten, one row each.
 */
async function writeContactSheet(
  file: string,
  grey: Uint8Array,
  size: number,
  query: number,
  example: PictureEvaluation['examples'][number],
): Promise<void> {
  const scale = 3;
  const cell = size * scale;
  const gap = 4;
  const rows = [[query], example.ours.map((r) => r.listing), example.rawPixels.map((r) => r.listing)];
  const width = 10 * (cell + gap) + gap;
  const height = rows.length * (cell + gap) + gap;
  const tiles = await Promise.all(
    rows.flatMap((row, r) =>
      row.map(async (listing, c) => ({
        input: await sharp(Buffer.from(grey.subarray(listing * size * size, (listing + 1) * size * size)), {
          raw: { width: size, height: size, channels: 1 },
        })
          .resize(cell, cell, { kernel: 'nearest' })
          .png()
          .toBuffer(),
        left: gap + c * (cell + gap),
        top: gap + r * (cell + gap),
      })),
    ),
  );
  await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(tiles)
    .png()
    .toFile(file);
}
