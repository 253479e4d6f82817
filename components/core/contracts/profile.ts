/**
 * A data profile: the statistics of the listings a model was trained on, written by train beside the
 * model and read by drift, which compares new listings with it. Features: the root-category mix, the
 * price distribution (log scale) and the length of the text the model reads; each numeric feature is
 * kept as the shares of training rows between its training deciles, so new rows can be binned the
 * same way.
 */
import { z } from 'zod';

export const DataProfile = z.object({
  snapshotId: z.string(),
  /** Listings changed after this instant are "new" to a model trained on this profile. */
  createdAt: z.string(),
  rows: z.number().int().nonnegative(),
  categories: z.record(z.string(), z.number()),
  price: z.object({ edges: z.array(z.number()), shares: z.array(z.number()) }),
  textLength: z.object({ edges: z.array(z.number()), shares: z.array(z.number()) }),
  /**
   * Summary of the training products' embeddings (written by train): per-dimension mean and variance,
   * so drift can measure how far new listings' embeddings moved without keeping the vectors.
   */
  embeddings: z.object({ dim: z.number().int().positive(), mean: z.array(z.number()), variance: z.array(z.number()) }).optional(),
});
export type DataProfile = z.infer<typeof DataProfile>;

export interface ProfileRow {
  root: string;
  priceMinor: number;
  textLength: number;
}

/**
 * A listing as the profile describes it: the one definition train (which builds the profile) and
 * drift (which compares new listings with it) share, so both measure text length the same way.
 */
export function profileRowOf(listing: { root: string; priceMinor: number; title: string; text: string }): ProfileRow {
  return { root: listing.root, priceMinor: listing.priceMinor, textLength: listing.title.length + listing.text.length };
}

const BINS = 10;
/** Shares are floored at this before the logarithm: an empty bin must not make the PSI infinite. */
const FLOOR = 1e-4;

function quantileEdges(values: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let i = 1; i < BINS; i++) edges.push(sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / BINS))] ?? 0);
  return edges;
}

/** Shares of `values` in the bins that `edges` (ascending, inner edges) make. */
export function binShares(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const value of values) {
    let bin = 0;
    while (bin < edges.length && value > (edges[bin] ?? Infinity)) bin++;
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return counts.map((count) => (values.length > 0 ? count / values.length : 0));
}

function categoryShares(rows: readonly ProfileRow[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.root] = (counts[row.root] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).map(([root, n]) => [root, n / rows.length]));
}

const logPrice = (row: ProfileRow) => Math.log10(Math.max(1, row.priceMinor));

export function buildProfile(rows: readonly ProfileRow[], snapshotId: string, createdAt: string): DataProfile {
  const prices = rows.map(logPrice);
  const lengths = rows.map((row) => row.textLength);
  const priceEdges = quantileEdges(prices);
  const lengthEdges = quantileEdges(lengths);
  return {
    snapshotId,
    createdAt,
    rows: rows.length,
    categories: categoryShares(rows),
    price: { edges: priceEdges, shares: binShares(prices, priceEdges) },
    textLength: { edges: lengthEdges, shares: binShares(lengths, lengthEdges) },
  };
}

/** Population stability index: Σ (actual − expected) · ln(actual / expected) over matching bins. */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = Math.max(FLOOR, expected[i] ?? 0);
    const a = Math.max(FLOOR, actual[i] ?? 0);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

export interface ProfileShift {
  category: number;
  price: number;
  textLength: number;
}

/** The PSI of each feature between the training profile and new rows. */
export function profileShift(training: DataProfile, rows: readonly ProfileRow[]): ProfileShift {
  const roots = [...new Set([...Object.keys(training.categories), ...rows.map((row) => row.root)])].sort();
  const current = categoryShares(rows);
  return {
    category: psi(
      roots.map((root) => training.categories[root] ?? 0),
      roots.map((root) => current[root] ?? 0),
    ),
    price: psi(training.price.shares, binShares(rows.map(logPrice), training.price.edges)),
    textLength: psi(
      training.textLength.shares,
      binShares(
        rows.map((row) => row.textLength),
        training.textLength.edges,
      ),
    ),
  };
}
