/**
 * Ranking over both indexes. Three modes share one catalogue view:
 *
 * - lexical: the listings that hold a query term, by BM25F (the best `limit`, found without scoring
 *   every match: LexicalIndex.top);
 * - dense: the nearest listings to the query's embedding (exact or HNSW search);
 * - hybrid: the union of the best `lexicalPool` lexical matches (after the filters) and those of the
 *   query's `densePool` nearest listings that pass the filters, each described by a few features,
 *   ranked by a weighted sum of them. The weights are fitted on validation queries (quality.ts,
 *   fitFusion) by the index component and published with the index; evaluate fits them the same way.
 *
 * The features, each about 0..1:
 *   lexical       BM25F score / the best BM25F score of the query (0 when no term matched)
 *   dense         cosine, rescaled so that the query's nearest listing is 1 and the last of its
 *                 `densePool` nearest 0 (before the filters: a filter does not make a far listing near)
 *   titleCoverage share of the query's terms found in the title
 *   titleMatch    query terms found in the title / max(query terms, title terms): 1 for a title typed whole
 *   exactTitle    1 when the query's terms are exactly the title's (a known item typed whole), else 0
 *   leafVote      share of the first-stage top `votePool` in the candidate's leaf category (what the
 *                 query is about, as both indexes agree: "double bed frame" is a bed, whatever words
 *                 a mirror cabinet's description shares with it)
 *   rootVote      the same for its root category
 *   lexicalLeafPrior / lexicalRootPrior   the same question asked of the best `priorPool` lexical
 *                 matches, not only the pool: the share of (BM25F / best)² over them that falls in the
 *                 candidate's leaf (root) category; a short, ambiguous query ("double bed") is about
 *                 the category most of its best matches are in. Bounded (300 by default), not every
 *                 match: at a million listings a common word matches 10^5 of them, and reading them
 *                 all made a query cost O(matches). On the real export's test queries, with weights
 *                 refitted for each, the best 300 rank as well as every match (bench/prior-pool.ts,
 *                 two models: short-query nDCG@10 0.648 / 0.650 against 0.646 / 0.651, known-item
 *                 MRR equal; the best 100 moved either by up to 0.006, up or down)
 *   denseLeafPrior the share of the dense pool's weight ((cosine rescaled as above)², clipped at 0) in
 *                 the candidate's leaf category
 *   rrf           reciprocal rank fusion of the two candidate lists, ×30 (the first stage itself)
 * The first stage orders the union by RRF (k = 60); the vote reads its top.
 * A query of more than SHORT_QUERY_TERMS terms reads `longPriorPool` (100) matches for its priors, not
 * `priorPool`: see longPriorPool.
 *
 * No sentence encoder and no network call: a query costs one ONNX text embedding, one FAISS search and
 * the postings of its terms that can still change its best `priorPool` (MaxScore: LexicalPostings.top).
 */
import { z } from 'zod';
import type { ProductVectors } from '../product-vectors.js';
import type { LexicalIndex } from './bm25.js';
import { MAX_QUERY_TERMS, popcount, type LexicalMatches } from './top-k.js';

export const FUSION_FEATURES = [
  'lexical',
  'dense',
  'titleCoverage',
  'titleMatch',
  'exactTitle',
  'leafVote',
  'rootVote',
  'lexicalLeafPrior',
  'lexicalRootPrior',
  'denseLeafPrior',
  'rrf',
] as const;
export type Feature = (typeof FUSION_FEATURES)[number];
const NF = FUSION_FEATURES.length;

/** Weights of features added later default to 0: an index published before them ranks as it did. */
export const FusionWeights = z.object({
  lexical: z.number(),
  dense: z.number(),
  titleCoverage: z.number(),
  titleMatch: z.number(),
  exactTitle: z.number().default(0),
  leafVote: z.number(),
  rootVote: z.number(),
  lexicalLeafPrior: z.number().default(0),
  lexicalRootPrior: z.number().default(0),
  denseLeafPrior: z.number().default(0),
  rrf: z.number(),
});
export type FusionWeights = z.infer<typeof FusionWeights>;

