/**
 * What a loaded version needs to answer filtered, sorted searches, built once when the version is
 * loaded (so it is swapped with the FAISS and lexical indexes, never mixed with another version's):
 * the hybrid ranker's view of the catalogue, the category tree for the category filter, the towns the
 * catalogue knows for town=, and each listing's date for sort=newest.
 */
import { distanceKm } from '../core/platform/index.js';
import {
  DEFAULT_FUSION,
  hybridCatalogue,
  LexicalIndex,
  LexicalThreads,
  type FusionConfig,
  type HybridCatalogue,
  type SearchIndex,
} from '../core/ml/index.js';
import { normalizeName } from '../core/contracts/index.js';

export interface SearchView {
  catalogue: HybridCatalogue;
  fusion: FusionConfig;
  /** False for an index published before the lexical index: lexical and hybrid modes then have no lexical part. */
  hasLexical: boolean;
  /**
   * A listing's category path's prefixes as keys ("home & garden", "home & garden / sofas", …): one
   * array per distinct path (the catalogue's leaf), shared by its listings.
   */
  categoryKeysOf: (doc: number) => readonly string[];
  /** Every category key of the catalogue → how it is written (for the answer and for suggestions). */
  categories: ReadonlyMap<string, string>;
  /** Normalised town name → the places listings give under it (town, county, coordinates). */
  towns: ReadonlyMap<string, readonly Place[]>;
  /** Milliseconds since the epoch, NaN when unknown (the rows' own column). */
  listedAt: Float64Array;
  /** Bytes the lexical index holds in memory. */
  lexicalBytes: number;
  /** Lexical search threads running (0: the lexical top-k is read on the event loop). */
  lexicalThreads: () => number;
  /** Stops what the view started (its lexical threads). */
  close(): Promise<void>;
}

export interface Place {
  town: string;
  county: string | null;
  lat: number;
  lon: number;
}

/** Category keys: levels trimmed and lower-cased, joined by " / " (what the category filter compares). */
export const categoryKey = (levels: readonly string[]): string => levels.map((level) => level.trim().toLowerCase()).join(' / ');

export interface SearchViewOptions {
  /**
   * Worker threads that search the lexical index for unfiltered queries, beside the event loop (0:
   * none). At a million listings a whole title's lexical top-k is most of a hybrid query's time.
   */
  lexicalThreads?: number;
}

export function buildSearchView(index: SearchIndex, options: SearchViewOptions = {}): SearchView {
  const rows = index.productRows;
  const n = rows.length;
  // The rows' shared path arrays: n references, not n arrays.
  const paths = Array.from({ length: n }, (_, doc) => rows.categoryPath(doc));
  // An index without the lexical files: an empty lexical index, so that every mode still runs (on the dense part).
  const lexical = index.lexical ?? LexicalIndex.build(paths.map(() => ({ title: '', text: '', category: '' })));
  const products = index.products;
  const catalogue = hybridCatalogue({
    lexical,
    dense: (query, k) => products.search(query, k),
    // The query's own memory, no copy into a JS array (the project's faiss build).
    denseFloat32: (query, k) => products.searchFloat32(query, k),
    // Searched ahead of each ranking on a libuv worker thread: the event loop ranks other requests meanwhile.
    denseAsync: (query, k) => products.searchAsync(query, k),
    vectors: index.productVectors,
    dim: index.metadata.products.dim,
    paths,
  });

  // Category keys once per distinct path (numbered by the catalogue's leaf ids), not an array a listing.
  const categories = new Map<string, string>();
  const keysOf = (path: readonly string[]) =>
    path.map((_, depth) => {
      const key = categoryKey(path.slice(0, depth + 1));
      if (!categories.has(key)) categories.set(key, path.slice(0, depth + 1).join(' / '));
      return key;
    });
  const leafPaths: (readonly string[])[] = [];
  const leafKeys: string[][] = [];
  // Listings whose path joins to another's leaf but has other levels (a level holding ' / '): their own keys.
  const ownKeys = new Map<number, string[]>();
  for (let doc = 0; doc < n; doc++) {
    const leaf = catalogue.leaf[doc]!;
    const path = paths[doc]!;
    const first = leafPaths[leaf];
    if (!first) {
      leafPaths[leaf] = path;
      leafKeys[leaf] = keysOf(path);
    } else if (first !== path && (first.length !== path.length || first.some((level, depth) => level !== path[depth])))
      ownKeys.set(doc, keysOf(path));
  }
  const leafOf = catalogue.leaf;

  const towns = new Map<string, Place[]>();
  for (let doc = 0; doc < n; doc++) {
    const town = rows.town(doc);
    const lat = rows.latitude(doc);
    const lon = rows.longitude(doc);
    if (!town || lat === null || lon === null) continue;
    const key = normalizeName(town);
    const places = towns.get(key) ?? [];
    // One entry per distinct place (listings in the same town repeat it).
    if (!places.some((p) => distanceKm(p, { lat, lon }) < 1)) places.push({ town, county: rows.county(doc), lat, lon });
    towns.set(key, places);
  }

  // Started last, once everything that can refuse this index has passed: no thread outlives a failed load.
  const threads =
    index.lexical && (options.lexicalThreads ?? 0) > 0 ? LexicalThreads.start(index.lexical.postings, options.lexicalThreads!) : null;
  if (threads) catalogue.lexicalAsync = (terms, k) => threads.top(terms, k);
  return {
    catalogue,
    fusion: index.metadata.lexical?.fusion ?? DEFAULT_FUSION,
    hasLexical: index.lexical !== null,
    categoryKeysOf: ownKeys.size === 0 ? (doc) => leafKeys[leafOf[doc]!]! : (doc) => ownKeys.get(doc) ?? leafKeys[leafOf[doc]!]!,
    categories,
    towns,
    listedAt: rows.listedAtMillis,
    lexicalBytes: index.lexical?.memoryBytes() ?? 0,
    lexicalThreads: () => threads?.size ?? 0,
    close: async () => {
      await threads?.close();
    },
  };
}
