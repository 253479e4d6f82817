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
  /** Per listing: its category path's prefixes as keys ("home & garden", "home & garden / sofas", …). */
  categoryKeys: readonly string[][];
  /** Every category key of the catalogue → how it is written (for the answer and for suggestions). */
  categories: ReadonlyMap<string, string>;
  /** Normalised town name → the places listings give under it (town, county, coordinates). */
  towns: ReadonlyMap<string, readonly Place[]>;
  /** Milliseconds since the epoch, NaN when unknown. */
  listedAt: Float64Array;
  /** Bytes the lexical index holds in memory. */
  lexicalBytes: number;
}

export interface Place {
  town: string;
  county: string | null;
  lat: number;
  lon: number;
}

/** Category keys: levels trimmed and lower-cased, joined by " / " (what the category filter compares). */
export const categoryKey = (levels: readonly string[]): string => levels.map((level) => level.trim().toLowerCase()).join(' / ');

export function buildSearchView(index: SearchIndex): SearchView {
  const rows = index.productRows;
  const paths = rows.map((row) => row.path ?? [row.root]);
  // An index without the lexical files: an empty lexical index, so that every mode still runs (on the dense part).
  const lexical = index.lexical ?? LexicalIndex.build(rows.map(() => ({ title: '', text: '', category: '' })));
  const products = index.products;
  const catalogue = hybridCatalogue({
    lexical,
    dense: (query, k) => products.search(query, k),
    vectors: index.productVectors,
    dim: index.metadata.products.dim,
    paths,
  });

  const categories = new Map<string, string>();
  const categoryKeys = paths.map((path) =>
    path.map((_, depth) => {
      const key = categoryKey(path.slice(0, depth + 1));
      if (!categories.has(key)) categories.set(key, path.slice(0, depth + 1).join(' / '));
      return key;
    }),
  );

  const towns = new Map<string, Place[]>();
  for (const row of rows) {
    if (!row.town || row.latitude === null || row.longitude === null) continue;
    const key = normalizeName(row.town);
    const places = towns.get(key) ?? [];
    // One entry per distinct place (listings in the same town repeat it).
    if (!places.some((p) => distanceKm(p, { lat: row.latitude!, lon: row.longitude! }) < 1))
      places.push({ town: row.town, county: row.county, lat: row.latitude, lon: row.longitude });
    towns.set(key, places);
  }

  return {
    catalogue,
    fusion: index.metadata.lexical?.fusion ?? DEFAULT_FUSION,
    hasLexical: index.lexical !== null,
    categoryKeys,
    categories,
    towns,
    listedAt: Float64Array.from(rows, (row) => (row.listedAt ? Date.parse(row.listedAt) : Number.NaN)),
    lexicalBytes: index.lexical?.memoryBytes() ?? 0,
  };
}
