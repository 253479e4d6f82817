/**
 * One search request's ranking, filtering, sorting and page, over the version it holds:
 *
 * - mode: hybrid (default), lexical (BM25F alone) or dense (the embedding alone);
 * - sort=relevance pages through the mode's whole ranking (lexical: every match; dense: the catalogue
 *   by similarity; hybrid: the fused candidate pools). Any other sort reorders the relevant results
 *   only: the cheapest *mountain bikes* near Leeds, not the cheapest listings near Leeds. Relevant: among
 *   the SORT_POOL best, those holding a query word (when any listing does) and scoring at least
 *   SORT_FLOOR of the fifth best (the fifth, not the first: an exact title match scores far above the
 *   rest and would set the bar too high). Dense mode has no such scale (its cosines crowd together): it
 *   reorders its SORT_POOL nearest. Ties stay in relevance order;
 * - pages are slices of that one list: the same request on the same index version gives the same list,
 *   so pages neither repeat nor skip a listing.
 */
import {
  hybridLexicalK,
  lexicalAhead,
  rankDense,
  rankHybrid,
  rankLexical,
  searchAhead,
  type DenseAhead,
  type LexicalAhead,
  type Ranked,
  type RankRequest,
} from '../core/ml/index.js';
import { anyFilter, describeFilters, filterPredicate, listingDistance, type Filters, type SortOrder } from './filters.js';
import type { LoadedVersion } from './loaded.js';

