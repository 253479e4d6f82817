/**
 * A buyer as a vector: an interest part in the product embedding space ⊕ a demographic part.
 *
 * - Interests: the buyer's category interests, each as the centroid of that category's product
 *   vectors, blended half and half with the mean of the products they viewed (what they actually
 *   looked at says more than the category label). Normalised, it lives where those products live, so a
 *   product vector finds the buyers whose interests point at it.
 * - Demographics: age band and gender one-hot, home as a point on the unit sphere (near homes, near
 *   points). Normalised.
 * - The two parts are weighted √w and √(1−w), so the whole vector is a unit vector and the inner
 *   product of a product query [p·√w, 0] with a buyer is √w·√w·(p·interest) = w·cosine.
 */
import type { Buyer } from './buyers.js';
import { AGE_BANDS } from './buyers.js';

export const GENDERS = ['female', 'male', 'unspecified'] as const;
export const DEMOGRAPHIC_DIM = AGE_BANDS.length + GENDERS.length + 3;
export const INTEREST_WEIGHT = 0.8;

function normalise(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let d = 0; d < vector.length; d++) vector[d]! /= norm;
  return vector;
}

/** Unit centroid of each root category's product vectors. */
export function categoryCentroids(roots: readonly string[], vectors: Float32Array, dim: number): Map<string, Float32Array> {
  const sums = new Map<string, Float32Array>();
  roots.forEach((root, k) => {
    const sum = sums.get(root) ?? new Float32Array(dim);
    for (let d = 0; d < dim; d++) sum[d]! += vectors[k * dim + d]!;
    sums.set(root, sum);
  });
  for (const sum of sums.values()) normalise(sum);
  return sums;
}

export function demographicVector(buyer: Pick<Buyer, 'age_band' | 'gender' | 'latitude' | 'longitude'>): Float32Array {
  const out = new Float32Array(DEMOGRAPHIC_DIM);
  out[AGE_BANDS.indexOf(buyer.age_band)] = 1;
  out[AGE_BANDS.length + GENDERS.indexOf(buyer.gender)] = 1;
  const lat = (buyer.latitude * Math.PI) / 180;
  const lon = (buyer.longitude * Math.PI) / 180;
  const at = AGE_BANDS.length + GENDERS.length;
  out[at] = Math.cos(lat) * Math.cos(lon);
  out[at + 1] = Math.cos(lat) * Math.sin(lon);
  out[at + 2] = Math.sin(lat);
  return normalise(out);
}

export function buyerVector(
  buyer: Buyer,
  centroids: ReadonlyMap<string, Float32Array>,
  productVector: (id: string) => Float32Array | undefined,
  dim: number,
  interestWeight = INTEREST_WEIGHT,
): Float32Array {
  const categories = new Float32Array(dim);
  for (const [root, weight] of Object.entries(buyer.interests)) {
    const centroid = centroids.get(root);
    if (centroid) for (let d = 0; d < dim; d++) categories[d]! += weight * centroid[d]!;
  }
  normalise(categories);
  const viewed = new Float32Array(dim);
  for (const id of buyer.viewed) {
    const vector = productVector(id);
    if (vector) for (let d = 0; d < dim; d++) viewed[d]! += vector[d]!;
  }
  normalise(viewed);
  const interest = new Float32Array(dim);
  for (let d = 0; d < dim; d++) interest[d] = categories[d]! + viewed[d]!;
  normalise(interest);
  const demographic = demographicVector(buyer);
  const out = new Float32Array(dim + DEMOGRAPHIC_DIM);
  const a = Math.sqrt(interestWeight);
  const b = Math.sqrt(1 - interestWeight);
  for (let d = 0; d < dim; d++) out[d] = a * interest[d]!;
  for (let d = 0; d < DEMOGRAPHIC_DIM; d++) out[dim + d] = b * demographic[d]!;
  return out;
}
