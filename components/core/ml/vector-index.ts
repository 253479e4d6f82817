/**
 * A FAISS index over unit vectors (inner product = cosine), chosen by size: exact (`Flat`) up to a
 * threshold, HNSW above it, with efSearch raised until the recall@k measured against exact search on
 * a sample reaches the target. Or, given the service's memory budget, chosen by memory: Flat while it
 * fits, then HNSW over 8-bit scalar-quantised vectors, IVF with SQ8, IVF with PQ (trained on a random
 * sample; from 4,096 lists on, the lists to probe found through an HNSW graph over the centroids),
 * nprobe/efSearch raised until the recall target is met. The choice and the recall travel with the index, so a reader knows
 * what it serves. The vectors may be in memory or in shards (the embedding fanned out over pods), read
 * one shard at a time: `buildVectorIndexFromShards`.
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
  /**
   * The recall measurement's queries (n × dims), when the caller has better ones than the indexed vectors
   * themselves: what the service will be asked. Text queries embedded by the query tower land where the
   * catalogue is sparser than its own listings do: at 10^6 listings, nprobe 2 gave 0.978 with listings as
   * queries and 0.767 with two-word queries (bench/scale/query-recall.ts).
   */
  queries?: Float32Array;
  /** Vectors a trained index (IVF, PQ, SQ) is trained on, drawn at random (default 50,000, at least 39 per list). */
  trainSample?: number;
  /** IVF lists from which the coarse quantizer is an HNSW graph (default HNSW_QUANTIZER_FROM). */
  hnswQuantizerFrom?: number;
}

export interface BuiltIndex {
  index: Faiss.Index | Faiss.IndexFlatIP;
  /** The faiss factory string (`Flat`, `HNSW32,Flat`, `HNSW32,SQ8`, `IVF1024,SQ8`, `IVF1024,PQ64`). */
  type: string;
  vectors: number;
  /**
   * Measured recall@k against exact search on a sample (1 for Flat, by construction): the share of the
   * results whose exact inner product reaches the exact k-th's less 1e-3 (TIE_EPSILON), so that equal
   * vectors count as the equals they are.
   */
  recall: number;
  /** The strict share of the exact top-k's own labels among the results (absent for an exact index: 1). */
  labelRecall?: number;
  /** What recall was measured with: the caller's queries (options.queries), or a sample of the listings. */
  recallQueries?: 'given' | 'listings';
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

/**
 * How far below the exact k-th inner product a result may score and still count as one of the k
 * nearest (ann-benchmarks' "k-nn" recall, which allows 1e-3 on distances). Without it, a catalogue with
 * identical or all but identical vectors (the same listing posted twice, recombined synthetic listings)
 * has an exact top k that is an arbitrary pick among equals, and SQ8's own error on an inner product
 * (about 3e-4 at 256 dimensions) reorders listings closer than that: an index returning the other
 * equals scored as missing them (0.77 at 10^6 synthetic listings). The strict share of the exact
 * labels is still recorded beside it (`labelRecall`).
 */
export const TIE_EPSILON = 1e-3;

/**
 * Tunes the search parameter: the answers of `index` to the queries at each setting, then one pass over
 * the vectors to score every answer exactly, then the recall at each setting. A result is a hit when its
 * exact inner product reaches the query's exact k-th (less TIE_EPSILON). The index is left at the first
 * setting that reaches `target`, else the last, and that setting's recall returned.
 */
function* tuneRecall(
  shards: VectorShards,
  index: Faiss.Index,
  name: 'nprobe' | 'efSearch',
  steps: readonly number[],
  queries: Float32Array,
  truth: ExactTopK,
  k: number,
  target: number,
): Work<{ recall: number; labelRecall: number; parameter: number }> {
  const answers = steps.map((step) => {
    index.setSearchParameter(name, step);
    return index.searchFloat32(queries, k).labels;
  });
  const scores = yield* exactScores(shards, queries, answers, k);
  const n = queries.length / shards.dims;
  let chosen = { recall: 0, labelRecall: 0, parameter: steps[0]! };
  for (let s = 0; s < steps.length; s++) {
    let hits = 0;
    let labelHits = 0;
    for (let q = 0; q < n; q++) {
      const kth = truth.scores[q * k + k - 1]! - TIE_EPSILON;
      const exactLabels = new Set(truth.labels.subarray(q * k, q * k + k));
      for (let j = 0; j < k; j++) {
        const label = answers[s]![q * k + j]!;
        if (label >= 0 && scores[s]![q * k + j]! >= kth) hits += 1;
        if (exactLabels.has(label)) labelHits += 1;
      }
    }
    const share = (found: number) => (n === 0 ? 1 : found / (n * k));
    chosen = { recall: share(hits), labelRecall: share(labelHits), parameter: steps[s]! };
    if (chosen.recall >= target) break;
  }
  index.setSearchParameter(name, chosen.parameter);
  return chosen;
}

/** The exact inner product of each query with each label answered for it (n*k a list, k a query), in one pass over the shards. */
function* exactScores(shards: VectorShards, queries: Float32Array, answers: readonly ArrayLike<number>[], k: number): Work<Float32Array[]> {
  const { dims, counts } = shards;
  const scores = answers.map((labels) => new Float32Array(labels.length).fill(-Infinity));
  // Every (list, position) that asks for each label.
  const wanted = new Map<number, [number, number][]>();
  answers.forEach((labels, a) => {
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (label < 0) continue;
      const askers = wanted.get(label);
      if (askers) askers.push([a, i]);
      else wanted.set(label, [[a, i]]);
    }
  });
  let offset = 0;
  for (let shard = 0; shard < counts.length; offset += counts[shard]!, shard++) {
    const inShard = [...wanted.keys()].filter((label) => label >= offset && label < offset + counts[shard]!);
    if (inShard.length === 0) continue;
    const vectors = yield shard;
    for (const label of inShard) {
      const row = vectors.subarray((label - offset) * dims, (label - offset + 1) * dims);
      for (const [a, i] of wanted.get(label)!) {
        const q = Math.floor(i / k);
        let dot = 0;
        for (let d = 0; d < dims; d++) dot += queries[q * dims + d]! * row[d]!;
        scores[a]![i] = dot;
      }
    }
  }
  return scores;
}

