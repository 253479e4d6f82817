/**
 * One servable version: a model (ONNX encoders) and the index built with it, opened together and
 * checked against each other, with the lookups every request needs built once at load time.
 */
import type { ArtifactStore } from '../core/platform/index.js';
import { loadFaiss, openEmbedder, openSearchIndex, type Embedder, type SearchIndex } from '../core/ml/index.js';
import { buildSearchView, type SearchView, type SearchViewOptions } from './search-view.js';

/** What the service is told to serve: from `serving/current.json`, or pinned by the environment. */
export interface ServingTarget {
  modelVersion: string;
  indexVersion: string;
}

export const sameTarget = (a: ServingTarget | null | undefined, b: ServingTarget | null | undefined): boolean =>
  !!a && !!b && a.modelVersion === b.modelVersion && a.indexVersion === b.indexVersion;

export const describeTarget = (target: ServingTarget): string => `model ${target.modelVersion} + index ${target.indexVersion}`;

export interface LoadedVersion extends ServingTarget {
  embedder: Embedder;
  index: SearchIndex;
  /** Product embedding width (= the model's embeddingDim = the products index's dim). */
  dim: number;
  /** Product id → its position in vector order (a table over the rows' id column, not a Map of strings). */
  positionById: { get(id: string): number | undefined };
  /** The ranker's view of this version (lexical + dense), its categories, towns and dates: swapped with it. */
  search: SearchView;
  loadedAt: Date;
  /** Closes the model's sessions and stops the view's threads. */
  close(): Promise<void>;
}

/** A version that cannot be served (an index built with another model, mismatched widths). */
export class IncompatibleVersionError extends Error {
  override name = 'IncompatibleVersionError';
}

/**
 * Opens the model and the index in parallel. The index must have been built with this very model:
 * its vectors live in that model's embedding space, and a query embedded by any other model would
 * return confident nonsense.
 */
export interface LoadOptions extends SearchViewOptions {
  /**
   * How the product vectors are held (openSearchIndex): 'int8' by default, a quarter of float32's
   * memory (the FAISS index answers the dense search; the vectors give the cosines of lexical
   * candidates and the start of similar and buyers); 'float32' holds them as published.
   */
  productVectors?: 'float32' | 'int8';
}

export async function loadVersion(store: ArtifactStore, target: ServingTarget, options: LoadOptions = {}): Promise<LoadedVersion> {
  // One query a call: faiss's OpenMP team only adds spinning and hand-offs (HNSW one query a call was
  // 8x slower at 2 threads than at 1 on a busy machine); concurrency comes from the requests.
  loadFaiss().setOmpThreads(1);
  const [embedder, index] = await Promise.allSettled([
    openEmbedder(store, target.modelVersion),
    openSearchIndex(store, target.indexVersion, { productVectors: options.productVectors ?? 'int8' }),
  ]);
  if (embedder.status === 'rejected' || index.status === 'rejected') {
    if (embedder.status === 'fulfilled') await embedder.value.close();
    throw embedder.status === 'rejected' ? embedder.reason : (index as PromiseRejectedResult).reason;
  }
  try {
    return assemble(target, embedder.value, index.value, options);
  } catch (error) {
    await embedder.value.close();
    throw error;
  }
}

function assemble(target: ServingTarget, embedder: Embedder, index: SearchIndex, options: LoadOptions): LoadedVersion {
  const { metadata } = index;
  if (metadata.modelVersion !== target.modelVersion) {
    throw new IncompatibleVersionError(
      `index ${target.indexVersion} was built with model ${metadata.modelVersion}, not ${target.modelVersion}`,
    );
  }
  const dim = embedder.metadata.embeddingDim;
  if (metadata.products.dim !== dim)
    throw new IncompatibleVersionError(
      `index ${target.indexVersion} holds ${metadata.products.dim}-d product vectors; model ${target.modelVersion} embeds in ${dim}`,
    );
  if (metadata.buyers.dim !== dim + metadata.buyers.demographicDim) {
    throw new IncompatibleVersionError(
      `index ${target.indexVersion}: buyer vectors of ${metadata.buyers.dim} are not ${dim} interest + ${metadata.buyers.demographicDim} demographic dimensions`,
    );
  }
  const rows = index.productRows;
  const positionById = { get: (id: string) => rows.positionOf(id) };
  const search = buildSearchView(index, options);
  const close = async () => {
    await Promise.all([embedder.close(), search.close()]);
  };
  return { ...target, embedder, index, dim, positionById, search, loadedAt: new Date(), close };
}
