/**
 * Price outliers: a listing is an outlier when its price lies above the upper Tukey fence of its root
 * category's log prices (Q3 + 3 × IQR on log10 of the price). Log scale, because second-hand prices
 * span pennies to thousands and are right-skewed; a far fence (3, not 1.5) because an expensive
 * genuine item (a sofa, a laptop) must stay. Categories with too few prices use the fence of all.
 */
export interface PriceFence {
  /** Highest accepted price in minor units. */
  maxMinor: number;
  /** How many prices the fence was computed from. */
  basis: number;
}

const MIN_BASIS = 20;
const FENCE_IQRS = 3;

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return (sorted[low] ?? 0) + ((sorted[high] ?? 0) - (sorted[low] ?? 0)) * (at - low);
}

function fence(prices: readonly number[]): PriceFence {
  const logs = prices.map((p) => Math.log10(p)).sort((a, b) => a - b);
  const q1 = quantile(logs, 0.25);
  const q3 = quantile(logs, 0.75);
  return { maxMinor: Math.round(10 ** (q3 + FENCE_IQRS * (q3 - q1))), basis: logs.length };
}

/** Fences per root category (and `*` for all), from positive prices in minor units. */
export function priceFences(pricesByRoot: ReadonlyMap<string, readonly number[]>): Map<string, PriceFence> {
  const all = [...pricesByRoot.values()].flat();
  const fences = new Map<string, PriceFence>();
  const overall = all.length > 0 ? fence(all) : { maxMinor: Number.MAX_SAFE_INTEGER, basis: 0 };
  fences.set('*', overall);
  for (const [root, prices] of pricesByRoot) fences.set(root, prices.length >= MIN_BASIS ? fence(prices) : overall);
  return fences;
}
