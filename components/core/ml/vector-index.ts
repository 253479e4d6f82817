/**
 * A FAISS index over unit vectors (inner product = cosine), chosen by size: exact (`Flat`) up to a
 * threshold, HNSW above it, with efSearch raised until the recall@k measured against exact search on
 * a sample reaches the target. Or, given the service's memory budget, chosen by memory: Flat while it
 * fits, then HNSW over 8-bit scalar-quantised vectors, IVF with SQ8, IVF with PQ (trained on an even
 * sample), nprobe/efSearch raised until the recall target is met. The choice and the recall travel with the index, so a reader knows
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
  // faiss's OpenMP threads sleep, not spin, between parallel regions (libgomp reads this when faiss-node
  // loads): on a machine shared with other work (a CI runner, a node beside other pods), spinning threads
  // took PQ training from 1 s to 12 s here. Set it in the environment to override.
  process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
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
  /** Without a memory budget: up to this many vectors the index is exact, HNSW above. */
  exactUpTo?: number;
  /**
   * The bytes the search service may spend on this index (a setting of the service). With it the type is
   * chosen by memory: Flat while it fits, then the compressed types that fit, best first, each tuned
   * (nprobe / efSearch) until recall@k against exact search on a sample reaches the target.
   */
  memoryBudgetBytes?: number;
  /** Recall@k that an approximate index must reach on the sample (its search parameter is raised until it does). */
  recallTarget?: number;
  k?: number;
  /** Queries drawn for the recall measurement. */
  sample?: number;
  /** Vectors a trained index (IVF, PQ, SQ) is trained on, drawn evenly (default 50,000, at least 39 per list). */
  trainSample?: number;
}

