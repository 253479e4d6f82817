/**
 * The search service's answers as the page reads them (the JSON schemas in components/serve/schemas.ts,
 * routes/listing.ts and routes/ui.ts serialise them; only the fields the page uses are named here).
 * Plain data: this file is read by the page's checker (tsconfig.json beside it) and by the project's.
 */

export type Mode = 'hybrid' | 'lexical' | 'dense';
export type Sort = 'relevance' | 'price_asc' | 'price_desc' | 'distance' | 'newest';

export interface Versioned {
  model: string;
  index: string;
  tookMs: number;
}

export interface Why {
  matchedTerms?: string[];
  titleTerms?: string[];
  lexicalScore?: number | null;
  denseSimilarity?: number;
  distanceKm?: number | null;
}

export interface ResultRow {
  id: string;
  title: string;
  root: string;
  category: string;
  priceMinor: number;
  town: string | null;
  listedAt?: string | null;
  score: number;
  why: Why;
}

export interface PageAnswer extends Versioned {
  sort: string;
  k: number;
  offset: number;
  next: string | null;
  filters?: {
    category: string | null;
    minPriceMinor: number | null;
    maxPriceMinor: number | null;
    place: string | null;
    radiusKm: number | null;
  };
  notes: string[];
  results: ResultRow[];
}

export interface SearchAnswer extends PageAnswer {
  query: string;
  mode: Mode;
}

export interface ProductDetail {
  id: string;
  title: string;
  root: string;
  path: string[];
  priceMinor: number;
  town: string | null;
  county: string | null;
  latitude: number | null;
  longitude: number | null;
  listedAt: string | null;
  hasImage: boolean;
}

export interface ProductAnswer extends Versioned {
  product: ProductDetail;
}

export interface BuyerMatch {
  id: string;
  ageBand: string;
  gender: string;
  town: string | null;
  latitude?: number;
  longitude?: number;
  score: number;
  interestSimilarity: number;
  distanceKm: number | null;
  reasons: string[];
}

export interface BuyersAnswer extends Versioned {
  radiusKm: number;
  distanceFilter: boolean;
  notes?: string[];
  results: BuyerMatch[];
}

export interface Figure {
  metric: string;
  label: string;
  value: number;
}

export interface About {
  model: string;
  index: string;
  loadedAt: string;
  products?: number;
  buyers?: number;
  snapshots: { model: string; index: string };
  evaluation: { snapshot: string; testProducts: number; promoted: boolean; reason: string; figures: Figure[] } | null;
  reports: { eda: string | null; training: string | null; evaluation: string | null };
  categories: string[];
}

export interface ErrorAnswer {
  statusCode?: number;
  error?: string;
  message?: string;
  parameter?: string;
}

/** The UK outline (uk-outline.json): lon/lat rings per country. */
export interface Outline {
  source: string;
  countries: { name: string; rings: [number, number][][] }[];
}
