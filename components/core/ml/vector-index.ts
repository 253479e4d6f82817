/**
 * A FAISS index over unit vectors (inner product = cosine), chosen by size: exact (`Flat`) up to a
 * threshold, HNSW above it, with efSearch raised until the recall@k measured against exact search on
 * a sample reaches the target. The choice and the recall travel with the index, so a reader knows
 * what it serves.
 */
import { createRequire } from 'node:module';
import type * as Faiss from 'faiss-node';

const require = createRequire(import.meta.url);

let loaded: typeof Faiss | undefined;

/**
 * faiss-node, loaded on first use: its native binding is built against Debian's libfaiss by the
 * postinstall (scripts/build-faiss.mjs), and only indexing, evaluation's retrieval and the search
 * service need it, so a machine without it can still load, clean and train.
 */
export function loadFaiss(): typeof Faiss {
  if (loaded) return loaded;
  try {
    loaded = require('faiss-node') as typeof Faiss;
  } catch (error) {
    throw new Error(
      "faiss-node's native binding is not built (it is compiled against Debian's libfaiss): run " +
        '`apt-get install -y libfaiss-dev libopenblas0-pthread && npm run build:faiss`',
      { cause: error },
    );
  }
  return loaded;
}

export interface VectorIndexOptions {
  /** Up to this many vectors the index is exact. */
  exactUpTo?: number;
  /** Recall@k that HNSW must reach on the sample (efSearch is raised until it does). */
  recallTarget?: number;
  k?: number;
  /** Queries drawn for the recall measurement. */
  sample?: number;
}

export interface BuiltIndex {
  index: Faiss.Index | Faiss.IndexFlatIP;
  type: 'Flat' | 'HNSW32,Flat';
  vectors: number;
  /** Measured recall@k against exact search (1 for Flat, by construction). */
  recall: number;
  k: number;
  efSearch?: number;
}

const EF_SEARCH_STEPS = [16, 32, 64, 128, 256, 512, 1024];

type Searchable = { search(query: number[], k: number): { labels: number[] } };

/** Share of the exact top-k that `index` returns, over `queries`. */
export function recallAt(k: number, index: Searchable, exact: Searchable, queries: readonly number[][]): number {
  let found = 0;
  for (const query of queries) {
    const truth = new Set(exact.search(query, k).labels);
    found += index.search(query, k).labels.filter((label) => truth.has(label)).length;
  }
  return queries.length === 0 ? 1 : found / (k * queries.length);
}

export function buildVectorIndex(vectors: readonly number[], dims: number, options: VectorIndexOptions = {}): BuiltIndex {
  const count = vectors.length / dims;
  if (!Number.isInteger(count)) throw new Error(`${vectors.length} numbers are not whole vectors of ${dims}`);
  const k = Math.min(options.k ?? 10, Math.max(1, count));
  const faiss = loadFaiss();
  const flat = new faiss.IndexFlatIP(dims);
  flat.add([...vectors]);
  if (count <= (options.exactUpTo ?? 100_000)) return { index: flat, type: 'Flat', vectors: count, recall: 1, k };

  const hnsw = faiss.Index.fromFactory(dims, 'HNSW32,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
  hnsw.add([...vectors]);
  // Evenly spaced stored vectors as queries: deterministic, and spread over the whole collection.
  const sample = Math.min(options.sample ?? 200, count);
  const queries = Array.from({ length: sample }, (_, i) => {
    const at = Math.floor((i * count) / sample) * dims;
    return vectors.slice(at, at + dims);
  });
  const target = options.recallTarget ?? 0.95;
  let recall = 0;
  let efSearch = EF_SEARCH_STEPS[0]!;
  for (efSearch of EF_SEARCH_STEPS) {
    hnsw.setSearchParameter('efSearch', efSearch);
    recall = recallAt(k, hnsw, flat, queries);
    if (recall >= target) break;
  }
  return { index: hnsw, type: 'HNSW32,Flat', vectors: count, recall, k, efSearch };
}

/** An index read back from its bytes, with the search parameter it was measured with. */
export function loadVectorIndex(bytes: Buffer, built: Pick<BuiltIndex, 'type' | 'efSearch'>): Faiss.Index {
  const index = loadFaiss().Index.fromBuffer(bytes);
  if (built.type !== 'Flat' && built.efSearch) index.setSearchParameter('efSearch', built.efSearch);
  return index;
}
