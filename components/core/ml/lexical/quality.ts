/**
 * Search quality on queries made from listings, for the three modes side by side: what evaluate
 * reports and gates on (test products), and what the index component fits the fusion weights on
 * (validation products). Two query sets:
 *
 * - known item: a listing's own title must find that listing (recall@1, recall@10, MRR over the
 *   first 100);
 * - short: what a buyer types, made from a title: its first two words, its first three, and its last
 *   two content words (English titles end on the head noun: "Brown leather 3 seater sofa" → "seater
 *   sofa"). Graded relevance: same leaf category 2, same root 1, else 0; nDCG@10 (gain 2^g − 1, as
 *   core/metrics.ts) and precision@10 (share of the first ten in the query listing's leaf category).
 */
import { queryTerms, tokenize } from './tokenize.js';
import {
  FUSION_FEATURES,
  hybridCandidates,
  orderCandidates,
  rankDense,
  rankHybrid,
  rankLexical,
  weightVector,
  type FusionConfig,
  type HybridCandidates,
  type HybridCatalogue,
  type Ranked,
} from './hybrid.js';

export const SEARCH_MODES = ['bm25', 'dense', 'hybrid'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** How deep a ranking is read for MRR (a rank past it counts as not found). */
export const RANK_DEPTH = 100;

export interface EvalQuery {
  text: string;
  /** The listing (position) the query was made from. */
  source: number;
  kind: 'known' | 'short';
  form: 'title' | 'first2' | 'first3' | 'last2';
}

/** The queries made from the listings at `positions` (titles by position). */
export function makeQueries(titles: readonly string[], positions: readonly number[]): EvalQuery[] {
  const out: EvalQuery[] = [];
  for (const source of positions) {
    const title = titles[source]!.trim();
    if (!title) continue;
    out.push({ text: title, source, kind: 'known', form: 'title' });
    const words = title
      .split(/\s+/)
      .map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''))
      .filter(Boolean);
    const content = words.filter((w) => tokenize(w).length > 0 && !/^\d+$/.test(w));
    const seen = new Set([title.toLowerCase()]);
    const add = (form: EvalQuery['form'], text: string) => {
      const key = text.toLowerCase();
      // Only shorter than the title, with something to search for, once per listing.
      if (!text || seen.has(key) || queryTerms(text).length === 0) return;
      seen.add(key);
      out.push({ text, source, kind: 'short', form });
    };
    if (words.length > 2) add('first2', words.slice(0, 2).join(' '));
    if (words.length > 3) add('first3', words.slice(0, 3).join(' '));
    if (content.length > 2) add('last2', content.slice(-2).join(' '));
  }
  return out;
}

export interface KnownItemScores {
  queries: number;
  recallAt1: number;
  recallAt10: number;
  mrr: number;
}
export interface ShortQueryScores {
  queries: number;
  ndcgAt10: number;
  precisionAt10: number;
}
export interface ModeScores {
  knownItem: KnownItemScores;
  short: ShortQueryScores;
}

/** Running sums of the metrics over queries. */
export class QualityAccumulator {
  private known = { n: 0, r1: 0, r10: 0, mrr: 0 };
  private short = { n: 0, ndcg: 0, p10: 0 };
  private readonly leafSize = new Map<number, number>();
  private readonly rootSize = new Map<number, number>();

  constructor(private readonly catalogue: Pick<HybridCatalogue, 'leaf' | 'root'>) {
    for (const id of catalogue.leaf) this.leafSize.set(id, (this.leafSize.get(id) ?? 0) + 1);
    for (const id of catalogue.root) this.rootSize.set(id, (this.rootSize.get(id) ?? 0) + 1);
  }

  /** Adds one query's ranking (positions, best first). */
  add(query: Pick<EvalQuery, 'kind' | 'source'>, ranking: readonly number[]): void {
    if (query.kind === 'known') {
      const rank = ranking.slice(0, RANK_DEPTH).indexOf(query.source);
      this.known.n++;
      if (rank === 0) this.known.r1++;
      if (rank >= 0 && rank < 10) this.known.r10++;
      if (rank >= 0) this.known.mrr += 1 / (rank + 1);
      return;
    }
    const { leaf, root } = this.catalogue;
    const gain = (doc: number) => (leaf[doc] === leaf[query.source] ? 2 : root[doc] === root[query.source] ? 1 : 0);
    let dcg = 0;
    let sameLeaf = 0;
    ranking.slice(0, 10).forEach((doc, i) => {
      const g = gain(doc);
      dcg += (2 ** g - 1) / Math.log2(i + 2);
      if (g === 2) sameLeaf++;
    });
    // The ideal list: every same-leaf listing first, then the rest of the root.
    const leaves = this.leafSize.get(leaf[query.source]!) ?? 0;
    const roots = (this.rootSize.get(root[query.source]!) ?? 0) - leaves;
    let ideal = 0;
    for (let i = 0; i < 10; i++) ideal += (i < leaves ? 3 : i < leaves + roots ? 1 : 0) / Math.log2(i + 2);
    this.short.n++;
    this.short.ndcg += ideal > 0 ? dcg / ideal : 0;
    this.short.p10 += sameLeaf / 10;
  }

  scores(): ModeScores {
    const per = (sum: number, n: number) => (n > 0 ? sum / n : 0);
    return {
      knownItem: {
        queries: this.known.n,
        recallAt1: per(this.known.r1, this.known.n),
        recallAt10: per(this.known.r10, this.known.n),
        mrr: per(this.known.mrr, this.known.n),
      },
      short: { queries: this.short.n, ndcgAt10: per(this.short.ndcg, this.short.n), precisionAt10: per(this.short.p10, this.short.n) },
    };
  }
}

