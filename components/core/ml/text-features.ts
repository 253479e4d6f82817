/**
 * The project's own text featuriser, shared by train (fits it), evaluate, index and the search service
 * (apply it): hashed word, bigram and character n-gram features with TF-IDF weights, the sparse form
 * that the model's WeightedBag layers read (ids + weights, padding id 0 with weight 0).
 *
 * Why hashing: no vocabulary to build, ship or keep in sync; unseen words at serving time still land in a
 * bucket; the only state is the idf table (one float per bucket), saved with the model.
 * Namespaces keep the same string apart by role: `t` title words and bigrams (titles say most),
 * `w`/`b` words and bigrams of title + description, `c` character 3–5-grams of ` word ` (spelling
 * variants, plurals, brand fragments), `x` listing fields (price band, town, county).
 *
 * With `sentence` set, a pretrained sentence encoder's vector of the text (sentence-encoder.ts) follows
 * the hashed features as ids buckets … buckets + dim − 1, scaled by `weight` (the hashed part has norm
 * 1): the model's wide bag (its classifier) has `inputDim` rows; its deep bag skips those ids.
 */
import type { FeaturizerConfig } from '../contracts/model-metadata.js';
import { bytesOfFloat32, float32FromBytes } from '../platform/float32-bytes.js';

/** The hashed features alone; train adds the sentence vector from its hyper-parameters. */
export const DEFAULT_FEATURIZER: FeaturizerConfig = {
  buckets: 2 ** 18,
  maxFeatures: 1024,
  charNgrams: true,
  listingFields: true,
  sentence: null,
};

/** What the featuriser reads of a product; a search query is a title alone. */
export interface TextInput {
  title: string;
  text?: string;
  priceMinor?: number | null;
  town?: string | null;
  county?: string | null;
}

export interface SparseDoc {
  ids: Int32Array;
  weights: Float32Array;
}