export const FusionConfig = z.object({
  weights: FusionWeights,
  lexicalPool: z.number().int().positive(),
  densePool: z.number().int().positive(),
  votePool: z.number().int().positive(),
  /** How many of the best lexical matches the lexical priors read (an index published before it: 300). */
  priorPool: z.number().int().positive().default(300),
  /**
   * The same for a query of more than SHORT_QUERY_TERMS terms (an index published before it: 100).
   * A short query ("double bed") is ambiguous, and its category is what most of its best matches are
   * about; a long one (a title typed whole) says what it is, and its best 100 matches agree as well
   * as its best 300 (bench/prior-pool.ts, with its own row for this rule). Reading 100 halves the
   * lexical work of a whole title at a million listings.
   */
  longPriorPool: z.number().int().positive().default(100),
});
export type FusionConfig = z.infer<typeof FusionConfig>;

/**
 * Before fitting (and for an index built with too few validation products to fit on). exactTitle is 2:
 * a title typed whole must find its listing even where the embedding knows none of its words (a new
 * listing's made-up name, a small catalogue's quick model), which at 0.5 a far cosine (rescaled to −1)
 * outweighed; fits on the real export chose 1 to 4.
 */
export const DEFAULT_FUSION: FusionConfig = {
  weights: {
    lexical: 1,
    dense: 1,
    titleCoverage: 0.5,
    titleMatch: 0.5,
    exactTitle: 2,
    leafVote: 0.5,
    rootVote: 0.25,
    lexicalLeafPrior: 0.25,
    lexicalRootPrior: 0.25,
    denseLeafPrior: 0.25,
    rrf: 0,
  },
  lexicalPool: 100,
  densePool: 100,
  votePool: 20,
  priorPool: 300,
  longPriorPool: 100,
};

/** A query of at most this many terms is short (FusionConfig.priorPool); longer ones read longPriorPool. */
export const SHORT_QUERY_TERMS = 3;

const RRF_K = 60;

/** Nearest-neighbour search over the product vectors (faiss-node's `search`). */
export type DenseSearch = (query: number[], k: number) => { labels: number[]; distances: number[] };
/** The same search handed the query's Float32Array as it is (the project's faiss build's `searchFloat32`: no copy). */
export type DenseSearchFloat32 = (query: Float32Array, k: number) => DenseAnswer;
/** The same search on a worker thread, the event loop free meanwhile (the project's faiss build's `searchAsync`). */
export type DenseSearchAsync = (query: Float32Array, k: number) => Promise<DenseAnswer>;
/** Labels (positions; -1 pads) and inner products, nearest first. */
export interface DenseAnswer {
  labels: ArrayLike<number>;
  distances: ArrayLike<number>;
}
/** The same top-k as LexicalIndex.top, unfiltered, on a worker thread (LexicalThreads.top). */
export type LexicalSearchAsync = (terms: readonly string[], k: number) => Promise<LexicalMatches>;
/** A lexical top-k made ahead of a ranking (lexicalAhead), unfiltered, for the k it asked. */
export interface LexicalAhead {
  k: number;
  matches: LexicalMatches;
}
/** A dense search made ahead of a ranking (searchAhead), for the pool it asked. */
export interface DenseAhead extends DenseAnswer {
  pool: number;
}

/** What the ranker reads of a catalogue: both indexes and each listing's categories, by position. */
export interface HybridCatalogue {
  lexical: LexicalIndex;
  dense: DenseSearch;
  /** When given, used instead of `dense` (the search service: one query a call, no copy of it). */
  denseFloat32?: DenseSearchFloat32;
  /** When given, searchAhead searches with it (the search service: off the event loop). */
  denseAsync?: DenseSearchAsync;
  /**
   * When given, lexicalAhead searches with it (the search service: on a worker thread). Set by whoever
   * starts the threads, once the catalogue is built: a catalogue refused by hybridCatalogue starts none.
   */
  lexicalAsync?: LexicalSearchAsync;
  /**
   * n × dim unit vectors in position order (cosines of lexical candidates are computed from them):
   * float32, or int8 codes (the search service: a quarter of the memory).
   */
  vectors: ProductVectors;
  dim: number;
  /** Category ids by position: the full path (leaf) and the root. */
  leaf: Int32Array;
  root: Int32Array;
  leaves: number;
  roots: number;
  /**
   * Per-position scratch for one query at a time (hybrid ranking is synchronous start to end): where a
   * listing is among the lexical matches and the candidates, −1 elsewhere; reset after each query.
   */
  scratch: { match: Int32Array; candidate: Int32Array };
}

