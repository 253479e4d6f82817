/**
 * The drift check: the listings of the snapshot the pipeline pinned that are new or changed since the
 * production model's training snapshot, compared with that model's training profile by population
 * stability index per feature (root-category mix, price, text length). Drifted when any PSI exceeds
 * the threshold (0.2 is the customary "significant shift"), or when no model is in production yet
 * (there is nothing to be stale against: train one). It reads the two snapshots, never the live
 * catalogue, so what it judges is exactly what train would train on.
 * Beside the PSIs, the embedding shift: the new listings embedded by the production model itself
 * (ONNX), their mean compared with the training embeddings' mean in units of the training standard
 * deviation per dimension (mean absolute standardised difference). It catches what the three
 * hand-picked features miss: new kinds of listings within the same categories, prices and lengths.
 */
import { createHash } from 'node:crypto';
import { chartSvg, errorMessage, htmlReport, InputError, type ArtifactStore, type Figure } from '../core/platform/index.js';
import {
  DataProfile,
  profileRowOf,
  profileShift,
  readServingRecord,
  readSnapshotProducts,
  SNAPSHOT_KEY,
  type ProfileShift,
  type SnapshotProduct,
} from '../core/contracts/index.js';
import { openEmbedder } from '../core/ml/index.js';

export interface DriftOptions {
  store: ArtifactStore;
  /** The snapshot the pipeline pinned: its listings are what drift judges. */
  snapshotId: string;
  /** PSI above which a feature has drifted. */
  threshold: number;
  /** Fewer new listings than this say nothing reliable: no drift. */
  minNewListings?: number;
  /** Mean absolute standardised embedding shift above which the listings have drifted. */
  embeddingThreshold?: number;
}

export const DEFAULT_EMBEDDING_THRESHOLD = 0.25;

export interface DriftVerdict {
  drifted: boolean;
  reason: string;
  model: string | null;
  /** The snapshot judged, and the production model's training snapshot it was compared with. */
  snapshot: string;
  trainingSnapshot: string | null;
  newListings: number;
  threshold: number;
  psi: ProfileShift | null;
  /** Mean absolute standardised shift of the new listings' embeddings (null without a profile of them). */
  embeddingShift: number | null;
  embeddingThreshold: number;
}

export const PROFILE_FILE = 'profile.json';

/** What makes a listing "changed" for drift: the fields the model reads. A hash, so a million fit in memory. */
function contentOf(product: SnapshotProduct): string {
  const fields = [product.title, product.text, product.root, product.path, product.priceMinor, product.town, product.county];
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64');
}

/** Mean over dimensions of |new mean − training mean| / training standard deviation. */
export function embeddingShift(training: NonNullable<DataProfile['embeddings']>, vectors: Float32Array, count: number): number {
  const dim = training.dim;
  let total = 0;
  for (let d = 0; d < dim; d++) {
    let mean = 0;
    for (let k = 0; k < count; k++) mean += vectors[k * dim + d]! / count;
    total += Math.abs(mean - training.mean[d]!) / Math.sqrt(Math.max(training.variance[d]!, 1e-8));
  }
  return total / dim;
}

/**
 * The listings of `snapshotId` that the training snapshot did not hold, or held with other content.
 * Without the training snapshot (deleted since), every listing counts as new, and the caller says so.
 */
export async function newListingsOf(
  store: ArtifactStore,
  snapshotId: string,
  trainingSnapshotId: string | null,
): Promise<{ listings: SnapshotProduct[]; total: number; baseline: boolean }> {
  const known = new Map<string, string>();
  const baseline = trainingSnapshotId !== null && (await store.exists(SNAPSHOT_KEY(trainingSnapshotId)));
  if (baseline) for await (const product of readSnapshotProducts(store, trainingSnapshotId)) known.set(product.id, contentOf(product));
  const listings: SnapshotProduct[] = [];
  let total = 0;
  for await (const product of readSnapshotProducts(store, snapshotId)) {
    total += 1;
    if (known.get(product.id) !== contentOf(product)) listings.push(product);
  }
  return { listings, total, baseline };
}

async function newListingsEmbeddingShift(
  store: ArtifactStore,
  modelVersion: string,
  profile: DataProfile,
  listings: readonly SnapshotProduct[],
): Promise<number | null> {
  if (!profile.embeddings) return null;
  const embedder = await openEmbedder(store, modelVersion);
  try {
    const encoded = await embedder.embedProducts(
      listings.map((p) => ({ title: p.title, text: p.text, priceMinor: p.priceMinor, town: p.town, county: p.county })),
    );
    return embeddingShift(profile.embeddings, encoded.embeddings, encoded.n);
  } finally {
    await embedder.close();
  }
}