/**
 * Vectors held in shards (n_0 + n_1 + … rows of `dims`, row r of shard s being vector n_0 + … + n_{s-1} + r):
 * what the index is built from, one shard read at a time. An index built from shards is the index built
 * from their concatenation; only a shard (plus the training and recall samples) is in memory at once,
 * besides the index itself (a Flat or HNSW-Flat index holds every vector by construction; IVF-SQ8/PQ and
 * HNSW-SQ8 hold their codes).
 */
export interface VectorShards {
  dims: number;
  /** Rows in each shard, in order. */
  counts: readonly number[];
}

/**
 * The build's work, written once for both kinds of source: a generator that yields the number of the
 * shard it needs next and is resumed with its vectors. `runSync` feeds it from memory, `runAsync` from
 * an artifact store.
 */
type Work<T> = Generator<number, T, Float32Array>;

function runSync<T>(work: Work<T>, read: (shard: number) => Float32Array): T {
  let step = work.next();
  while (!step.done) step = work.next(read(step.value));
  return step.value;
}

async function runAsync<T>(work: Work<T>, read: (shard: number) => Promise<Float32Array>): Promise<T> {
  let step = work.next();
  while (!step.done) step = work.next(await read(step.value));
  return step.value;
}

const total = (counts: readonly number[]) => counts.reduce((a, b) => a + b, 0);

/** A shard's vectors, checked against the row count the shards declared. */
function checkedShard(shards: VectorShards, shard: number, vectors: Float32Array): Float32Array {
  const expected = (shards.counts[shard] ?? Number.NaN) * shards.dims;
  if (vectors.length !== expected)
    throw new Error(`shard ${shard} holds ${vectors.length} numbers where ${shards.counts[shard]} vectors of ${shards.dims} were declared`);
  return vectors;
}

/**
 * `take` distinct rows drawn at random with a fixed seed across the shards (deterministic, and the same
 * rows however the vectors are sharded; random rather than evenly spaced, which can alias with an
 * ordering of the collection and sample one part of it). A shard none of whose rows is drawn is not read.
 */
