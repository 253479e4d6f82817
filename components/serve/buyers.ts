/**
 * "Buyers for this product": the buyers whose interests lie nearest the product in the embedding
 * space, who live within the radius and whose price band takes the product's price, reranked so that
 * among equally interested buyers the nearer come first, each with the reasons it matched.
 *
 * A buyer vector is [interest part (the product space) × √w, demographic part × √(1−w)] (index
 * component, metadata.buyers.interestWeight = w). The query [P × √w, 0…0] therefore scores a buyer
 * w × ⟨P, interest⟩: demographics do not pull a product towards anyone, and dividing by w gives back
 * the interest similarity itself.
 */
import { distanceKm } from '../core/platform/index.js';
import type { IndexedBuyer, IndexedProduct } from '../core/ml/index.js';
import type { LoadedVersion } from './loaded.js';
import { productVector } from './search.js';

/** Score lost by a buyer at the edge of the radius, relative to one next door (similarities span about [−1, 1]). */
const DISTANCE_PENALTY = 0.1;
/** Candidates read from the index before filtering: the filters drop many, so read well past k. */
const FIRST_POOL = 500;
const POOL_PER_RESULT = 50;

export interface BuyerMatch {
  id: string;
  ageBand: string;
  gender: string;
  town: string | null;
  /** Where the buyer lives (the search page's map). */
  latitude: number;
  longitude: number;
  /** Interest similarity minus the distance penalty: the ranking. */
  score: number;
  /** Cosine between the product and the buyer's interests. */
  interestSimilarity: number;
  /** Null when the product has no location. */
  distanceKm: number | null;
  /** The buyer's interest in the product's root category (their strongest interest when they have none in it). */
  interest: { category: string; weight: number; matchesProductCategory: boolean } | null;
  priceBand: { minMinor: number; maxMinor: number };
  /** The same facts in words. */
  reasons: string[];
}

export interface BuyersAnswer {
  product: IndexedProduct;
  radiusKm: number;
  /** False when the product has no location: nobody can be said to be near it. */
  distanceFilter: boolean;
  /** Buyers read from the index before the filters. */
  candidates: number;
  matches: BuyerMatch[];
  notes: string[];
}

const pounds = (minor: number) => `£${(minor / 100).toFixed(2)}`;

export function buyersForProduct(version: LoadedVersion, position: number, options: { radiusKm: number; k: number }): BuyersAnswer {
  const product = version.index.productRows.get(position);
  const { buyers, buyerRows, metadata } = version.index;
  const weight = metadata.buyers.interestWeight;
  const scale = Math.sqrt(weight);
  // [P × √w, 0…0], handed to faiss as it is (no copy into a JS array).
  const query = new Float32Array(version.dim + metadata.buyers.demographicDim);
  productVector(version, position).forEach((v, j) => {
    query[j] = v * scale;
  });
  const home = product.latitude !== null && product.longitude !== null ? { lat: product.latitude, lon: product.longitude } : null;
  const notes: string[] = [];
  if (!home) notes.push(`product ${product.id} has no location: the ${options.radiusKm} km radius filter was skipped`);
  if (weight <= 0) notes.push('the index gives interests no weight: matches are by filters only');

  const total = buyers.ntotal();
  let pool = Math.min(total, Math.max(FIRST_POOL, options.k * POOL_PER_RESULT));
  let matches: BuyerMatch[] = [];
  // Widen the pool until k buyers pass the filters or every buyer has been read.
  while (pool > 0) {
    matches = [];
    const { labels, distances } = buyers.searchFloat32(query, pool);
    labels.forEach((label, rank) => {
      const buyer = buyerRows[label];
      if (!buyer) return;
      const match = judge(buyer, product, home, distances[rank]!, weight, options.radiusKm);
      if (match) matches.push(match);
    });
    if (matches.length >= options.k || pool >= total) break;
    pool = Math.min(total, pool * 4);
  }
  matches.sort((a, b) => b.score - a.score);
  return {
    product,
    radiusKm: options.radiusKm,
    distanceFilter: home !== null,
    candidates: pool,
    matches: matches.slice(0, options.k),
    notes,
  };
}

function judge(
  buyer: IndexedBuyer,
  product: IndexedProduct,
  home: { lat: number; lon: number } | null,
  innerProduct: number,
  weight: number,
  radiusKm: number,
): BuyerMatch | null {
  if (product.priceMinor < buyer.priceMin || product.priceMinor > buyer.priceMax) return null;
  const km = home ? distanceKm(home, { lat: buyer.latitude, lon: buyer.longitude }) : null;
  if (km !== null && km > radiusKm) return null;
  const interestSimilarity = weight > 0 ? innerProduct / weight : 0;
  const score = interestSimilarity - (km === null ? 0 : DISTANCE_PENALTY * (km / radiusKm));
  const inCategory = buyer.interests.find(([category]) => category === product.root);
  const strongest = inCategory ?? buyer.interests[0];
  const interest = strongest ? { category: strongest[0], weight: strongest[1], matchesProductCategory: inCategory !== undefined } : null;
  const reasons = [
    interest
      ? interest.matchesProductCategory
        ? `interested in ${interest.category} (weight ${interest.weight.toFixed(2)})`
        : `no stated interest in ${product.root}; strongest interest ${interest.category} (weight ${interest.weight.toFixed(2)})`
      : 'no stated interests',
    `interest similarity ${interestSimilarity.toFixed(3)}`,
    km === null ? 'distance unknown (the product has no location)' : `${km.toFixed(1)} km away (radius ${radiusKm} km)`,
    `price ${pounds(product.priceMinor)} within their band ${pounds(buyer.priceMin)}–${pounds(buyer.priceMax)}`,
  ];
  return {
    id: buyer.id,
    ageBand: buyer.ageBand,
    gender: buyer.gender,
    town: buyer.town,
    latitude: buyer.latitude,
    longitude: buyer.longitude,
    score,
    interestSimilarity,
    distanceKm: km,
    interest,
    priceBand: { minMinor: buyer.priceMin, maxMinor: buyer.priceMax },
    reasons,
  };
}
