/**
 * How many listings the offline search queries are made from. Index (the hybrid ranking's fit on the
 * validation listings) and evaluate (the fit, then retrieval and search quality on the test listings)
 * each make a few queries of every listing they are given, and each query ranks the whole catalogue: all
 * the validation or test listings of a catalogue of N make that O(N^2) (about 400,000 queries at 10^6,
 * hours on two cores). An even sample of at most MAX_QUERY_LISTINGS keeps the estimate as good (a mean
 * over thousands of queries) and the cost linear in N. The real export (about 1,000 validation and 1,000
 * test listings) is below it: its fit and scores are those of every listing.
 */

/** Listings that make the queries of one fit or one score, at most. */
export const MAX_QUERY_LISTINGS = 2000;

/**
 * Test listings evaluate classifies, at most. Classifying reads each listing's pretrained sentence
 * vector (USE lite on TF.js: 35 texts a second measured in train at 10^6 on this machine's two shared
 * cores), so all ~97,000 test listings of a 10^6 catalogue would take ~45 minutes; 10,000 measure an accuracy to about ±0.4 points
 * (one standard error near 0.85), and both models are scored on the same ones. The real export's ~1,000 are all read.
 */
export const MAX_CLASSIFIED_LISTINGS = 10_000;

/**
 * At most `max` of `items`, evenly spaced, in the order given (all of them when there are no more):
 * the same items give the same sample.
 */
export function evenSample<T>(items: readonly T[], max: number = MAX_QUERY_LISTINGS): T[] {
  if (items.length <= max) return [...items];
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]!);
}
