/**
 * A published model, opened for inference with ONNX Runtime: the text encoder, the image encoder when
 * the model has one, the fusion graph, and the featuriser whose idf table was saved beside them.
 *
 * Two uses, two kinds of call: `embed*` gives the embeddings (search, index, drift), `classify*` the
 * embeddings and the category logits (evaluate). Only classifying reads the pretrained sentence
 * encoder (sentence-encoder.ts, TF.js), where the model has one, and the text classifier's graph,
 * loaded on the first such call: the embedding depends on neither, so a search query or a product is
 * embedded with ONNX Runtime alone, and a process that only embeds never holds the classifier's table.
 *
 * Vectors travel as one flat Float32Array of n × dim (row-major), the form FAISS and ONNX both take.
 */
import * as ort from 'onnxruntime-node';
import { InputError } from '../platform/errors.js';
import type { ArtifactStore } from '../platform/artifacts/index.js';
import { MODEL_FILES, MODEL_PREFIX, ModelMetadata } from '../contracts/model-metadata.js';
import { openPublished } from '../contracts/publish.js';
import { featurizeAll } from './sentence-encoder.js';
import { padBatch, TextFeaturizer, type TextInput } from './text-features.js';

export interface Embedded {
  /** n × embeddingDim, L2-normalised rows. */
  embeddings: Float32Array;
  n: number;
}

export interface Encoded extends Embedded {
  /** n × classes. */
  logits: Float32Array;
}

export interface ProductInput extends TextInput {
  /** Pixels of the product's pictures (model input form), any number. */
  pictures?: Float32Array[];
}

export interface Embedder {
  version: string;
  metadata: ModelMetadata;
  featurizer: TextFeaturizer;
  /** Text embeddings (a search query is a title alone). */
  embedTexts(inputs: readonly TextInput[]): Promise<Embedded>;
  /**
   * Text embeddings and the text classifier's logits. The texts are catalogue listings: their sentence
   * vectors are cached in the artifact store (train cached the training split's).
   */
  classifyTexts(inputs: readonly TextInput[]): Promise<Encoded>;
  /** Each item: inputSize × inputSize × 3 floats. Refused when the model has no image tower. */
  embedImages(pixels: readonly Float32Array[]): Promise<Encoded>;
  /** The product embedding: text and pictures fused; a product without pictures gets no invented one. */
  embedProducts(products: readonly ProductInput[]): Promise<Embedded>;
  /** The product embedding and the product classifier's logits. */
  classifyProducts(products: readonly ProductInput[]): Promise<Encoded>;
  close(): Promise<void>;
}

/** Rows per ONNX call: large enough to amortise the call, small enough to bound padding and memory. */
const BATCH = 64;

export class ModalityError extends InputError {
  override name = 'ModalityError';
}