/** A query ready to run: its terms and its embedding (the caller embeds every query in one batch). */
export interface PreparedQuery extends EvalQuery {
  terms: string[];
  vector: Float32Array;
}

export function prepareQueries(queries: readonly EvalQuery[], embeddings: Float32Array, dim: number): PreparedQuery[] {
  if (embeddings.length !== queries.length * dim)
    throw new Error(`${embeddings.length / dim} query embeddings for ${queries.length} queries`);
  return queries.map((query, i) => ({ ...query, terms: queryTerms(query.text), vector: embeddings.subarray(i * dim, (i + 1) * dim) }));
}

const positions = (ranked: readonly Ranked[]) => ranked.map((r) => r.doc);

/** The three modes on the same queries. */
export function scoreModes(
  catalogue: HybridCatalogue,
  queries: readonly PreparedQuery[],
  config: FusionConfig,
): Record<SearchMode, ModeScores> {
  const acc = {
    bm25: new QualityAccumulator(catalogue),
    dense: new QualityAccumulator(catalogue),
    hybrid: new QualityAccumulator(catalogue),
  };
  for (const query of queries) {
    acc.bm25.add(query, positions(rankLexical(catalogue, query, RANK_DEPTH)));
    acc.dense.add(query, positions(rankDense(catalogue, query, RANK_DEPTH)));
    acc.hybrid.add(query, positions(rankHybrid(catalogue, query, config)));
  }
  return { bm25: acc.bm25.scores(), dense: acc.dense.scores(), hybrid: acc.hybrid.scores() };
}

/** What fitting maximises: known-item MRR plus short-query nDCG@10, equally weighted. */
export const searchObjective = (scores: ModeScores): number => scores.knownItem.mrr + scores.short.ndcgAt10;

export interface FitResult {
  config: FusionConfig;
  queries: number;
  objective: number;
  /** The objective with the default weights, on the same queries. */
  defaultObjective: number;
}

/** Candidate values each weight is tried at (the lexical weight stays 1: the sum is scale-free). */
const GRID = [0, 0.1, 0.25, 0.5, 1, 2, 4, 8];

/**
 * Coordinate ascent over the weights: each in turn is set to the grid value that maximises the
 * objective with the others held, for a few rounds (until nothing moves). The candidates and their
 * features are computed once per query; only the weighted sums are redone.
 */
export function fitFusion(catalogue: HybridCatalogue, queries: readonly PreparedQuery[], base: FusionConfig, rounds = 3): FitResult {
  const candidates: { query: PreparedQuery; candidates: HybridCandidates }[] = queries.map((query) => ({
    query,
    candidates: hybridCandidates(catalogue, query, base),
  }));
  const evaluate = (weights: Float64Array) => {
    const acc = new QualityAccumulator(catalogue);
    for (const { query, candidates: c } of candidates) acc.add(query, orderCandidates(c, weights));
    return searchObjective(acc.scores());
  };
  const weights = weightVector(base.weights);
  const defaultObjective = evaluate(weights);
  let best = defaultObjective;
  for (let round = 0; round < rounds; round++) {
    let moved = false;
    for (let f = 1; f < FUSION_FEATURES.length; f++) {
      const start = weights[f]!;
      for (const value of GRID) {
        if (value === weights[f]) continue;
        const trial = Float64Array.from(weights);
        trial[f] = value;
        const score = evaluate(trial);
        // Strictly better only: on a tie the earlier (smaller) setting stays, so the fit is repeatable.
        if (score > best + 1e-9) {
          best = score;
          weights[f] = value;
        }
      }
      if (weights[f] !== start) moved = true;
    }
    if (!moved) break;
  }
  const fitted = Object.fromEntries(FUSION_FEATURES.map((feature, f) => [feature, weights[f]!])) as FusionConfig['weights'];
  return { config: { ...base, weights: fitted }, queries: queries.length, objective: best, defaultObjective };
}

/** Fewer validation listings than this and the defaults are kept: a fit on a handful of queries is noise. */
export const MIN_FIT_LISTINGS = 20;

/** Embeds query texts as listing titles (the way the service embeds what a buyer types), a batch at a time. */
export async function embedQueryTexts(
  embed: (titles: { title: string }[]) => Promise<{ embeddings: Float32Array }>,
  texts: readonly string[],
  dim: number,
  batch = 512,
): Promise<Float32Array> {
  const out = new Float32Array(texts.length * dim);
  for (let start = 0; start < texts.length; start += batch) {
    const encoded = await embed(texts.slice(start, start + batch).map((title) => ({ title })));
    out.set(encoded.embeddings, start * dim);
  }
  return out;
}

/** Queries made of the listings at `positions` (makeQueries), embedded as the service embeds what a buyer types. */
export async function listingQueries(
  titles: readonly string[],
  positions: readonly number[],
  embed: (titles: { title: string }[]) => Promise<{ embeddings: Float32Array }>,
  dim: number,
): Promise<PreparedQuery[]> {
  const queries = makeQueries(titles, positions);
  const vectors = await embedQueryTexts(
    embed,
    queries.map((q) => q.text),
    dim,
  );
  return prepareQueries(queries, vectors, dim);
}

/**
 * The fusion weights fitted on queries made from the validation listings (`positions`), or null when
 * there are too few of them. What the index component publishes and evaluate scores with.
 */
export async function fitOnListings(
  catalogue: HybridCatalogue,
  titles: readonly string[],
  positions: readonly number[],
  embed: (titles: { title: string }[]) => Promise<{ embeddings: Float32Array }>,
  base: FusionConfig,
): Promise<FitResult | null> {
  if (positions.length < MIN_FIT_LISTINGS) return null;
  return fitFusion(catalogue, await listingQueries(titles, positions, embed, catalogue.dim), base);
}