/** Builds the category ids from each listing's category path (root first). */
export function hybridCatalogue(parts: {
  lexical: LexicalIndex;
  dense: DenseSearch;
  denseFloat32?: DenseSearchFloat32;
  denseAsync?: DenseSearchAsync;
  vectors: ProductVectors;
  dim: number;
  paths: readonly (readonly string[])[];
}): HybridCatalogue {
  const ids = (keys: string[]) => {
    const seen = new Map<string, number>();
    return Int32Array.from(keys, (key) => {
      let id = seen.get(key);
      if (id === undefined) {
        id = seen.size;
        seen.set(key, id);
      }
      return id;
    });
  };
  const n = parts.paths.length;
  if (parts.lexical.documents !== n) throw new Error(`lexical index holds ${parts.lexical.documents} documents for ${n} listings`);
  if (parts.vectors.length !== n * parts.dim)
    throw new Error(`${parts.vectors.length} vector floats for ${n} listings of ${parts.dim} dimensions`);
  const leaf = ids(parts.paths.map((path) => path.join(' / ')));
  const root = ids(parts.paths.map((path) => path[0] ?? ''));
  return {
    lexical: parts.lexical,
    dense: parts.dense,
    ...(parts.denseFloat32 ? { denseFloat32: parts.denseFloat32 } : {}),
    ...(parts.denseAsync ? { denseAsync: parts.denseAsync } : {}),
    vectors: parts.vectors,
    dim: parts.dim,
    leaf,
    root,
    leaves: leaf.reduce((max, id) => Math.max(max, id + 1), 0),
    roots: root.reduce((max, id) => Math.max(max, id + 1), 0),
    scratch: { match: new Int32Array(n).fill(-1), candidate: new Int32Array(n).fill(-1) },
  };
}

/** One ranked listing and why it is there. */
export interface Ranked {
  /** Position in the index (vector order). */
  doc: number;
  /** What it was ranked by: BM25F (lexical), cosine (dense) or the fused score (hybrid). */
  score: number;
  /** BM25F score; 0 when no query term is in the listing. */
  lexical: number;
  /** Bit i: the query's term i is in the listing / in its title. */
  matched: number;
  inTitle: number;
  /** Cosine between the query and the listing. */
  dense: number;
}

export interface RankRequest {
  /** Query terms (tokenize.queryTerms); empty for a query by vector alone. */
  terms: readonly string[];
  /** The query's unit embedding. */
  vector: Float32Array;
  /** The filters: false leaves a listing out. */
  allowed?: (doc: number) => boolean;
  /** A position never answered (the product a "similar" query starts from). */
  exclude?: number;
  /**
   * The dense index's answer for `vector`, searched ahead (searchAhead): the ranking uses it in place of
   * its first search of the index when it asks for the same pool.
   */
  ahead?: DenseAhead;
  /**
   * The lexical top-k of `terms`, searched ahead (lexicalAhead): used in place of the ranking's own
   * when it asks for the same k without a filter or an excluded position.
   */
  lexicalAhead?: LexicalAhead;
}

function dot(catalogue: HybridCatalogue, vector: Float32Array, doc: number): number {
  const { vectors, dim } = catalogue;
  if (!(vectors instanceof Float32Array)) return vectors.dot(vector, doc);
  let sum = 0;
  for (let j = 0, o = doc * dim; j < dim; j++) sum += vector[j]! * vectors[o + j]!;
  return sum;
}

/**
 * The `want` nearest allowed listings, nearest first. Without filters: one index search. With filters
 * that leave out most of the catalogue: the allowed listings' cosines computed directly (exact, and
 * cheaper than asking the index for ever more neighbours only to drop most). With filters that keep
 * most of it: the index asked for more and more (×4) until enough pass.
 */
