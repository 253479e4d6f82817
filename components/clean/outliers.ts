/**
 * Price outliers: a listing is an outlier when its price lies outside the Tukey fences of its root
 * category's log prices (Q1 − 1.5 IQR, Q3 + 1.5 IQR on log10 of the price). Log scale, because
 * second-hand prices span pennies to thousands and are right-skewed: on it, 1.5 IQR is already a
 * factor of ten or more either side of the middle half, so a dear sofa stays while a £10,000,000 bike
 * part or a 1p "price on request" placeholder does not. Categories with few prices use the fences of all.
 */
export interface PriceFence {
  /** Lowest and highest accepted price in minor units. */
  minMinor: number;
  maxMinor: number;
  /** How many prices the fence was computed from. */
  basis: number;
}

const MIN_BASIS = 20;
const FENCE_IQRS = 1.5;

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
  const spread = FENCE_IQRS * (q3 - q1);
  return { minMinor: Math.round(10 ** (q1 - spread)), maxMinor: Math.round(10 ** (q3 + spread)), basis: logs.length };
}

/** Fences per root category (and `*` for all), from positive prices in minor units. */
export function priceFences(pricesByRoot: ReadonlyMap<string, readonly number[]>): Map<string, PriceFence> {
  const all = [...pricesByRoot.values()].flat();
  const fences = new Map<string, PriceFence>();
  // Too few prices to tell an outlier from a small market: no fence at all.
  const overall = all.length >= MIN_BASIS ? fence(all) : { minMinor: 0, maxMinor: Number.MAX_SAFE_INTEGER, basis: all.length };
  fences.set('*', overall);
  for (const [root, prices] of pricesByRoot) fences.set(root, prices.length >= MIN_BASIS ? fence(prices) : overall);
  return fences;
}