function* sampleRows(shards: VectorShards, take: number, seed = 17): Work<Float32Array> {
  const { dims, counts } = shards;
  const count = total(counts);
  const out = new Float32Array(take * dims);
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  // Selection sampling (Knuth's algorithm S): each row kept with the probability that leaves `take` in all.
  let kept = 0;
  let row = 0;
  for (let shard = 0; shard < counts.length && kept < take; shard++) {
    const picks: number[] = [];
    for (let r = 0; r < counts[shard]! && kept + picks.length < take; r++, row++) {
      if ((count - row) * next() < take - kept - picks.length) picks.push(r);
    }
    if (picks.length === 0) continue;
    const vectors = yield shard;
    for (const r of picks) out.set(vectors.subarray(r * dims, (r + 1) * dims), kept++ * dims);
  }
  return out;
}

/** Adds every shard to `index`, in order (the labels are the rows' positions in the concatenation). */
function* addShards(index: Faiss.Index, shards: VectorShards): Work<void> {
  for (let shard = 0; shard < shards.counts.length; shard++) if (shards.counts[shard]! > 0) index.addFloat32(yield shard);
}

/** The number of lists of an IVF type (`IVF4096,SQ8`, `IVF4096_HNSW32,SQ8`); 0 for any other type. */
export const ivfLists = (type: string): number => Number(/^IVF(\d+)(_HNSW32)?,/.exec(type)?.[1] ?? 0);

/** HNSW links a vector holds: level-0 links 2M int32, upper levels ~M/(M-1)... about 2.1M links in all, plus its level. */
const hnswLinkBytes = Math.ceil(2.1 * 32 * 4) + 8;

/** Bytes an index of each type holds for n vectors of d (faiss's layouts; ids are int64 in IVF lists). */
export function estimatedBytes(type: string, n: number, d: number): number {
  const nlist = ivfLists(type);
  // The coarse quantizer: the centroids, and with an HNSW quantizer its links too.
  const centroids = nlist * (d * 4 + (type.includes('_HNSW32,') ? hnswLinkBytes : 0));
  if (type === 'Flat') return n * d * 4;
  if (type.startsWith('HNSW32,')) return n * ((type.endsWith('SQ8') ? d : 4 * d) + hnswLinkBytes);
  if (type.endsWith(',SQ8')) return centroids + n * (d + 8) + 2 * d * 4;
  const pq = /,PQ(\d+)(np)?$/.exec(type);
  if (pq) return centroids + n * (Number(pq[1]) + 8) + d * 256 * 4;
  throw new Error(`no size estimate for index type ${type}`);
}

/**
 * From this many lists on, an IVF index finds the lists to probe with an HNSW graph over the centroids
 * (`IVF4096_HNSW32,SQ8`), not by comparing the query with every centroid: faiss's guideline for 10^6
 * vectors and more. At 4,096 lists of 256-d (10^6 listings) the exhaustive comparison was 0.48 of a
 * 1.09 ms query (nprobe 8, one thread, Debian's faiss); with the graph the query took 0.77 ms at about the
 * same recall (docs/benchmarks.md). Below it, the exhaustive comparison is cheap and exact.
 */
export const HNSW_QUANTIZER_FROM = 4096;

/** How many centroids the HNSW quantizer visits (its efSearch) to find the lists to probe. */
export const QUANTIZER_EF_SEARCH = 64;

/** The types a budget may choose from, most memory (and recall) first. */
export function indexCandidates(n: number, d: number, hnswQuantizerFrom = HNSW_QUANTIZER_FROM): string[] {
  // About 4 sqrt(n) lists, a power of two, at least 16: faiss's guideline for IVF.
  // (and no more than n / 39, so that each list has the 39 training points faiss asks for).
  const nlist = Math.max(16, Math.min(2 ** Math.round(Math.log2(4 * Math.sqrt(n))), 2 ** Math.floor(Math.log2(Math.max(1, n / 39)))));
  const ivf = `IVF${nlist}${nlist >= hnswQuantizerFrom ? '_HNSW32' : ''}`;
  const pq = [d / 2, d / 4, d / 8, d / 16].filter((m) => Number.isInteger(m) && m >= 4 && m <= 64);
  // `np`: no polysemous training (a slow code reordering that only Hamming-distance search uses).
  const compressed = ['HNSW32,SQ8', `${ivf},SQ8`, ...pq.map((m) => `${ivf},PQ${m}np`)]
    // Only what is smaller than the exact index, largest (most faithful) first.
    .filter((type) => estimatedBytes(type, n, d) < estimatedBytes('Flat', n, d))
    .sort((a, b) => estimatedBytes(b, n, d) - estimatedBytes(a, n, d));
  return ['Flat', ...compressed];
}