export function denseTop(
  catalogue: HybridCatalogue,
  vector: Float32Array,
  want: number,
  allowed?: (doc: number) => boolean,
  exclude?: number,
  ahead?: DenseAhead,
): { docs: number[]; sims: number[] } {
  const n = catalogue.leaf.length;
  const target = Math.min(want, n);
  // faiss asserts k > 0 in native code, which aborts the process: never hand it anything else.
  if (!Number.isSafeInteger(target) || target < 1) return { docs: [], sims: [] };
  if (allowed) {
    const kept: number[] = [];
    for (let doc = 0; doc < n; doc++) if (doc !== exclude && allowed(doc)) kept.push(doc);
    if (kept.length <= n / SCAN_BELOW) return nearestAmong(catalogue, vector, kept, target);
  }
  let pool = firstPool(n, target, exclude, allowed !== undefined);
  for (;;) {
    const { labels, distances } = ahead?.pool === pool ? ahead : searchNow(catalogue, vector, pool);
    const docs: number[] = [];
    const sims: number[] = [];
    for (let rank = 0; rank < labels.length; rank++) {
      const label = labels[rank]!;
      // HNSW pads with -1 when it finds fewer than asked.
      if (label < 0 || label === exclude || docs.length >= target || (allowed && !allowed(label))) continue;
      docs.push(label);
      sims.push(distances[rank]!);
    }
    if (docs.length >= target || pool >= n) return { docs, sims };
    pool = Math.min(n, pool * 4);
  }
}

/** The index's `pool` nearest to `vector`, searched on the event loop (denseFloat32 when the catalogue has it: no copy). */
const searchNow = (catalogue: HybridCatalogue, vector: Float32Array, pool: number): DenseAnswer =>
  catalogue.denseFloat32 ? catalogue.denseFloat32(vector, pool) : catalogue.dense(Array.from(vector), pool);

/** The first pool denseTop asks the index for: one more for a position left out, twice as many under a filter. */
const firstPool = (n: number, target: number, exclude: number | undefined, filtered: boolean): number =>
  Math.min(n, target + (exclude === undefined ? 0 : 1) + (filtered ? target : 0));

/**
 * The search denseTop(catalogue, vector, want, no filter, exclude) makes first, made now: on a worker
 * thread where the catalogue can (denseAsync), so that the event loop serves other requests meanwhile.
 * Handed to a ranking as `ahead`, it replaces that search (hybrid ranking's nearest pool, or an
 * unfiltered dense page). Without denseAsync it searches in place (the same answer, on the loop).
 */
export async function searchAhead(
  catalogue: HybridCatalogue,
  vector: Float32Array,
  want: number,
  exclude?: number,
): Promise<DenseAhead | undefined> {
  const n = catalogue.leaf.length;
  const target = Math.min(want, n);
  if (!Number.isSafeInteger(target) || target < 1) return undefined;
  const pool = firstPool(n, target, exclude, false);
  const answer = catalogue.denseAsync ? await catalogue.denseAsync(vector, pool) : searchNow(catalogue, vector, pool);
  return { pool, labels: answer.labels, distances: answer.distances };
}

/**
 * The lexical top `k` of `terms`, unfiltered, found now on a worker thread where the catalogue has them
 * (lexicalAsync), so that the event loop serves other requests meanwhile; undefined without them or
 * without a known term (the ranking then searches in place, as it does under a filter).
 */
export async function lexicalAhead(catalogue: HybridCatalogue, terms: readonly string[], k: number): Promise<LexicalAhead | undefined> {
  if (!catalogue.lexicalAsync || !(k >= 1) || !terms.some((term) => catalogue.lexical.knows(term))) return undefined;
  return { k, matches: await catalogue.lexicalAsync(terms, k) };
}

/** The ranking's lexical top `k`: the one searched ahead when it answers the same question, else searched now. */
function lexicalMatches(catalogue: HybridCatalogue, request: RankRequest, k: number): LexicalMatches {
  const allowed = excluding(request);
  const ahead = request.lexicalAhead;
  const same =
    ahead !== undefined &&
    allowed === undefined &&
    ahead.k === k &&
    ahead.matches.terms.length === Math.min(request.terms.length, MAX_QUERY_TERMS) &&
    ahead.matches.terms.every((term, i) => term === request.terms[i]);
  return same ? ahead.matches : catalogue.lexical.top(request.terms, k, allowed);
}