export async function openEmbedder(store: ArtifactStore, version: string): Promise<Embedder> {
  const published = await openPublished(store, MODEL_PREFIX(version));
  const metadata = ModelMetadata.parse(published.manifest.metadata);
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 0 };
  const text = await ort.InferenceSession.create(await published.read(MODEL_FILES.textEncoder), options);
  // Models published before text_classifier.onnx carry the logits as the text encoder's second output.
  const encoderGivesLogits = text.outputNames.includes('logits');
  let classifier: Promise<ort.InferenceSession> | undefined;
  const textClassifier = () =>
    (classifier ??= published.read(MODEL_FILES.textClassifier).then((bytes) => ort.InferenceSession.create(bytes, options)));
  const fusion = await ort.InferenceSession.create(await published.read(MODEL_FILES.fusion), options);
  const image = metadata.modalities.image
    ? await ort.InferenceSession.create(await published.read(MODEL_FILES.imageEncoder), options)
    : null;
  const featurizer = TextFeaturizer.fromBytes(metadata.featurizer, await published.read(MODEL_FILES.idf));
  const dim = metadata.embeddingDim;
  const classes = metadata.labels.length;

  /** `classify`: with the sentence vectors, so that the logits are the classifier's. */
  async function encodeTexts(inputs: readonly TextInput[], classify: boolean): Promise<Encoded> {
    const out = { embeddings: new Float32Array(inputs.length * dim), logits: new Float32Array(inputs.length * classes), n: inputs.length };
    for (let start = 0; start < inputs.length; start += BATCH) {
      const part = inputs.slice(start, start + BATCH);
      const docs = classify ? await featurizeAll(featurizer, part, { store }) : part.map((input) => featurizer.featurize(input));
      const { ids, weights, length } = padBatch(docs);
      const feeds = {
        ids: new ort.Tensor('int32', ids, [docs.length, length]),
        weights: new ort.Tensor('float32', weights, [docs.length, length]),
      };
      const result = await text.run(feeds);
      out.embeddings.set(result['embedding']!.data as Float32Array, start * dim);
      // Embedding only: the logits stay zero, and the fused logits they feed are not returned.
      if (!classify) continue;
      const logits = encoderGivesLogits ? result['logits'] : (await (await textClassifier()).run(feeds))['logits'];
      out.logits.set(logits!.data as Float32Array, start * classes);
    }
    return out;
  }

  async function embedImages(pixels: readonly Float32Array[]): Promise<Encoded> {
    if (!image || !metadata.image) throw new ModalityError(`model ${version} was trained without pictures: it cannot embed an image`);
    const size = metadata.image.inputSize;
    const out = { embeddings: new Float32Array(pixels.length * dim), logits: new Float32Array(pixels.length * classes), n: pixels.length };
    for (let start = 0; start < pixels.length; start += BATCH / 4) {
      const part = pixels.slice(start, start + BATCH / 4);
      const flat = new Float32Array(part.length * size * size * 3);
      part.forEach((p, k) => {
        if (p.length !== size * size * 3)
          throw new InputError(`image ${start + k} has ${p.length} values; the model takes ${size}×${size}×3`);
        flat.set(p, k * size * size * 3);
      });
      const result = await image.run({ pixels: new ort.Tensor('float32', flat, [part.length, size, size, 3]) });
      out.embeddings.set(result['embedding']!.data as Float32Array, start * dim);
      out.logits.set(result['logits']!.data as Float32Array, start * classes);
    }
    return out;
  }

  async function encodeProducts(products: readonly ProductInput[], classify: boolean): Promise<Encoded> {
    const texts = await encodeTexts(products, classify);
    const n = products.length;
    const imageEmbeddings = new Float32Array(n * dim);
    const imageMask = new Float32Array(n);
    const textMask = Float32Array.from(products, (p) => (p.title || p.text ? 1 : 0));
    if (image) {
      for (const [row, product] of products.entries()) {
        const pictures = product.pictures ?? [];
        if (pictures.length === 0) continue;
        // A product's pictures: the mean of their embeddings (the fusion graph normalises the sum).
        const encoded = await embedImages(pictures);
        for (let k = 0; k < encoded.n; k++)
          for (let d = 0; d < dim; d++) imageEmbeddings[row * dim + d]! += encoded.embeddings[k * dim + d]! / encoded.n;
        imageMask[row] = 1;
      }
    }
    const out = { embeddings: new Float32Array(n * dim), logits: new Float32Array(n * classes), n };
    for (let start = 0; start < n; start += BATCH) {
      const m = Math.min(BATCH, n - start);
      const result = await fusion.run({
        text_embedding: new ort.Tensor('float32', texts.embeddings.subarray(start * dim, (start + m) * dim), [m, dim]),
        image_embedding: new ort.Tensor('float32', imageEmbeddings.subarray(start * dim, (start + m) * dim), [m, dim]),
        text_logits: new ort.Tensor('float32', texts.logits.subarray(start * classes, (start + m) * classes), [m, classes]),
        text_mask: new ort.Tensor('float32', textMask.subarray(start, start + m), [m, 1]),
        image_mask: new ort.Tensor('float32', imageMask.subarray(start, start + m), [m, 1]),
      });
      out.embeddings.set(result['embedding']!.data as Float32Array, start * dim);
      out.logits.set(result['logits']!.data as Float32Array, start * classes);
    }
    return out;
  }

  const embeddingsOnly = ({ embeddings, n }: Encoded): Embedded => ({ embeddings, n });
  return {
    version,
    metadata,
    featurizer,
    embedTexts: async (inputs) => embeddingsOnly(await encodeTexts(inputs, false)),
    classifyTexts: (inputs) => encodeTexts(inputs, true),
    embedImages,
    embedProducts: async (products) => embeddingsOnly(await encodeProducts(products, false)),
    classifyProducts: (products) => encodeProducts(products, true),
    async close() {
      await Promise.all([text.release(), fusion.release(), image?.release(), classifier?.then((session) => session.release())]);
    },
  };
}

/** Row `k` of a flat n × dim array, as a plain array (faiss-node takes number[]). */
export function row(flat: Float32Array, k: number, dim: number): number[] {
  return Array.from(flat.subarray(k * dim, (k + 1) * dim));
}

/** Index of the largest of row k's `width` values. */
export function argmaxRow(flat: Float32Array, k: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (flat[k * width + j]! > flat[k * width + best]!) best = j;
  return best;
}
