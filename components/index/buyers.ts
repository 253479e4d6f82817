/**
 * Buyers: no public buyer data exists, so the population is generated, reproducibly (the same snapshot
 * and seed give the same buyers), from the catalogue itself: homes are drawn from where listings are,
 * interests lean on the category mix with age-dependent preferences, price bands follow age, and the
 * viewed products are listings in the buyer's interests and price band, nearer ones more likely.
 * Its cost is O(listings) once an age band plus O(views) a buyer.
 */
import { createHash } from 'node:crypto';
import { distanceKm, seededRandom, upsertRows, type Queryable, type UpsertSpec } from '../core/platform/index.js';
import type { SnapshotProduct } from '../core/contracts/index.js';

export const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'] as const;
export type AgeBand = (typeof AGE_BANDS)[number];

export interface Buyer {
  id: string;
  age_band: AgeBand;
  gender: 'female' | 'male' | 'unspecified';
  town: string | null;
  county: string | null;
  latitude: number;
  longitude: number;
  interests: Record<string, number>;
  price_min: number;
  price_max: number;
  viewed: string[];
  snapshot_id: string;
  content_hash: string;
}

/** Age bands' share of UK online second-hand buyers (rough, for a plausible population, not a census). */
const AGE_WEIGHTS: Record<AgeBand, number> = { '18-24': 0.16, '25-34': 0.24, '35-44': 0.21, '45-54': 0.17, '55-64': 0.13, '65+': 0.09 };

/** How much more (or less) likely an age band is to follow a root category than its share of listings says. */
const AGE_LEANINGS: Partial<Record<AgeBand, Record<string, number>>> = {
  '18-24': {
    'Video Games & Consoles': 3,
    'Phones, Mobile Phones & Telecoms': 2,
    'Clothes, Footwear & Accessories': 2,
    'Baby & Kids Stuff': 0.3,
  },
  '25-34': { 'Baby & Kids Stuff': 2.5, 'Home & Garden': 1.5, 'Computers & Software': 1.5 },
  '35-44': { 'Baby & Kids Stuff': 2, 'DIY Tools & Materials': 1.5, 'Home & Garden': 1.5 },
  '45-54': { 'DIY Tools & Materials': 2, 'Office Furniture & Equipment': 1.5 },
  '55-64': { 'Home & Garden': 2, 'Music, Films, Books & Games': 1.5, 'Video Games & Consoles': 0.4 },
  '65+': { 'Home & Garden': 2, 'Health & Beauty': 1.5, 'Music, Films, Books & Games': 1.5, 'Video Games & Consoles': 0.2 },
};

/** Price bands in pence, by age (younger buyers spend less on second-hand goods). */
const PRICE_BANDS: Record<AgeBand, [number, number]> = {
  '18-24': [0, 150_00],
  '25-34': [0, 400_00],
  '35-44': [500, 800_00],
  '45-54': [500, 1_000_00],
  '55-64': [500, 600_00],
  '65+': [0, 300_00],
};

export interface BuyerOptions {
  count: number;
  seed?: number;
  snapshotId: string;
}

function pickWeighted<T>(entries: readonly [T, number][], next: () => number): T {
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let at = next() * total;
  for (const [value, weight] of entries) {
    at -= weight;
    if (at <= 0) return value;
  }
  return entries[entries.length - 1]![0];
}

/**
 * The listings an age band can view: each root's listings inside the band's price range, as positions
 * in the catalogue. Built once for each band, so a buyer's views cost O(views), not O(listings): at 10^6
 * listings, filtering the catalogue for each of 2,000 buyers took 10 minutes.
 */
function viewableByRoot(products: readonly SnapshotProduct[], age: AgeBand): Map<string, number[]> {
  const [priceMin, priceMax] = PRICE_BANDS[age];
  const byRoot = new Map<string, number[]>();
  products.forEach((p, k) => {
    if (p.priceMinor < priceMin || p.priceMinor > priceMax) return;
    const bucket = byRoot.get(p.root);
    if (bucket) bucket.push(k);
    else byRoot.set(p.root, [k]);
  });
  return byRoot;
}

/** Drawing one view gives up after this many refused proposals and takes the last (far from every listing). */
const MAX_PROPOSALS = 256;

/**
 * 3 to 12 distinct listings among the viewable ones of the buyer's roots, nearer ones more likely: a
 * listing's weight is 1 / (1 + distance / 25 km), 0.2 without a place. Drawn by rejection: a viewable
 * listing uniformly, kept with probability its weight (every weight is at most 1), which is exactly
 * the weighted draw without weighing every candidate.
 */