/** Filters keeping under 1 / SCAN_BELOW of the catalogue are answered by a direct scan of what they keep. */
const SCAN_BELOW = 2;

/** Exact nearest among `docs` by direct cosines; ties by position. */
function nearestAmong(
  catalogue: HybridCatalogue,
  vector: Float32Array,
  docs: readonly number[],
  want: number,
): { docs: number[]; sims: number[] } {
  const sims = Float64Array.from(docs, (doc) => dot(catalogue, vector, doc));
  const order = Array.from(docs.keys())
    .sort((a, b) => sims[b]! - sims[a]! || docs[a]! - docs[b]!)
    .slice(0, want);
  return { docs: order.map((i) => docs[i]!), sims: order.map((i) => sims[i]!) };
}

/** Lexical mode: the `limit` best allowed listings holding a query term, by BM25F. */
export function rankLexical(catalogue: HybridCatalogue, request: RankRequest, limit: number): Ranked[] {
  const matches = lexicalMatches(catalogue, request, limit);
  return Array.from(matches.docs, (doc, i) => ({
    doc,
    score: matches.scores[i]!,
    lexical: matches.scores[i]!,
    matched: matches.matched[i]!,
    inTitle: matches.inTitle[i]!,
    dense: dot(catalogue, request.vector, doc),
  }));
}

/** Dense mode: the nearest allowed listings, with the query terms they happen to hold. */
export function rankDense(catalogue: HybridCatalogue, request: RankRequest, limit: number): Ranked[] {
  const { docs, sims } = denseTop(catalogue, request.vector, limit, request.allowed, request.exclude, request.ahead);
  // The query terms each listing of the page holds, looked up in the postings (only these are read).
  const facts = request.terms.length > 0 ? catalogue.lexical.scoreDocs(request.terms, docs) : null;
  return docs.map((doc, k) => ({
    doc,
    score: sims[k]!,
    dense: sims[k]!,
    lexical: facts ? facts.scores[k]! : 0,
    matched: facts ? facts.matched[k]! : 0,
    inTitle: facts ? facts.inTitle[k]! : 0,
  }));
}

function excluding(request: RankRequest): ((doc: number) => boolean) | undefined {
  const { allowed, exclude } = request;
  if (exclude === undefined) return allowed;
  return allowed ? (doc) => doc !== exclude && allowed(doc) : (doc) => doc !== exclude;
}

/**
 * The hybrid candidates of one query, as parallel arrays (candidate i: docs[i], …), with their
 * features (n × FUSION_FEATURES, row-major), before weighting. Typed arrays and per-position scratch
 * rather than objects and maps: this runs on the event loop for every hybrid query.
 */
export interface HybridCandidates {
  docs: Int32Array;
  lexical: Float32Array;
  matched: Uint32Array;
  inTitle: Uint32Array;
  dense: Float32Array;
  features: Float32Array;
}

/**
 * The lexical top-k a hybrid ranking reads for `terms`: the first `lexicalPool` are candidates, all of
 * them vote in the priors (priorPool, or longPriorPool for a long query).
 */
export const hybridLexicalK = (config: FusionConfig, terms: readonly string[]): number =>
  Math.max(config.lexicalPool, terms.length > SHORT_QUERY_TERMS ? config.longPriorPool : config.priorPool);