const asFloat32 = (vectors: Float32Array | readonly number[]) => (vectors instanceof Float32Array ? vectors : Float32Array.from(vectors));

/** Rows of an in-memory collection handed to the build at a time (views, not copies). */
const IN_MEMORY_SHARD = 100_000;

/** The index over vectors held in memory (n × dims, row order = label order). */
export function buildVectorIndex(input: Float32Array | readonly number[], dims: number, options: VectorIndexOptions = {}): BuiltIndex {
  const vectors = asFloat32(input);
  const count = vectors.length / dims;
  if (!Number.isInteger(count)) throw new Error(`${vectors.length} numbers are not whole vectors of ${dims}`);
  const counts = Array.from({ length: Math.ceil(count / IN_MEMORY_SHARD) }, (_, s) =>
    Math.min(IN_MEMORY_SHARD, count - s * IN_MEMORY_SHARD),
  );
  const shards: VectorShards = { dims, counts };
  return runSync(buildFromShards(shards, options), (s) =>
    vectors.subarray(s * IN_MEMORY_SHARD * dims, (s * IN_MEMORY_SHARD + counts[s]!) * dims),
  );
}

/**
 * The index over vectors held in shards (e.g. in an artifact store, one file a shard): the same index as
 * `buildVectorIndex` over their concatenation, reading one shard at a time (`read` is called again for a
 * shard each time the build passes over the vectors: sampling, training, adding, exact search).
 */
export async function buildVectorIndexFromShards(
  shards: VectorShards & { read(shard: number): Promise<Float32Array> },
  options: VectorIndexOptions = {},
): Promise<BuiltIndex> {
  return runAsync(buildFromShards(shards, options), async (s) => checkedShard(shards, s, await shards.read(s)));
}