function viewListings(
  products: readonly SnapshotProduct[],
  viewable: ReadonlyMap<string, number[]>,
  roots: readonly string[],
  home: { latitude: number; longitude: number },
  next: () => number,
): string[] {
  const buckets = roots.map((root) => viewable.get(root) ?? []);
  const total = buckets.reduce((sum, bucket) => sum + bucket.length, 0);
  const propose = () => {
    let at = Math.floor(next() * total);
    for (const bucket of buckets) {
      if (at < bucket.length) return products[bucket[at]!]!;
      at -= bucket.length;
    }
    throw new Error(`no viewable listing at ${at} of ${total}`); // unreachable: at < total
  };
  const weight = (p: SnapshotProduct) =>
    p.latitude === null
      ? 0.2
      : 1 / (1 + distanceKm({ lat: home.latitude, lon: home.longitude }, { lat: p.latitude, lon: p.longitude ?? 0 }) / 25);
  const viewed: string[] = [];
  const views = Math.min(total, 3 + Math.floor(next() * 10));
  for (let k = 0; k < views * 3 && viewed.length < views; k++) {
    let pick = propose();
    for (let tries = 1; tries < MAX_PROPOSALS && next() >= weight(pick); tries++) pick = propose();
    if (!viewed.includes(pick.id)) viewed.push(pick.id);
  }
  return viewed;
}

export function generateBuyers(products: readonly SnapshotProduct[], options: BuyerOptions): Buyer[] {
  const next = seededRandom(options.seed ?? 7);
  const located = products.filter((p) => p.latitude !== null && p.longitude !== null);
  if (located.length === 0) throw new Error('no located listings to place buyers near: clean a catalogue with locations first');
  const viewable = new Map(AGE_BANDS.map((age) => [age, viewableByRoot(products, age)]));
  const rootShare = new Map<string, number>();
  for (const p of products) rootShare.set(p.root, (rootShare.get(p.root) ?? 0) + 1);
  const buyers: Buyer[] = [];
  for (let i = 0; i < options.count; i++) {
    const age = pickWeighted(Object.entries(AGE_WEIGHTS) as [AgeBand, number][], next);
    const gender = pickWeighted<Buyer['gender']>(
      [
        ['female', 0.49],
        ['male', 0.49],
        ['unspecified', 0.02],
      ],
      next,
    );
    const home = located[Math.floor(next() * located.length)]!;
    // Jitter the home a few kilometres around the listing's place: buyers are not all at town centres.
    const latitude = (home.latitude ?? 0) + (next() - 0.5) * 0.06;
    const longitude = (home.longitude ?? 0) + (next() - 0.5) * 0.1;
    const leanings = AGE_LEANINGS[age] ?? {};
    const weighted = [...rootShare.entries()].map(([root, n]) => [root, n * (leanings[root] ?? 1)] as [string, number]);
    const interests: Record<string, number> = {};
    const picks = 1 + Math.floor(next() * 3);
    for (let k = 0; k < picks; k++) {
      const root = pickWeighted(weighted, next);
      interests[root] = (interests[root] ?? 0) + 1 / picks;
    }
    const [priceMin, priceMax] = PRICE_BANDS[age];
    const viewed = viewListings(products, viewable.get(age)!, Object.keys(interests), { latitude, longitude }, next);
    const buyer = {
      id: `buyer-${String(i).padStart(6, '0')}`,
      age_band: age,
      gender,
      town: home.town,
      county: home.county,
      latitude: Math.round(latitude * 1e5) / 1e5,
      longitude: Math.round(longitude * 1e5) / 1e5,
      interests,
      price_min: priceMin,
      price_max: priceMax,
      viewed,
      snapshot_id: options.snapshotId,
    };
    buyers.push({ ...buyer, content_hash: createHash('sha256').update(JSON.stringify(buyer)).digest('hex') });
  }
  return buyers;
}

const BUYERS_UPSERT: UpsertSpec = {
  table: 'buyers',
  columns: {
    id: 'text',
    age_band: 'text',
    gender: 'text',
    town: 'text',
    county: 'text',
    latitude: 'double precision',
    longitude: 'double precision',
    interests: 'jsonb',
    price_min: 'bigint',
    price_max: 'bigint',
    viewed: 'jsonb',
    snapshot_id: 'text',
    content_hash: 'text',
  },
  key: ['id'],
  changeColumns: ['content_hash'],
  touch: ['updated_at'],
};

/** Stores the population (idempotent: the same buyers rewrite nothing), in batches. */
export async function storeBuyers(q: Queryable, buyers: readonly Buyer[], batchSize = 1000) {
  const total = { inserted: 0, updated: 0, unchanged: 0 };
  for (let i = 0; i < buyers.length; i += batchSize) {
    const counts = await upsertRows(q, BUYERS_UPSERT, buyers.slice(i, i + batchSize) as unknown as Record<string, unknown>[]);
    total.inserted += counts.inserted;
    total.updated += counts.updated;
    total.unchanged += counts.unchanged;
  }
  return total;
}