export function hybridCandidates(catalogue: HybridCatalogue, request: RankRequest, config: FusionConfig): HybridCandidates {
  // The best matches, best first.
  const matches = request.terms.length > 0 ? lexicalMatches(catalogue, request, hybridLexicalK(config, request.terms)) : null;
  const lexicalTop = matches ? Array.from({ length: Math.min(config.lexicalPool, matches.docs.length) }, (_, i) => i) : [];
  // The dense candidates are the query's nearest `densePool` listings in the whole catalogue, then
  // filtered: not the nearest that pass the filters, which under a narrow filter are anything at all
  // ("sofa" under 50p would bring DVDs). A listing enters hybrid results by a word or by being near.
  const nearest = denseTop(catalogue, request.vector, config.densePool, undefined, request.exclude, request.ahead);
  const denseDocs: number[] = [];
  const denseSims: number[] = [];
  nearest.docs.forEach((doc, rank) => {
    if (request.allowed && !request.allowed(doc)) return;
    denseDocs.push(doc);
    denseSims.push(nearest.sims[rank]!);
  });

  const { match: matchAt, candidate: candidateAt } = catalogue.scratch;
  if (matches) for (let i = 0; i < matches.docs.length; i++) matchAt[matches.docs[i]!] = i;
  try {
    // The union: lexical candidates in rank order, then dense ones not already in.
    const union: number[] = [];
    const lexicalRank: number[] = [];
    const denseRank: number[] = [];
    lexicalTop.forEach((i, rank) => {
      const doc = matches!.docs[i]!;
      candidateAt[doc] = union.length;
      union.push(doc);
      lexicalRank.push(rank);
      denseRank.push(-1);
    });
    const denseOf = new Float32Array(lexicalTop.length + denseDocs.length);
    denseDocs.forEach((doc, rank) => {
      const at = candidateAt[doc]!;
      if (at >= 0) {
        denseRank[at] = rank;
        denseOf[at] = denseSims[rank]!;
        return;
      }
      candidateAt[doc] = union.length;
      denseOf[union.length] = denseSims[rank]!;
      union.push(doc);
      lexicalRank.push(-1);
      denseRank.push(rank);
    });
    const count = union.length;

    const docs = Int32Array.from(union);
    const lexical = new Float32Array(count);
    const matched = new Uint32Array(count);
    const inTitleMask = new Uint32Array(count);
    const dense = denseOf.subarray(0, count);
    const rrf = new Float64Array(count);
    // Dense candidates beyond the best matches may still hold a query term: looked up in the postings.
    const unread = matches ? union.filter((doc) => matchAt[doc]! < 0) : [];
    const looked = unread.length > 0 ? catalogue.lexical.scoreDocs(request.terms, unread) : null;
    let next = 0;
    for (let i = 0; i < count; i++) {
      const doc = docs[i]!;
      const m = matchAt[doc]!;
      if (m >= 0 && matches) {
        lexical[i] = matches.scores[m]!;
        matched[i] = matches.matched[m]!;
        inTitleMask[i] = matches.inTitle[m]!;
      } else if (looked) {
        lexical[i] = looked.scores[next]!;
        matched[i] = looked.matched[next]!;
        inTitleMask[i] = looked.inTitle[next]!;
        next++;
      }
      if (denseRank[i]! < 0) dense[i] = dot(catalogue, request.vector, doc);
      rrf[i] = (lexicalRank[i]! < 0 ? 0 : 1 / (RRF_K + lexicalRank[i]! + 1)) + (denseRank[i]! < 0 ? 0 : 1 / (RRF_K + denseRank[i]! + 1));
    }

    const bestLexical = matches && lexicalTop.length > 0 ? matches.scores[lexicalTop[0]!]! : 0;
    // Rescaled against the unfiltered nearest: a filter does not make a far listing look near.
    const top = nearest.sims[0] ?? 1;
    const floor = nearest.sims.at(-1) ?? 0;
    const span = Math.max(1e-6, top - floor);
    const queryTerms = Math.max(1, Math.min(request.terms.length, 32));

    // The first stage (RRF) votes on what the query is about.
    const firstStage = Array.from(union.keys()).sort((a, b) => rrf[b]! - rrf[a]! || union[a]! - union[b]!);
    const voters = firstStage.slice(0, config.votePool);
    const leafVotes = new Float64Array(catalogue.leaves);
    const rootVotes = new Float64Array(catalogue.roots);
    for (const i of voters) {
      leafVotes[catalogue.leaf[union[i]!]!]! += 1;
      rootVotes[catalogue.root[union[i]!]!]! += 1;
    }
    const voteCount = Math.max(1, voters.length);

    // Category priors over the best lexical matches and over the dense pool.
    const lexicalLeaf = new Float64Array(catalogue.leaves);
    const lexicalRoot = new Float64Array(catalogue.roots);
    let lexicalMass = 0;
    if (matches && bestLexical > 0) {
      for (let i = 0; i < matches.docs.length; i++) {
        const doc = matches.docs[i]!;
        const w = (matches.scores[i]! / bestLexical) ** 2;
        lexicalMass += w;
        lexicalLeaf[catalogue.leaf[doc]!]! += w;
        lexicalRoot[catalogue.root[doc]!]! += w;
      }
    }
    const denseLeaf = new Float64Array(catalogue.leaves);
    let denseMass = 0;
    denseDocs.forEach((doc, rank) => {
      const w = Math.max(0, (denseSims[rank]! - floor) / span) ** 2;
      denseMass += w;
      denseLeaf[catalogue.leaf[doc]!]! += w;
    });

    const features = new Float32Array(count * NF);
    for (let i = 0; i < count; i++) {
      const doc = docs[i]!;
      const leaf = catalogue.leaf[doc]!;
      const root = catalogue.root[doc]!;
      const inTitle = popcount(inTitleMask[i]!);
      const titleLength = catalogue.lexical.titleLength(doc);
      const row = i * NF;
      features[row] = bestLexical > 0 ? lexical[i]! / bestLexical : 0;
      features[row + 1] = Math.max(-1, Math.min(1, (dense[i]! - floor) / span));
      features[row + 2] = inTitle / queryTerms;
      features[row + 3] = inTitle / Math.max(queryTerms, titleLength, 1);
      features[row + 4] = inTitle > 0 && inTitle === request.terms.length && titleLength === inTitle ? 1 : 0;
      features[row + 5] = leafVotes[leaf]! / voteCount;
      features[row + 6] = rootVotes[root]! / voteCount;
      features[row + 7] = lexicalMass > 0 ? lexicalLeaf[leaf]! / lexicalMass : 0;
      features[row + 8] = lexicalMass > 0 ? lexicalRoot[root]! / lexicalMass : 0;
      features[row + 9] = denseMass > 0 ? denseLeaf[leaf]! / denseMass : 0;
      features[row + 10] = rrf[i]! * 30;
    }
    return { docs, lexical, matched, inTitle: inTitleMask, dense, features };
  } finally {
    // Reset only what this query set: the scratch stays −1 between queries at no O(N) cost.
    if (matches) for (let i = 0; i < matches.docs.length; i++) matchAt[matches.docs[i]!] = -1;
    for (const doc of lexicalTop) if (matches) candidateAt[matches.docs[doc]!] = -1;
    for (const doc of denseDocs) candidateAt[doc] = -1;
  }
}

