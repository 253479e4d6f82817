/**
 * The drift check: listings cleaned after the production model's training snapshot, compared with
 * that model's training profile by population stability index per feature (root-category mix, price,
 * text length). Drifted when any PSI exceeds the threshold (0.2 is the customary "significant shift"),
 * or when no model is in production yet (there is nothing to be stale against: train one).
 * Beside the PSIs, the embedding shift: the new listings embedded by the production model itself
 * (ONNX), their mean compared with the training embeddings' mean in units of the training standard
 * deviation per dimension (mean absolute standardised difference). It catches what the three
 * hand-picked features miss: new kinds of listings within the same categories, prices and lengths.
 */
import {
  chartSvg,
  DataProfile,
  errorMessage,
  htmlReport,
  InputError,
  openEmbedder,
  profileShift,
  readServingRecord,
  type ArtifactStore,
  type Database,
  type Figure,
  type ProfileRow,
  type ProfileShift,
} from '../core/index.js';

export interface DriftOptions {
  db: Database;
  store: ArtifactStore;
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
  newListings: number;
  threshold: number;
  psi: ProfileShift | null;
  /** Mean absolute standardised shift of the new listings' embeddings (null without a profile of them). */
  embeddingShift: number | null;
  embeddingThreshold: number;
}

export const PROFILE_FILE = 'profile.json';

/** Profile rows of the catalogue's listings changed after `since` (all of them without `since`). */
export async function profileRows(db: Database, since?: string): Promise<ProfileRow[]> {
  const rows = await db.query<{ root: string; price: number; length: number }>(
    `SELECT root_category AS root, price_minor AS price, length(text_clean) AS length
       FROM products ${since ? 'WHERE updated_at > $1' : ''}`,
    since ? [since] : [],
  );
  return rows.rows.map((row) => ({ root: row.root, priceMinor: row.price, textLength: row.length }));
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

async function newListingsEmbeddingShift(db: Database, store: ArtifactStore, modelVersion: string, profile: DataProfile): Promise<number | null> {
  if (!profile.embeddings) return null;
  const rows = await db.query<{ title: string; text: string; price: number; town: string | null; county: string | null }>(
    'SELECT title, text_clean AS text, price_minor AS price, town, county FROM products WHERE updated_at > $1',
    [profile.createdAt],
  );
  const embedder = await openEmbedder(store, modelVersion);
  try {
    const encoded = await embedder.embedProducts(rows.rows.map((r) => ({ title: r.title, text: r.text, priceMinor: r.price, town: r.town, county: r.county })));
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
  const { db, store, threshold } = options;
  const minNew = options.minNewListings ?? 50;
  const embeddingThreshold = options.embeddingThreshold ?? DEFAULT_EMBEDDING_THRESHOLD;
  const serving = await readServingRecord(store);
  if (!serving) {
    const count = (await db.query<{ n: number }>('SELECT count(*) AS n FROM products')).rows[0]?.n ?? 0;
    return { drifted: true, reason: 'no model in production yet: train the first one', model: null, newListings: count, threshold, psi: null, embeddingShift: null, embeddingThreshold };
  }
  const profile = await readProfile(store, serving.model.key);
  const rows = await profileRows(db, profile.createdAt);
  const base = { model: serving.model.version, newListings: rows.length, threshold, embeddingThreshold };
  if (rows.length < minNew) {
    return { ...base, drifted: false, reason: `no drift: ${rows.length} new listings, fewer than the ${minNew} a comparison needs`, psi: null, embeddingShift: null };
  }
  const shift = profileShift(profile, rows);
  const embedding = await newListingsEmbeddingShift(db, store, serving.model.version, profile);
  const over = Object.entries(shift).filter(([, value]) => value > threshold).map(([name, value]) => `${name} PSI ${value.toFixed(3)} above ${threshold}`);
  if (embedding !== null && embedding > embeddingThreshold) over.push(`embedding shift ${embedding.toFixed(3)} above ${embeddingThreshold}`);
  return {
    ...base,
    psi: shift,
    embeddingShift: embedding,
    drifted: over.length > 0,
    reason:
      over.length > 0
        ? `drift: ${over.join(', ')}`
        : `no drift: every PSI at or below ${threshold} (largest ${Math.max(...Object.values(shift)).toFixed(3)})` +
          (embedding === null ? '' : `, embedding shift ${embedding.toFixed(3)} at or below ${embeddingThreshold}`),
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
          { mark: 'bar', encoding: { y: { field: 'feature', type: 'nominal', title: null }, x: { field: 'psi', type: 'quantitative', title: 'PSI' } } },
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
      ['new listings', verdict.newListings],
      ['threshold', verdict.threshold],
      ['embedding shift', verdict.embeddingShift === null ? '(no embedding profile)' : `${verdict.embeddingShift.toFixed(3)} (threshold ${verdict.embeddingThreshold})`],
    ],
    figures,
    footer: 'PSI = Σ (new share − training share) · ln(new share / training share) over categories or training deciles.',
  });
}