export const SEARCH_MODES = ['hybrid', 'lexical', 'dense'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** Results re-sorted by price, distance or date: the most relevant this many. */
export const SORT_POOL = 100;
/** Share of the fifth best score a result needs to be re-sorted by price, distance or date. */
export const SORT_FLOOR = 0.5;
/** The deepest result a page may reach (offset + k). */
export const MAX_RESULTS = 1000;

export interface SearchPlan {
  /** Query terms (empty for "similar to a product"). */
  terms: string[];
  vector: Float32Array;
  mode: SearchMode;
  sort: SortOrder;
  filters: Filters;
  offset: number;
  k: number;
  /** A position never answered (the product "similar" starts from). */
  exclude?: number;
}

/** Why a listing is in the answer. */
export interface Why {
  /** Query terms found in the listing (title, description or category). */
  matchedTerms: string[];
  /** Those found in its title. */
  titleTerms: string[];
  /** BM25F score; null when the listing holds none of the query's terms. */
  lexicalScore: number | null;
  /** Cosine between the query's (or the product's) embedding and the listing's. */
  denseSimilarity: number;
  /** From near= / town=; null without a place or when the listing has none. */
  distanceKm: number | null;
}

export interface ResultRow {
  id: string;
  title: string;
  root: string;
  category: string;
  priceMinor: number;
  town: string | null;
  listedAt: string | null;
  /** What the mode ranked by: fused score (hybrid), BM25F (lexical) or cosine (dense). */
  score: number;
  why: Why;
}

export interface SearchPage {
  results: ResultRow[];
  /** Offset of the next page, null at the end. */
  nextOffset: number | null;
  notes: string[];
}

function rank(
  version: LoadedVersion,
  plan: SearchPlan,
  allowed: ((doc: number) => boolean) | undefined,
  depth: number,
  ahead?: DenseAhead,
  lexical?: LexicalAhead,
): Ranked[] {
  const { catalogue, fusion } = version.search;
  const request: RankRequest = {
    terms: plan.terms,
    vector: plan.vector,
    allowed,
    exclude: plan.exclude,
    ...(ahead ? { ahead } : {}),
    ...(lexical ? { lexicalAhead: lexical } : {}),
  };
  if (plan.mode === 'lexical') return rankLexical(catalogue, request, MAX_RESULTS);
  if (plan.mode === 'dense') return rankDense(catalogue, request, depth);
  return rankHybrid(catalogue, request, fusion);
}

function sortKey(version: LoadedVersion, plan: SearchPlan): ((r: Ranked) => number) | null {
  const rows = version.index.productRows;
  switch (plan.sort) {
    case 'price_asc':
      return (r) => rows.priceMinor(r.doc);
    case 'price_desc':
      return (r) => -rows.priceMinor(r.doc);
    // Listings without a place, or without a date, go last.
    case 'distance':
      return (r) => listingDistance(version, plan.filters.origin, r.doc) ?? Number.POSITIVE_INFINITY;
    case 'newest': {
      const listed = version.search.listedAt;
      return (r) => (Number.isNaN(listed[r.doc]!) ? Number.POSITIVE_INFINITY : -listed[r.doc]!);
    }
    default:
      return null;
  }
}

/** The results a non-relevance sort reorders (see the header). */
function relevantEnough(list: readonly Ranked[], mode: SearchMode): Ranked[] {
  const pool = list.slice(0, SORT_POOL);
  if (mode === 'dense') return pool;
  const reference = pool[Math.min(4, pool.length - 1)]?.score ?? 0;
  const anyTerm = pool.some((r) => r.matched !== 0);
  return pool.filter((r) => (!anyTerm || r.matched !== 0) && (reference <= 0 || r.score >= SORT_FLOOR * reference));
}

export async function searchPage(version: LoadedVersion, plan: SearchPlan): Promise<SearchPage> {
  const allowed = filterPredicate(plan.filters, version);
  const key = sortKey(version, plan);
  // Dense relevance pages read one past the page to know whether another follows.
  const depth = key ? SORT_POOL : Math.min(MAX_RESULTS, plan.offset + plan.k + 1);
  // Both indexes are searched first, off the event loop (other requests rank meanwhile), side by side:
  // the dense index for hybrid ranking's nearest pool (whatever the filters) or a dense page without
  // filters (with them, the ranking may scan what they keep instead); the lexical top-k without
  // filters (with them, the ranking reads the postings itself: a filter is a closure the lexical
  // threads cannot call).
  const { catalogue, fusion } = version.search;
  const lexicalK = plan.mode === 'hybrid' ? hybridLexicalK(fusion, plan.terms) : plan.mode === 'lexical' ? MAX_RESULTS : 0;
  const [ahead, lexical] = await Promise.all([
    plan.mode === 'hybrid'
      ? searchAhead(catalogue, plan.vector, fusion.densePool, plan.exclude)
      : plan.mode === 'dense' && !allowed
        ? searchAhead(catalogue, plan.vector, depth, plan.exclude)
        : undefined,
    lexicalK > 0 && !allowed && plan.exclude === undefined ? lexicalAhead(catalogue, plan.terms, lexicalK) : undefined,
  ]);
  let list = rank(version, plan, allowed, depth, ahead, lexical);
  if (key) {
    const keys = new Map(relevantEnough(list, plan.mode).map((r) => [r, key(r)]));
    list = [...keys.keys()].sort((a, b) => keys.get(a)! - keys.get(b)!); // Array.sort is stable: ties stay in relevance order.
  }
  list = list.slice(0, MAX_RESULTS);
  const end = plan.offset + plan.k;
  const page = list.slice(plan.offset, end);
  const notes: string[] = [];
  if (!version.search.hasLexical && plan.mode !== 'dense')
    notes.push(`index ${version.indexVersion} has no lexical index (built before it): ${plan.mode} ranks by the embedding alone`);
  const unknown = plan.mode === 'dense' ? [] : plan.terms.filter((term) => !version.search.catalogue.lexical.knows(term));
  if (unknown.length > 0 && version.search.hasLexical) notes.push(`no listing contains ${unknown.map((t) => `'${t}'`).join(', ')}`);
  if (page.length === 0) {
    if (list.length > 0) notes.push(`offset ${plan.offset} is past the last of ${list.length} results`);
    else if (anyFilter(plan.filters) && rank(version, plan, undefined, 1).length > 0) {
      notes.push(`no listing passes the filters (${describeFilters(plan.filters).join('; ')}): without them this query has results`);
    } else notes.push('nothing matches this query');
  }
  const { origin } = plan.filters;
  const rows = version.index.productRows;
  const results = page.map((r): ResultRow => {
    const bits = (mask: number) => plan.terms.filter((_, i) => i < 32 && (mask >>> i) & 1);
    return {
      id: rows.id(r.doc),
      title: rows.title(r.doc),
      root: rows.root(r.doc),
      category: rows.categoryPath(r.doc).join(' / '),
      priceMinor: rows.priceMinor(r.doc),
      town: rows.town(r.doc),
      listedAt: rows.listedAt(r.doc) ?? null,
      score: r.score,
      why: {
        matchedTerms: bits(r.matched),
        titleTerms: bits(r.inTitle),
        lexicalScore: r.matched ? r.lexical : null,
        denseSimilarity: r.dense,
        distanceKm: origin ? listingDistance(version, origin, r.doc) : null,
      },
    };
  });
  return { results, nextOffset: list.length > end && end < MAX_RESULTS ? end : null, notes };
}