async function readProfile(store: ArtifactStore, modelKey: string): Promise<DataProfile> {
  const key = `${modelKey}/${PROFILE_FILE}`;
  let json: unknown;
  try {
    json = JSON.parse((await store.get(key)).toString('utf8'));
  } catch (error) {
    throw new InputError(`the production model has no readable data profile at ${store.uri(key)}: ${errorMessage(error)}`);
  }
  const parsed = DataProfile.safeParse(json);
  if (!parsed.success) throw new InputError(`${store.uri(key)} is not a data profile: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export async function checkDrift(options: DriftOptions): Promise<DriftVerdict> {
  const { store, threshold, snapshotId } = options;
  const minNew = options.minNewListings ?? 50;
  const embeddingThreshold = options.embeddingThreshold ?? DEFAULT_EMBEDDING_THRESHOLD;
  if (!(await store.exists(SNAPSHOT_KEY(snapshotId))))
    throw new InputError(`snapshot ${snapshotId} is not in the artifact store (${store.uri(SNAPSHOT_KEY(snapshotId))})`);
  const serving = await readServingRecord(store);
  if (!serving) {
    // Only counted: holding every listing to count them took about 1 GB at 10^6 (the pod's limit is 2 GiB).
    let total = 0;
    for await (const product of readSnapshotProducts(store, snapshotId)) if (product) total += 1;
    return {
      drifted: true,
      reason: 'no model in production yet: train the first one',
      model: null,
      snapshot: snapshotId,
      trainingSnapshot: null,
      newListings: total,
      threshold,
      psi: null,
      embeddingShift: null,
      embeddingThreshold,
    };
  }
  const profile = await readProfile(store, serving.model.key);
  const { listings, baseline } = await newListingsOf(store, snapshotId, profile.snapshotId);
  const caveat = baseline ? '' : ` (training snapshot ${profile.snapshotId} is gone from the store: every listing counted as new)`;
  const base = {
    model: serving.model.version,
    snapshot: snapshotId,
    trainingSnapshot: profile.snapshotId,
    newListings: listings.length,
    threshold,
    embeddingThreshold,
  };
  if (listings.length < minNew) {
    return {
      ...base,
      drifted: false,
      reason: `no drift: ${listings.length} new or changed listings, fewer than the ${minNew} a comparison needs${caveat}`,
      psi: null,
      embeddingShift: null,
    };
  }
  const shift = profileShift(profile, listings.map(profileRowOf));
  const embedding = await newListingsEmbeddingShift(store, serving.model.version, profile, listings);
  const over = Object.entries(shift)
    .filter(([, value]) => value > threshold)
    .map(([name, value]) => `${name} PSI ${value.toFixed(3)} above ${threshold}`);
  if (embedding !== null && embedding > embeddingThreshold)
    over.push(`embedding shift ${embedding.toFixed(3)} above ${embeddingThreshold}`);
  return {
    ...base,
    psi: shift,
    embeddingShift: embedding,
    drifted: over.length > 0,
    reason:
      (over.length > 0
        ? `drift: ${over.join(', ')}`
        : `no drift: every PSI at or below ${threshold} (largest ${Math.max(...Object.values(shift)).toFixed(3)})` +
          (embedding === null ? '' : `, embedding shift ${embedding.toFixed(3)} at or below ${embeddingThreshold}`)) + caveat,
  };
}

/** The verdict as a standalone HTML report: PSI per feature against the threshold. */
export async function driftReport(verdict: DriftVerdict): Promise<string> {
  const figures: Figure[] = [];
  if (verdict.psi) {
    const values = Object.entries(verdict.psi).map(([feature, value]) => ({ feature, psi: value, threshold: verdict.threshold }));
    figures.push({
      title: 'Population stability index per feature',
      note: `New listings against the training profile of model ${verdict.model}; the rule marks the threshold ${verdict.threshold}.`,
      body: await chartSvg({
        width: 560,
        data: { values },
        layer: [
          {
            mark: 'bar',
            encoding: { y: { field: 'feature', type: 'nominal', title: null }, x: { field: 'psi', type: 'quantitative', title: 'PSI' } },
          },
          { mark: { type: 'rule', color: 'firebrick' }, encoding: { x: { field: 'threshold', type: 'quantitative' } } },
        ],
      }),
    });
  }
  return htmlReport({
    title: `Drift: ${verdict.drifted ? 'drifted' : 'no drift'}`,
    facts: [
      ['verdict', verdict.reason],
      ['production model', verdict.model ?? '(none)'],
      ['snapshot judged', verdict.snapshot],
      ['training snapshot', verdict.trainingSnapshot ?? '(none)'],
      ['new or changed listings', verdict.newListings],
      ['threshold', verdict.threshold],
      [
        'embedding shift',
        verdict.embeddingShift === null
          ? '(no embedding profile)'
          : `${verdict.embeddingShift.toFixed(3)} (threshold ${verdict.embeddingThreshold})`,
      ],
    ],
    figures,
    footer: 'PSI = Σ (new share − training share) · ln(new share / training share) over categories or training deciles.',
  });
}
