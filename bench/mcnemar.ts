/**
 * McNemar's exact test for two classifiers scored on the same items: only the items they disagree on
 * count. `onlyA` items only A gets right, `onlyB` only B; under "equally good" each disagreement is a
 * fair coin, so p is the two-sided binomial tail of the smaller count (capped at 1).
 */
export function mcnemarExactP(onlyA: number, onlyB: number): number {
  const n = onlyA + onlyB;
  if (n === 0) return 1;
  // P(X = i) for Binomial(n, 1/2) in log space: n in the thousands would underflow 0.5 ** n.
  let logTerm = -n * Math.LN2;
  let tail = 0;
  for (let i = 0; i <= Math.min(onlyA, onlyB); i++) {
    tail += Math.exp(logTerm);
    logTerm += Math.log(n - i) - Math.log(i + 1);
  }
  return Math.min(1, 2 * tail);
}