function* buildFromShards(shards: VectorShards, options: VectorIndexOptions): Work<BuiltIndex> {
  const { dims } = shards;
  if (options.queries && (options.queries.length === 0 || options.queries.length % dims !== 0))
    throw new Error(`the recall queries hold ${options.queries.length} numbers, not whole vectors of ${dims}`);
  const count = total(shards.counts);
  const k = Math.min(options.k ?? 10, Math.max(1, count));
  const faiss = loadFaiss();
  if (options.memoryBudgetBytes !== undefined) return yield* buildWithinBudget(shards, count, k, options.memoryBudgetBytes, options);
  if (count <= (options.exactUpTo ?? 100_000)) {
    const flat = new faiss.IndexFlatIP(dims);
    yield* addShards(flat, shards);
    return { index: flat, type: 'Flat', vectors: count, recall: 1, k };
  }
  const hnsw = faiss.Index.fromFactory(dims, 'HNSW32,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
  yield* addShards(hnsw, shards);
  // The exact answers for the recall sample: a scan of the shards (no second, exact index of every vector).
  const queries = options.queries ?? (yield* sampleRows(shards, Math.min(options.sample ?? 200, count)));
  const truth = yield* exactTopK(shards, queries, k);
  const target = options.recallTarget ?? 0.95;
  const tuned = yield* tuneRecall(shards, hnsw, 'efSearch', EF_SEARCH_STEPS, queries, truth, k, target);
  return {
    index: hnsw,
    type: 'HNSW32,Flat',
    vectors: count,
    recall: tuned.recall,
    labelRecall: tuned.labelRecall,
    recallQueries: options.queries ? 'given' : 'listings',
    k,
    efSearch: tuned.parameter,
  };
}

/**
 * The first candidate that fits the budget and reaches the recall target; when none reaches it, the one
 * of those that fit with the best recall (recallTargetMet: false). Trained types are trained on a sample
 * drawn across the shards and filled shard by shard; exact search for the recall sample is a scan of the
 * shards (no second copy is built).
 */
function* buildWithinBudget(shards: VectorShards, count: number, k: number, budget: number, options: VectorIndexOptions): Work<BuiltIndex> {
  const { dims } = shards;
  const faiss = loadFaiss();
  const target = options.recallTarget ?? 0.95;
  const candidates: NonNullable<BuiltIndex['candidates']> = [];
  const make = (type: string) =>
    type === 'Flat' ? new faiss.IndexFlatIP(dims) : faiss.Index.fromFactory(dims, type, faiss.MetricType.METRIC_INNER_PRODUCT);
  if (estimatedBytes('Flat', count, dims) <= budget) {
    const flat = make('Flat');
    yield* addShards(flat, shards);
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
  const queries = options.queries ?? (yield* sampleRows(shards, Math.min(options.sample ?? 200, count)));
  const truth = yield* exactTopK(shards, queries, k);
  // Training samples by size: the IVF candidates share one (the same number of lists), drawn once.
  const trainingSamples = new Map<number, Float32Array>();
  let best: BuiltIndex | undefined;
  for (const type of indexCandidates(count, dims, options.hnswQuantizerFrom).slice(1)) {
    const estimate = estimatedBytes(type, count, dims);
    if (estimate > budget) {
      candidates.push({ type, estimatedBytes: estimate, recall: null });
      continue;
    }
    const index = make(type);
    const nlist = ivfLists(type);
    if (!index.isTrained()) {
      const take = Math.min(count, Math.max(options.trainSample ?? 50_000, 39 * nlist));
      if (!trainingSamples.has(take)) trainingSamples.set(take, yield* sampleRows(shards, take));
      index.trainFloat32(trainingSamples.get(take)!);
    }
    // Saved with the index (faiss serialises HNSW's efSearch): the service probes as tuned here.
    if (type.includes('_HNSW32,')) index.setSearchParameter('quantizer_efSearch', QUANTIZER_EF_SEARCH);
    yield* addShards(index, shards);
    const ivf = nlist > 0;
    const steps = ivf ? [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024].filter((p) => p <= nlist) : EF_SEARCH_STEPS;
    const { recall, labelRecall, parameter } = yield* tuneRecall(
      shards,
      index,
      ivf ? 'nprobe' : 'efSearch',
      steps,
      queries,
      truth,
      k,
      target,
    );
    candidates.push({ type, estimatedBytes: estimate, recall, parameter });
    const built: BuiltIndex = {
      index,
      type,
      vectors: count,
      recall,
      labelRecall,
      recallQueries: options.queries ? 'given' : 'listings',
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

/** The exact k nearest of each query: labels and inner products, n*k each, best first. */
interface ExactTopK {
  labels: Int32Array;
  scores: Float32Array;
}

/** Exact top-k (inner product) of `queries` over the shards, a flat index of at most 100,000 vectors at a time. */
function* exactTopK(shards: VectorShards, queries: Float32Array, k: number): Work<ExactTopK> {
  const faiss = loadFaiss();
  const { dims, counts } = shards;
  const n = queries.length / dims;
  const bestD = new Float32Array(n * k).fill(-Infinity);
  const bestL = new Int32Array(n * k).fill(-1);
  const chunk = 100_000;
  let offset = 0;
  for (let shard = 0; shard < counts.length; offset += counts[shard]!, shard++) {
    if (counts[shard] === 0) continue;
    const vectors = yield shard;
    for (let start = 0; start < counts[shard]!; start += chunk) {
      const rows = Math.min(chunk, counts[shard]! - start);
      const flat = new faiss.IndexFlatIP(dims);
      flat.addFloat32(vectors.subarray(start * dims, (start + rows) * dims));
      const kk = Math.min(k, rows);
      const found = flat.searchFloat32(queries, kk);
      const base = offset + start;
      for (let q = 0; q < n; q++) {
        const merged: [number, number][] = [];
        for (let j = 0; j < k; j++) if (bestL[q * k + j]! >= 0) merged.push([bestD[q * k + j]!, bestL[q * k + j]!]);
        for (let j = 0; j < kk; j++) merged.push([found.distances[q * kk + j]!, found.labels[q * kk + j]! + base]);
        merged.sort((a, b) => b[0] - a[0]);
        for (let j = 0; j < k; j++) {
          bestD[q * k + j] = merged[j]?.[0] ?? -Infinity;
          bestL[q * k + j] = merged[j]?.[1] ?? -1;
        }
      }
    }
  }
  return { labels: bestL, scores: bestD };
}

/** An index read back from its bytes, with the search parameter it was measured with. */
export function loadVectorIndex(bytes: Buffer, built: Pick<BuiltIndex, 'type' | 'efSearch' | 'nprobe'>): Faiss.Index {
  const index = loadFaiss().Index.fromBuffer(bytes);
  if (built.type !== 'Flat' && built.efSearch) index.setSearchParameter('efSearch', built.efSearch);
  if (built.type !== 'Flat' && built.nprobe) index.setSearchParameter('nprobe', built.nprobe);
  return index;
}
