/**
 * Image search on one loaded version (a picture's vector against the products index), and the stored
 * product vectors buyers and similar start from. Text search is ranking.ts (hybrid, lexical, dense).
 */
import { imagePixels, ModalityError, vectorAt } from '../core/ml/index.js';
import type { LoadedVersion } from './loaded.js';

export interface ProductHit {
  id: string;
  title: string;
  root: string;
  priceMinor: number;
  town: string | null;
  /** Inner product of unit vectors: cosine similarity, higher is closer. */
  score: number;
}

/** The stored vector of the product at `position` (in vector order): a view of float32 vectors, decoded from int8 ones. */
export function productVector(version: LoadedVersion, position: number): Float32Array {
  return vectorAt(version.index.productVectors, position, version.dim);
}

/**
 * The k nearest products to `query`, best first; `exclude` (a position) is left out, which is how
 * "similar to P" avoids answering P itself.
 */
export async function nearestProducts(version: LoadedVersion, query: Float32Array, k: number, exclude?: number): Promise<ProductHit[]> {
  const { products, productRows } = version.index;
  const total = products.ntotal();
  // faiss-node refuses k above ntotal; one extra when a position will be dropped.
  const asked = Math.min(total, k + (exclude === undefined ? 0 : 1));
  // faiss asserts k > 0 in native code, which aborts the process: never hand it anything else.
  if (!Number.isSafeInteger(asked) || asked < 1) return [];
  // On a libuv worker thread (the project's faiss build): the event loop serves other requests meanwhile.
  const { labels, distances } = await products.searchAsync(query, asked);
  const hits: ProductHit[] = [];
  labels.forEach((label, rank) => {
    // HNSW pads with -1 when it finds fewer than asked.
    if (label < 0 || label >= productRows.length || label === exclude || hits.length >= k) return;
    hits.push({
      id: productRows.id(label),
      title: productRows.title(label),
      root: productRows.root(label),
      priceMinor: productRows.priceMinor(label),
      town: productRows.town(label),
      score: distances[rank]!,
    });
  });
  return hits;
}

export interface ImageLimits {
  /** Decoded width × height above which an upload is refused before it is decompressed. */
  maxPixels: number;
}

/** An uploaded picture, letterboxed exactly as the catalogue's pictures were for training. */
export async function searchImage(version: LoadedVersion, bytes: Buffer, k: number, limits: ImageLimits): Promise<ProductHit[]> {
  const image = version.embedder.metadata.image;
  // Refuse before decoding: a text-only model has nothing to compare a picture with.
  if (!image) throw new ModalityError(`model ${version.modelVersion} was trained without pictures: it cannot search by image`);
  const pixels = await imagePixels(bytes, { size: image.inputSize, maxPixels: limits.maxPixels });
  const encoded = await version.embedder.embedImages([pixels]);
  return nearestProducts(version, encoded.embeddings.subarray(0, version.dim), k);
}