/** The weights in FUSION_FEATURES order. */
export const weightVector = (weights: FusionWeights): Float64Array => Float64Array.from(FUSION_FEATURES, (feature) => weights[feature]);

/** The weighted sums of the candidates' features. */
function weightedScores(candidates: HybridCandidates, weights: Float64Array): Float64Array {
  const { docs, features } = candidates;
  const scores = new Float64Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    let score = 0;
    for (let f = 0; f < NF; f++) score += weights[f]! * features[i * NF + f]!;
    scores[i] = score;
  }
  return scores;
}

/** Candidate indices ordered by score, best first; ties by position. */
function orderBy(candidates: HybridCandidates, scores: Float64Array): number[] {
  const { docs } = candidates;
  return Array.from(docs.keys()).sort((a, b) => scores[b]! - scores[a]! || docs[a]! - docs[b]!);
}

/** Candidates ordered by the weighted sum of their features, best first; ties by position. */
export function scoreCandidates(candidates: HybridCandidates, weights: Float64Array): Ranked[] {
  const scores = weightedScores(candidates, weights);
  const { docs, lexical, matched, inTitle, dense } = candidates;
  return orderBy(candidates, scores).map((i) => ({
    doc: docs[i]!,
    score: scores[i]!,
    lexical: lexical[i]!,
    matched: matched[i]!,
    inTitle: inTitle[i]!,
    dense: dense[i]!,
  }));
}

/** Only the order of the candidates' positions under `weights` (what fitting reads, many times over). */
export function orderCandidates(candidates: HybridCandidates, weights: Float64Array): number[] {
  return orderBy(candidates, weightedScores(candidates, weights)).map((i) => candidates.docs[i]!);
}

/** Hybrid mode. */
export function rankHybrid(catalogue: HybridCatalogue, request: RankRequest, config: FusionConfig): Ranked[] {
  return scoreCandidates(hybridCandidates(catalogue, request, config), weightVector(config.weights));
}