const WORD = /[\p{L}\p{N}]+(?:['’.][\p{L}\p{N}]+)*/gu;

const words = (text: string): string[] => text.normalize('NFKC').toLowerCase().match(WORD) ?? [];

/** FNV-1a, 32 bit: fast, stable across platforms and languages (a Python reader can reproduce it). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** £ bands on a log2 scale: `p0` is free, `p10` about £10, capped at `p20`. */
function priceBand(priceMinor: number): string {
  if (priceMinor <= 0) return 'pz';
  return `p${Math.min(20, Math.floor(Math.log2(priceMinor / 100 + 1)))}`;
}

/** The feature strings of one input, with repeats (term frequency counts them). */
export function featureStrings(input: TextInput, config: FeaturizerConfig): string[] {
  const out: string[] = [];
  const add = (tokens: string[], namespace: string) => {
    for (let i = 0; i < tokens.length; i++) {
      out.push(`${namespace}w:${tokens[i]}`);
      if (i > 0) out.push(`${namespace}b:${tokens[i - 1]} ${tokens[i]}`);
    }
  };
  const titleWords = words(input.title);
  const bodyWords = words(input.text ?? '');
  add(titleWords, 't');
  add(titleWords, '');
  add(bodyWords, '');
  if (config.charNgrams) {
    for (const word of [...titleWords, ...bodyWords]) {
      const padded = ` ${word} `;
      for (let n = 3; n <= 5; n++) for (let j = 0; j + n <= padded.length; j++) out.push(`c:${padded.slice(j, j + n)}`);
    }
  }
  if (config.listingFields) {
    if (input.priceMinor !== undefined && input.priceMinor !== null) out.push(`x:${priceBand(input.priceMinor)}`);
    if (input.town) out.push(`x:town:${input.town.toLowerCase()}`);
    if (input.county) out.push(`x:county:${input.county.toLowerCase()}`);
  }
  return out;
}

/** What the sentence encoder reads of an input: the title, then the description. */
export function sentenceText(input: TextInput): string {
  return input.text ? `${input.title}. ${input.text}` : input.title;
}

/** Bucket counts of an input: bucket ids in 1..buckets-1 (0 is padding). */
export function bucketCounts(input: TextInput, config: FeaturizerConfig): Map<number, number> {
  const counts = new Map<number, number>();
  for (const feature of featureStrings(input, config)) {
    const bucket = 1 + (fnv1a(feature) % (config.buckets - 1));
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  }
  return counts;
}

export class TextFeaturizer {
  constructor(
    readonly config: FeaturizerConfig,
    /** Smoothed inverse document frequency per bucket, from the training split. */
    readonly idf: Float32Array,
  ) {
    if (idf.length !== config.buckets) throw new Error(`idf table has ${idf.length} entries for ${config.buckets} buckets`);
  }

  /** Fits the idf table on training documents: ln((1 + n) / (1 + df)) + 1, as scikit-learn smooths it. */
  static fit(inputs: Iterable<TextInput>, config: FeaturizerConfig): TextFeaturizer {
    const df = new Uint32Array(config.buckets);
    let n = 0;
    for (const input of inputs) {
      n++;
      for (const bucket of bucketCounts(input, config).keys()) df[bucket] = (df[bucket] ?? 0) + 1;
    }
    const idf = new Float32Array(config.buckets);
    for (let b = 0; b < config.buckets; b++) idf[b] = Math.log((1 + n) / (1 + (df[b] ?? 0))) + 1;
    return new TextFeaturizer(config, idf);
  }

  /** Rows of the model's wide bag: the hash buckets, then the sentence vector's dimensions. */
  get inputDim(): number {
    return this.config.buckets + (this.config.sentence?.dim ?? 0);
  }

  /**
   * Sublinear tf × idf, the top `maxFeatures` kept, L2-normalised, then the sentence vector where the
   * config has one and it is given. Without it the doc holds the hashed features only: enough for the
   * embedding, which does not read the sentence ids, not for the classifier (embedder.ts). Zeros, as
   * for an empty text, add nothing. An empty input gives an empty doc.
   */
  featurize(input: TextInput, sentence?: Float32Array): SparseDoc {
    const scored: [number, number][] = [];
    for (const [bucket, count] of bucketCounts(input, this.config)) scored.push([bucket, (1 + Math.log(count)) * (this.idf[bucket] ?? 0)]);
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const kept = scored.slice(0, this.config.maxFeatures);
    const norm = Math.sqrt(kept.reduce((sum, [, w]) => sum + w * w, 0)) || 1;
    const features: [number, number][] = kept.map(([bucket, w]) => [bucket, w / norm]);
    const spec = this.config.sentence;
    if (sentence && sentence.length !== spec?.dim)
      throw new Error(`featurize: got a ${sentence.length}-d sentence vector; this featurizer takes ${spec ? `${spec.dim}-d` : 'none'}`);
    if (spec && sentence)
      for (let d = 0; d < spec.dim; d++) if (sentence[d] !== 0) features.push([this.config.buckets + d, sentence[d]! * spec.weight]);
    return { ids: Int32Array.from(features, ([id]) => id), weights: Float32Array.from(features, ([, w]) => w) };
  }

  /** The idf table as bytes (little-endian float32), the form saved beside the model. */
  idfBytes(): Buffer {
    return bytesOfFloat32(this.idf);
  }

  static fromBytes(config: FeaturizerConfig, bytes: Buffer): TextFeaturizer {
    return new TextFeaturizer(config, float32FromBytes(bytes));
  }
}

/** Pads documents into dense [n, L] id and weight arrays (L = the longest), the model's input form. */
export function padBatch(docs: readonly SparseDoc[]): { ids: Int32Array; weights: Float32Array; length: number } {
  const length = Math.max(1, ...docs.map((doc) => doc.ids.length));
  const ids = new Int32Array(docs.length * length);
  const weights = new Float32Array(docs.length * length);
  docs.forEach((doc, row) => {
    ids.set(doc.ids, row * length);
    weights.set(doc.weights, row * length);
  });
  return { ids, weights, length };
}