export interface BuiltIndex {
  index: Faiss.Index | Faiss.IndexFlatIP;
  /** The faiss factory string (`Flat`, `HNSW32,Flat`, `HNSW32,SQ8`, `IVF1024,SQ8`, `IVF1024,PQ64`). */
  type: string;
  vectors: number;
  /** Measured recall@k against exact search (1 for Flat, by construction). */
  recall: number;
  k: number;
  efSearch?: number;
  nprobe?: number;
  /** The serialised index's size: what the service holds in memory for it. */
  bytes?: number;
  /** The budget it was chosen under, and whether the recall target was met within it. */
  memoryBudgetBytes?: number;
  recallTarget?: number;
  recallTargetMet?: boolean;
  /** The candidates tried, in order: type, estimated bytes, measured recall (null: over budget, not built). */
  candidates?: { type: string; estimatedBytes: number; recall: number | null; parameter?: number }[];
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

/** Recall@k of `index` against exact labels (n*k) for the queries (n*d), all in one call each. */
function recallAgainst(index: Faiss.Index, queries: Float32Array, truth: Int32Array, k: number): number {
  const found = index.searchFloat32(queries, k).labels;
  const n = truth.length / k;
  let hits = 0;
  for (let q = 0; q < n; q++) {
    const expected = new Set(truth.subarray(q * k, q * k + k));
    for (let j = 0; j < k; j++) if (expected.has(found[q * k + j]!)) hits += 1;
  }
  return n === 0 ? 1 : hits / (n * k);
}

/**
 * `take` distinct rows of `vectors` drawn at random with a fixed seed (deterministic; random rather than
 * evenly spaced, which can alias with an ordering of the collection and sample one part of it).
 */
function sampleRows(vectors: Float32Array, dims: number, count: number, take: number, seed = 17): Float32Array {
  const out = new Float32Array(take * dims);
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  // Selection sampling (Knuth's algorithm S): each row kept with the probability that leaves `take` in all.
  let kept = 0;
  for (let row = 0; row < count && kept < take; row++) {
    if ((count - row) * next() < take - kept) {
      out.set(vectors.subarray(row * dims, (row + 1) * dims), kept * dims);
      kept += 1;
    }
  }
  return out;
}

/** Bytes an index of each type holds for n vectors of d (faiss's layouts; ids are int64 in IVF lists). */
export function estimatedBytes(type: string, n: number, d: number): number {
  const ivf = /^IVF(\d+),/.exec(type);
  const centroids = ivf ? Number(ivf[1]) * d * 4 : 0;
  if (type === 'Flat') return n * d * 4;
  // HNSW: level-0 links 2M int32, upper levels ~M/(M-1)... about 2.1M links a vector in all.
  if (type.startsWith('HNSW32,')) return n * ((type.endsWith('SQ8') ? d : 4 * d) + Math.ceil(2.1 * 32 * 4) + 8);
  if (type.endsWith(',SQ8')) return centroids + n * (d + 8) + 2 * d * 4;
  const pq = /,PQ(\d+)(np)?$/.exec(type);
  if (pq) return centroids + n * (Number(pq[1]) + 8) + d * 256 * 4;
  throw new Error(`no size estimate for index type ${type}`);
}

/** The types a budget may choose from, most memory (and recall) first. */
export function indexCandidates(n: number, d: number): string[] {
  // About 4 sqrt(n) lists, a power of two, at least 16: faiss's guideline for IVF.
  // (and no more than n / 39, so that each list has the 39 training points faiss asks for).
  const nlist = Math.max(16, Math.min(2 ** Math.round(Math.log2(4 * Math.sqrt(n))), 2 ** Math.floor(Math.log2(Math.max(1, n / 39)))));
  const pq = [d / 2, d / 4, d / 8, d / 16].filter((m) => Number.isInteger(m) && m >= 4 && m <= 64);
  // `np`: no polysemous training (a slow code reordering that only Hamming-distance search uses).
  const compressed = ['HNSW32,SQ8', `IVF${nlist},SQ8`, ...pq.map((m) => `IVF${nlist},PQ${m}np`)]
    // Only what is smaller than the exact index, largest (most faithful) first.
    .filter((type) => estimatedBytes(type, n, d) < estimatedBytes('Flat', n, d))
    .sort((a, b) => estimatedBytes(b, n, d) - estimatedBytes(a, n, d));
  return ['Flat', ...compressed];
}

const asFloat32 = (vectors: Float32Array | readonly number[]) => (vectors instanceof Float32Array ? vectors : Float32Array.from(vectors));

export function buildVectorIndex(input: Float32Array | readonly number[], dims: number, options: VectorIndexOptions = {}): BuiltIndex {
  const vectors = asFloat32(input);
  const count = vectors.length / dims;
  if (!Number.isInteger(count)) throw new Error(`${vectors.length} numbers are not whole vectors of ${dims}`);
  const k = Math.min(options.k ?? 10, Math.max(1, count));
  const faiss = loadFaiss();
  if (options.memoryBudgetBytes !== undefined) return buildWithinBudget(vectors, dims, count, k, options.memoryBudgetBytes, options);
  const flat = new faiss.IndexFlatIP(dims);
  flat.addFloat32(vectors);
  if (count <= (options.exactUpTo ?? 100_000)) return { index: flat, type: 'Flat', vectors: count, recall: 1, k };

  const hnsw = faiss.Index.fromFactory(dims, 'HNSW32,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
  hnsw.addFloat32(vectors);
  const { queries, truth } = recallSample(flat, vectors, dims, count, k, options.sample);
  const target = options.recallTarget ?? 0.95;
  let recall = 0;
  let efSearch = EF_SEARCH_STEPS[0]!;
  for (efSearch of EF_SEARCH_STEPS) {
    hnsw.setSearchParameter('efSearch', efSearch);
    recall = recallAgainst(hnsw, queries, truth, k);
    if (recall >= target) break;
  }
  return { index: hnsw, type: 'HNSW32,Flat', vectors: count, recall, k, efSearch };
}

/** Evenly spaced stored vectors as queries, and their exact top-k from `exact`. */
function recallSample(exact: Faiss.Index, vectors: Float32Array, dims: number, count: number, k: number, sample?: number) {
  const queries = sampleRows(vectors, dims, count, Math.min(sample ?? 200, count));
  return { queries, truth: exact.searchFloat32(queries, k).labels };
}

/**
 * The first candidate that fits the budget and reaches the recall target; when none reaches it, the one
 * of those that fit with the best recall (recallTargetMet: false). Exact search for the recall sample is
 * a scan of the stored vectors (no second copy is built).
 */
function buildWithinBudget(
  vectors: Float32Array,
  dims: number,
  count: number,
  k: number,
  budget: number,
  options: VectorIndexOptions,
): BuiltIndex {
  const faiss = loadFaiss();
  const target = options.recallTarget ?? 0.95;
  const candidates: NonNullable<BuiltIndex['candidates']> = [];
  const make = (type: string) =>
    type === 'Flat' ? new faiss.IndexFlatIP(dims) : faiss.Index.fromFactory(dims, type, faiss.MetricType.METRIC_INNER_PRODUCT);
  if (estimatedBytes('Flat', count, dims) <= budget) {
    const flat = make('Flat');
    flat.addFloat32(vectors);
    const bytes = flat.toBuffer().length;
    candidates.push({ type: 'Flat', estimatedBytes: estimatedBytes('Flat', count, dims), recall: 1 });
    return {
      index: flat,
      type: 'Flat',
      vectors: count,
      recall: 1,
      k,
      bytes,
      memoryBudgetBytes: budget,
      recallTarget: target,
      recallTargetMet: true,
      candidates,
    };
  }
  // The exact answers for the sample: a flat index over the sample's queries' neighbours needs all vectors,
  // so exact search is done shard by shard over the stored vectors (a flat index of one shard at a time).
  const queries = sampleRows(vectors, dims, count, Math.min(options.sample ?? 200, count));
  const truth = exactTopK(vectors, dims, count, queries, k);
  let best: BuiltIndex | undefined;
  for (const type of indexCandidates(count, dims).slice(1)) {
    const estimate = estimatedBytes(type, count, dims);
    if (estimate > budget) {
      candidates.push({ type, estimatedBytes: estimate, recall: null });
      continue;
    }
    const index = make(type);
    if (!index.isTrained()) {
      const nlist = Number(/^IVF(\d+),/.exec(type)?.[1] ?? 1);
      const take = Math.min(count, Math.max(options.trainSample ?? 50_000, 39 * nlist));
      index.trainFloat32(sampleRows(vectors, dims, count, take));
    }
    index.addFloat32(vectors);
    const ivf = type.startsWith('IVF');
    const nlist = Number(/^IVF(\d+),/.exec(type)?.[1] ?? 0);
    const steps = ivf ? [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024].filter((p) => p <= nlist) : EF_SEARCH_STEPS;
    let recall = 0;
    let parameter = steps[0]!;
    for (parameter of steps) {
      index.setSearchParameter(ivf ? 'nprobe' : 'efSearch', parameter);
      recall = recallAgainst(index, queries, truth, k);
      if (recall >= target) break;
    }
    candidates.push({ type, estimatedBytes: estimate, recall, parameter });
    const built: BuiltIndex = {
      index,
      type,
      vectors: count,
      recall,
      k,
      ...(ivf ? { nprobe: parameter } : { efSearch: parameter }),
      bytes: index.toBuffer().length,
      memoryBudgetBytes: budget,
      recallTarget: target,
      recallTargetMet: recall >= target,
      candidates,
    };
    if (recall >= target) return built;
    if (!best || recall > best.recall) best = built;
  }
  if (!best) {
    const smallest = Math.min(...candidates.map((c) => c.estimatedBytes));
    throw new Error(
      `no index type fits a memory budget of ${budget} bytes for ${count} vectors of ${dims} (the smallest needs about ${smallest})`,
    );
  }
  return { ...best, candidates };
}

/** Exact top-k (inner product) of `queries` over `vectors`, a flat index of at most 100,000 vectors at a time. */
function exactTopK(vectors: Float32Array, dims: number, count: number, queries: Float32Array, k: number): Int32Array {
  const faiss = loadFaiss();
  const n = queries.length / dims;
  const bestD = new Float32Array(n * k).fill(-Infinity);
  const bestL = new Int32Array(n * k).fill(-1);
  const shard = 100_000;
  for (let start = 0; start < count; start += shard) {
    const rows = Math.min(shard, count - start);
    const flat = new faiss.IndexFlatIP(dims);
    flat.addFloat32(vectors.subarray(start * dims, (start + rows) * dims));
    const found = flat.searchFloat32(queries, Math.min(k, rows));
    const kk = Math.min(k, rows);
    for (let q = 0; q < n; q++) {
      const merged: [number, number][] = [];
      for (let j = 0; j < k; j++) if (bestL[q * k + j]! >= 0) merged.push([bestD[q * k + j]!, bestL[q * k + j]!]);
      for (let j = 0; j < kk; j++) merged.push([found.distances[q * kk + j]!, found.labels[q * kk + j]! + start]);
      merged.sort((a, b) => b[0] - a[0]);
      for (let j = 0; j < k; j++) {
        bestD[q * k + j] = merged[j]?.[0] ?? -Infinity;
        bestL[q * k + j] = merged[j]?.[1] ?? -1;
      }
    }
  }
  return bestL;
}

/** An index read back from its bytes, with the search parameter it was measured with. */
export function loadVectorIndex(bytes: Buffer, built: Pick<BuiltIndex, 'type' | 'efSearch' | 'nprobe'>): Faiss.Index {
  const index = loadFaiss().Index.fromBuffer(bytes);
  if (built.type !== 'Flat' && built.efSearch) index.setSearchParameter('efSearch', built.efSearch);
  if (built.type !== 'Flat' && built.nprobe) index.setSearchParameter('nprobe', built.nprobe);
  return index;
}
