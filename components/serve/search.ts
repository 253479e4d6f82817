/**
 * Image search on one loaded version (a picture's vector against the products index), and the stored
 * product vectors buyers and similar start from. Text search is ranking.ts (hybrid, lexical, dense).
 */
import { imagePixels, ModalityError, row } from '../core/ml/index.js';
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

/** The stored vector of the product at `position` (the index component wrote them in vector order). */
export function productVector(version: LoadedVersion, position: number): number[] {
  return row(version.index.productVectors, position, version.dim);
}

/**
 * The k nearest products to `query`, best first; `exclude` (a position) is left out, which is how
 * "similar to P" avoids answering P itself.
 */
export function nearestProducts(version: LoadedVersion, query: number[], k: number, exclude?: number): ProductHit[] {
  const { products, productRows } = version.index;
  const total = products.ntotal();
  // faiss-node refuses k above ntotal; one extra when a position will be dropped.
  const asked = Math.min(total, k + (exclude === undefined ? 0 : 1));
  // faiss asserts k > 0 in native code, which aborts the process: never hand it anything else.
  if (!Number.isSafeInteger(asked) || asked < 1) return [];
  const { labels, distances } = products.search(query, asked);
  const hits: ProductHit[] = [];
  labels.forEach((label, rank) => {
    // HNSW pads with -1 when it finds fewer than asked.
    if (label < 0 || label === exclude || hits.length >= k) return;
    const product = productRows[label];
    if (!product) return;
    hits.push({
      id: product.id,
      title: product.title,
      root: product.root,
      priceMinor: product.priceMinor,
      town: product.town,
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
  return nearestProducts(version, row(encoded.embeddings, 0, version.dim), k);
}
