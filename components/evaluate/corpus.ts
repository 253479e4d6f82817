/**
 * The listings evaluate searches and classifies. Each model embeds every listing it searches, and an
 * exact search holds their vectors: the whole of a 10^6 catalogue took 17.5 minutes of embedding and
 * 6.1 GiB (the pod's limit is 4 GiB), and at 10^7 it would not fit at all. So above
 * MAX_EVALUATION_LISTINGS, both models are scored over the same even sample of the snapshot: every test
 * listing that is classified (and so queried), an even sample of the validation listings (the fusion
 * fit's queries), and an even spread of the rest as the listings they compete with. The cost is then
 * bounded at any catalogue size, and the gate still compares the models, and the plain baseline, on
 * the same corpus and the same queries. Search over a tenth of a 10^6 catalogue is easier than over all
 * of it, so the absolute numbers are the sample's: the index step measures its index on the whole
 * catalogue. A catalogue under the bound (the real export's 6,258) is read whole, as before.
 */
import type { ArtifactStore } from '../core/platform/index.js';
import { readSnapshotProducts, type SnapshotProduct } from '../core/contracts/index.js';
import { MAX_CLASSIFIED_LISTINGS, MAX_QUERY_LISTINGS } from '../core/ml/index.js';

/** Listings one evaluation searches, at most (100,000 x 256-d float32 vectors: 100 MB a model). */
export const MAX_EVALUATION_LISTINGS = 100_000;

export interface EvaluationCorpus {
  /** The listings searched, in snapshot order. */
  listings: SnapshotProduct[];
  /** The test listings classified (an even sample of the snapshot's), each also in `listings`. */
  classified: SnapshotProduct[];
  /** Listings in the snapshot. */
  snapshotListings: number;
}

export interface CorpusLimits {
  listings?: number;
  classified?: number;
  validation?: number;
}

/** A mask of `max` of `n` positions, evenly spaced as evenSample picks them (all of them when n <= max). */
function evenMask(n: number, max: number): Uint8Array {
  const mask = new Uint8Array(n);
  if (n <= max) mask.fill(1);
  else for (let i = 0; i < max; i++) mask[Math.floor((i * n) / max)] = 1;
  return mask;
}

/**
 * Reads the snapshot twice, as a stream: once to count its test, validation and other listings, once
 * to keep the chosen ones. Only the kept listings are ever held.
 */
export async function readEvaluationCorpus(
  store: ArtifactStore,
  snapshotId: string,
  split: { test: ReadonlySet<string>; validation: ReadonlySet<string> },
  limits: CorpusLimits = {},
): Promise<EvaluationCorpus> {
  const max = limits.listings ?? MAX_EVALUATION_LISTINGS;
  const group = (p: SnapshotProduct) => (split.test.has(p.id) ? 0 : split.validation.has(p.id) ? 1 : 2);
  const counts = [0, 0, 0];
  for await (const product of readSnapshotProducts(store, snapshotId)) counts[group(product)]!++;
  const total = counts[0]! + counts[1]! + counts[2]!;
  const classifiedMask = evenMask(counts[0]!, limits.classified ?? MAX_CLASSIFIED_LISTINGS);
  let keep: (product: SnapshotProduct, ordinal: number[]) => boolean;
  if (total <= max) keep = () => true;
  else {
    const validationMask = evenMask(counts[1]!, Math.min(limits.validation ?? MAX_QUERY_LISTINGS, max));
    const chosen = (mask: Uint8Array) => mask.reduce((sum, bit) => sum + bit, 0);
    // The rest fill what the classified and validation listings leave, spread over those not chosen.
    const rest = total - chosen(classifiedMask) - chosen(validationMask);
    const restMask = evenMask(rest, Math.max(0, max - chosen(classifiedMask) - chosen(validationMask)));
    keep = (product, ordinal) => {
      const g = group(product);
      if (g === 0 && classifiedMask[ordinal[0]!]) return true;
      if (g === 1 && validationMask[ordinal[1]!]) return true;
      return restMask[ordinal[3]!++] === 1;
    };
  }
  const listings: SnapshotProduct[] = [];
  const classified: SnapshotProduct[] = [];
  // Positions within the test and validation groups, and (4th) among the listings not chosen by them.
  const ordinal = [0, 0, 0, 0];
  for await (const product of readSnapshotProducts(store, snapshotId)) {
    const g = group(product);
    if (keep(product, ordinal)) {
      listings.push(product);
      if (g === 0 && classifiedMask[ordinal[0]!]) classified.push(product);
    }
    ordinal[g]!++;
  }
  if (ordinal[0]! + ordinal[1]! + ordinal[2]! !== total)
    throw new Error(`snapshot ${snapshotId} changed while it was read: ${total} listings, then ${ordinal[0]! + ordinal[1]! + ordinal[2]!}`);
  return { listings, classified, snapshotListings: total };
}
