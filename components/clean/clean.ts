/**
 * The clean step: raw rows that are new or changed since the last clean (by id and content hash) to
 * the catalogue (`products`, `product_images`) or to `quarantine`, in batches, each batch one
 * transaction: a kill leaves the catalogue as it was before or after a whole batch. A raw row the load
 * marked removed (gone from the source) leaves the catalogue or quarantine for `removals`, with its
 * reason; an image goes with its listing. Every row read ends in exactly one of the three, so read =
 * upserted + quarantined + removed, and the raw tables = catalogue + quarantine + removals.
 */
import pLimit from 'p-limit';
import {
  Progress,
  upsertRows,
  type ArtifactStore,
  type Database,
  type Logger,
  type Queryable,
  type UpsertSpec,
} from '../core/platform/index.js';
import type { Gazetteer } from '../core/contracts/index.js';
import { decodeImage, DEFAULT_IMAGE_LIMITS, type ImageLimits } from './images.js';
import { priceFences, type PriceFence } from './outliers.js';
import { parseCategory, parsePrice } from './parse.js';
import { cleanProduct, type RawProduct } from './products.js';

export interface Partition {
  index: number;
  count: number;
}

export interface StepCounts {
  read: number;
  upserted: number;
  quarantined: number;
  /** Rows gone from the source, taken out of the catalogue (or quarantine) into `removals`. */
  removed: number;
}

export interface CleanOptions {
  db: Database;
  store: ArtifactStore;
  log: Logger;
  gazetteer: Gazetteer;
  partition?: Partition;
  batchSize?: number;
  images?: ImageLimits;
  /** Images decoded at once. */
  imageConcurrency?: number;
}

export const RAW_IMAGE_KEY = (id: string) => `raw-images/${id}.jpg`;
/** Under the model-ready limit's folder; `.png` for a picture kept at its own (smaller) side. */
export const MODEL_IMAGE_KEY = (size: number, id: string, format: 'jpeg' | 'png' = 'jpeg') =>
  `images/${size}/${id}.${format === 'png' ? 'png' : 'jpg'}`;

const PRODUCTS_UPSERT: UpsertSpec = {
  table: 'products',
  columns: {
    id: 'text',
    raw_hash: 'text',
    title: 'text',
    description: 'text',
    text_clean: 'text',
    root_category: 'text',
    category_path: 'jsonb',
    price_minor: 'bigint',
    currency: 'text',
    location: 'text',
    town: 'text',
    county: 'text',
    latitude: 'double precision',
    longitude: 'double precision',
    location_rule: 'text',
    location_reason: 'text',
    url: 'text',
    page_id: 'text',
    create_time: 'timestamptz',
  },
  key: ['id'],
  changeColumns: ['raw_hash'],
  touch: ['updated_at'],
};

const IMAGES_UPSERT: UpsertSpec = {
  table: 'product_images',
  columns: {
    id: 'text',
    product_id: 'text',
    raw_hash: 'text',
    width: 'integer',
    height: 'integer',
    channels: 'integer',
    mode: 'text',
    bytes: 'bigint',
    sha256: 'text',
    model_key: 'text',
  },
  key: ['id'],
  changeColumns: ['raw_hash', 'sha256'],
  touch: ['updated_at'],
};

const QUARANTINE_UPSERT: UpsertSpec = {
  table: 'quarantine',
  columns: { source: 'text', source_id: 'text', raw_hash: 'text', rule: 'text', reason: 'text', raw: 'jsonb' },
  key: ['source', 'source_id'],
  changeColumns: ['raw_hash', 'rule', 'reason'],
  touch: ['last_seen'],
};

/** SQL restricting raw rows `r` to one partition (by a hash of the id, the same on both engines). */
function partitionClause(partition: Partition | undefined, param: number): { sql: string; params: number[] } {
  if (!partition || partition.count === 1) return { sql: '', params: [] };
  return { sql: ` AND abs(hashtext(r.id)) % $${param} = $${param + 1}`, params: [partition.count, partition.index] };
}

/**
 * Price fences per root category, from every raw listing's price (outliers are judged against all).
 * The raw rows are read a page at a time in id order: only the prices stay (8 bytes each), never the
 * whole result (at 10^6 listings one query held about 0.8 GB in each clean process).
 */
export async function loadFences(db: Database, pageSize = 20_000): Promise<Map<string, PriceFence>> {
  const byRoot = new Map<string, number[]>();
  let last = '';
  for (;;) {
    const page = await db.query<{ id: string; category: string | null; price: string | null }>(
      'SELECT id, category, price FROM products_raw WHERE id > $1 ORDER BY id LIMIT $2',
      [last, pageSize],
    );
    for (const row of page.rows) {
      const category = parseCategory(row.category);
      const price = parsePrice(row.price);
      if (!category.ok || !price.ok) continue;
      const list = byRoot.get(category.value.root) ?? [];
      list.push(price.value.minor);
      byRoot.set(category.value.root, list);
    }
    if (page.rows.length < pageSize) break;
    last = page.rows.at(-1)!.id;
  }
  return priceFences(byRoot);
}

interface Quarantined {
  source: string;
  source_id: string;
  raw_hash: string;
  rule: string;
  reason: string;
  raw: unknown;
}

interface Removed {
  id: string;
  raw_hash: string;
  reason: string;
  removed_at: Date;
}

interface Decision {
  cleaned: Record<string, unknown>[];
  quarantined: Quarantined[];
  removed: Removed[];
}

/** Writes a batch: upserts, quarantine, removals, and moves between them, in one transaction. */
async function writeBatch(
  tx: Queryable,
  spec: UpsertSpec,
  source: 'products_raw' | 'images_raw',
  { cleaned, quarantined, removed }: Decision,
): Promise<void> {
  await upsertRows(tx, spec, cleaned);
  await upsertRows(tx, QUARANTINE_UPSERT, quarantined as unknown as Record<string, unknown>[]);
  const cleanedIds = cleaned.map((row) => String(row['id']));
  const quarantinedIds = quarantined.map((row) => row.source_id);
  const removedIds = removed.map((row) => row.id);
  // A row that was clean and is now refused leaves the catalogue, and the other way round.
  if (quarantinedIds.length > 0) await tx.query(`DELETE FROM ${spec.table} WHERE id = ANY($1::text[])`, [quarantinedIds]);
  if (cleanedIds.length > 0)
    await tx.query('DELETE FROM quarantine WHERE source = $1 AND source_id = ANY($2::text[])', [source, cleanedIds]);
  // A listing back in the source is back in the catalogue (or quarantine): no longer a removal.
  const back = [...cleanedIds, ...quarantinedIds];
  if (back.length > 0) await tx.query('DELETE FROM removals WHERE source = $1 AND source_id = ANY($2::text[])', [source, back]);
  if (removedIds.length > 0) {
    // Kept with the catalogue row it had, then taken out of the catalogue (a product's images go with it) and quarantine.
    await tx.query(
      `INSERT INTO removals (source, source_id, raw_hash, reason, removed_at, catalogue_row)
       SELECT $1, r.id, r.raw_hash, r.reason, r.removed_at, (SELECT to_jsonb(c) FROM ${spec.table} c WHERE c.id = r.id)
         FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS r (id, raw_hash, reason, removed_at)
       ON CONFLICT (source, source_id) DO UPDATE
         SET raw_hash = EXCLUDED.raw_hash, reason = EXCLUDED.reason, removed_at = EXCLUDED.removed_at,
             taken_out_at = now(), catalogue_row = coalesce(EXCLUDED.catalogue_row, removals.catalogue_row)`,
      [source, removedIds, removed.map((r) => r.raw_hash), removed.map((r) => r.reason), removed.map((r) => r.removed_at)],
    );
    await tx.query(`DELETE FROM ${spec.table} WHERE id = ANY($1::text[])`, [removedIds]);
    await tx.query('DELETE FROM quarantine WHERE source = $1 AND source_id = ANY($2::text[])', [source, removedIds]);
  }
}

interface BatchStep<R extends { id: string }> {
  db: Database;
  log: Logger;
  task: string;
  spec: UpsertSpec;
  source: 'products_raw' | 'images_raw';
  /** The partition's SQL condition on raw rows `r` (empty: every row), its parameters numbered from $3. */
  part: { sql: string; params: number[] };
  /** The first `limit` rows to look at among the raw rows with ids in (after, upTo], in id order. */
  select(after: string, upTo: string, limit: number): Promise<R[]>;
  /** What each row becomes: catalogue rows, quarantine entries, removals. */
  decide(rows: R[]): Promise<Decision>;
  batchSize: number;
}

/** The widest window of raw rows one query looks through for changes (a window with none widens fourfold). */
const MAX_WINDOW = 65_536;

/**
 * Walks the raw rows in id order, a window of raw rows at a time (of the partition), and cleans those
 * of each window that are new or changed, at most `batchSize` in one transaction.
 *
 * The window's end comes first, from the primary key alone; the rows to clean are then selected by
 * that id range. One query for "the next n rows to clean after id x" let the planner, once x was past
 * the middle of the table and its estimates of the filtered rows were small, sort every raw row after x
 * for each batch (a parallel sequential scan and an external sort: 2.8 s a batch of 500 at 10^6
 * listings, every batch reading the rest of the table: quadratic in the catalogue).
 *
 * A window with nothing to clean widens the next one fourfold, up to MAX_WINDOW raw rows, and one with
 * rows to clean narrows it back to `batchSize`: the nightly run, where almost nothing changed, reads
 * the table in a few dozen range queries instead of one per thousand rows (501 s at 10^6 raw rows).
 */
async function inBatches<R extends { id: string }>(step: BatchStep<R>): Promise<StepCounts> {
  const counts: StepCounts = { read: 0, upserted: 0, quarantined: 0, removed: 0 };
  const progress = new Progress(step.log, step.task);
  let last = '';
  let width = step.batchSize;
  for (;;) {
    const window = await step.db.query<{ last: string | null }>(
      `SELECT max(w.id) AS last FROM (SELECT r.id FROM ${step.source} r WHERE r.id > $1${step.part.sql} ORDER BY r.id LIMIT $2) w`,
      [last, width, ...step.part.params],
    );
    const upTo = window.rows[0]?.last ?? null;
    if (upTo === null) break;
    const rows = await step.select(last, upTo, step.batchSize);
    // A full batch may leave rows to clean in the window: the next window starts after its last row.
    last = rows.length === step.batchSize ? rows.at(-1)!.id : upTo;
    width = rows.length === 0 ? Math.min(MAX_WINDOW, width * 4) : step.batchSize;
    if (rows.length > 0) {
      const decision = await step.decide(rows);
      await step.db.transaction((tx) => writeBatch(tx, step.spec, step.source, decision));
      counts.read += rows.length;
      counts.upserted += decision.cleaned.length;
      counts.quarantined += decision.quarantined.length;
      counts.removed += decision.removed.length;
      progress.tick(rows.length);
    }
  }
  progress.finish();
  return counts;
}

export async function cleanProducts(options: CleanOptions): Promise<StepCounts> {
  const { db, gazetteer } = options;
  // Read on the first batch with rows to clean: a nightly run that finds none reads no prices.
  let fences: Promise<Map<string, PriceFence>> | undefined;
  const part = partitionClause(options.partition, 3);
  return inBatches({
    db,
    log: options.log,
    task: 'clean products',
    spec: PRODUCTS_UPSERT,
    source: 'products_raw',
    batchSize: options.batchSize ?? 1000,
    part,
    select: async (after, upTo, limit) =>
      (
        await db.query<RawProduct & { raw: unknown; removed_at: Date | null; removed_reason: string | null }>(
          `SELECT r.id, r.product_name, r.category, r.product_description, r.price, r.location, r.url, r.page_id,
                  r.create_time, r.content_hash, to_jsonb(r) AS raw, r.removed_at, r.removed_reason
             FROM products_raw r
             LEFT JOIN products p ON p.id = r.id
             LEFT JOIN quarantine q ON q.source = 'products_raw' AND q.source_id = r.id
             LEFT JOIN removals x ON x.source = 'products_raw' AND x.source_id = r.id
            WHERE r.id > $1 AND r.id <= $2
              AND ((r.removed_at IS NULL
                    AND p.raw_hash IS DISTINCT FROM r.content_hash
                    AND q.raw_hash IS DISTINCT FROM r.content_hash)
                OR (r.removed_at IS NOT NULL AND (x.source_id IS NULL OR p.id IS NOT NULL OR q.source_id IS NOT NULL)))${part.sql}
            ORDER BY r.id
            LIMIT ${limit}`,
          [after, upTo, ...part.params],
        )
      ).rows,
    decide: async (rows) => {
      const cleaned: Record<string, unknown>[] = [];
      const quarantined: Quarantined[] = [];
      const removed: Removed[] = [];
      fences ??= loadFences(db);
      const fenceOf = await fences;
      for (const raw of rows) {
        if (raw.removed_at) {
          removed.push({
            id: raw.id,
            raw_hash: raw.content_hash,
            reason: raw.removed_reason ?? 'removed from the source',
            removed_at: raw.removed_at,
          });
          continue;
        }
        const result = cleanProduct(raw, fenceOf, gazetteer);
        if (result.ok) cleaned.push({ ...result.product });
        else
          quarantined.push({
            source: 'products_raw',
            source_id: raw.id,
            raw_hash: raw.content_hash,
            rule: result.rule,
            reason: result.reason,
            raw: raw.raw,
          });
      }
      return { cleaned, quarantined, removed };
    },
  });
}

interface RawImage {
  id: string;
  product_id: string | null;
  content_hash: string;
  raw: unknown;
  /** Set when the image row, or its listing, is gone from the source. */
  removed_at: Date | null;
  removed_reason: string | null;
}

export async function cleanImages(options: CleanOptions): Promise<StepCounts> {
  const { db, store } = options;
  const limits = options.images ?? DEFAULT_IMAGE_LIMITS;
  // One listing of the stored objects instead of one request per image.
  const stored = new Set<string>();
  for await (const object of store.list('raw-images/')) stored.add(object.key);
  const limit = pLimit(options.imageConcurrency ?? 2);
  const part = partitionClause(options.partition, 3);
  const counts = await inBatches({
    db,
    log: options.log,
    task: 'clean images',
    spec: IMAGES_UPSERT,
    source: 'images_raw',
    batchSize: options.batchSize ?? 1000,
    part,
    // New or changed image rows, and those refused earlier only because their product was not in
    // the catalogue, when it now is.
    select: async (after, upTo, limit) =>
      (
        await db.query<RawImage & { in_catalogue: boolean }>(
          `SELECT * FROM (
             SELECT r.id, r.product_id, r.content_hash, to_jsonb(r) AS raw,
                    EXISTS (SELECT 1 FROM products p WHERE p.id = r.product_id) AS in_catalogue,
                    coalesce(r.removed_at, pr.removed_at) AS removed_at,
                    CASE WHEN r.removed_at IS NOT NULL THEN r.removed_reason
                         WHEN pr.removed_at IS NOT NULL THEN 'its listing ' || pr.id || ' was removed: ' || pr.removed_reason END AS removed_reason,
                    i.id AS cleaned_id, i.raw_hash AS cleaned_hash, q.source_id AS quarantined_id, q.raw_hash AS quarantined_hash,
                    q.rule AS quarantine_rule, x.source_id AS removal_id
               FROM images_raw r
               LEFT JOIN products_raw pr ON pr.id = r.product_id
               LEFT JOIN product_images i ON i.id = r.id
               LEFT JOIN quarantine q ON q.source = 'images_raw' AND q.source_id = r.id
               LEFT JOIN removals x ON x.source = 'images_raw' AND x.source_id = r.id
              WHERE r.id > $1 AND r.id <= $2${part.sql}) c
            WHERE (c.removed_at IS NULL
                   AND c.cleaned_hash IS DISTINCT FROM c.content_hash
                   AND (c.quarantined_hash IS DISTINCT FROM c.content_hash
                        OR (c.quarantine_rule = 'image_product_not_in_catalogue' AND c.in_catalogue)))
               OR (c.removed_at IS NOT NULL AND (c.removal_id IS NULL OR c.cleaned_id IS NOT NULL OR c.quarantined_id IS NOT NULL))
            ORDER BY c.id
            LIMIT ${limit}`,
          [after, upTo, ...part.params],
        )
      ).rows,
    decide: async (rows) => {
      const cleaned: Record<string, unknown>[] = [];
      const quarantined: Quarantined[] = [];
      const removed: Removed[] = [];
      const refuse = (row: RawImage, rule: string, reason: string) =>
        quarantined.push({ source: 'images_raw', source_id: row.id, raw_hash: row.content_hash, rule, reason, raw: row.raw });
      await Promise.all(
        rows.map((row) =>
          limit(async () => {
            if (row.removed_at) {
              removed.push({
                id: row.id,
                raw_hash: row.content_hash,
                reason: row.removed_reason ?? 'removed from the source',
                removed_at: row.removed_at,
              });
              return;
            }
            if (!row.in_catalogue)
              return refuse(row, 'image_product_not_in_catalogue', `product ${row.product_id ?? '(none)'} is not in the catalogue`);
            const key = RAW_IMAGE_KEY(row.id);
            if (!stored.has(key)) return refuse(row, 'image_object_missing', `image object missing: ${store.uri(key)}`);
            const decoded = await decodeImage(await store.get(key), limits);
            if (!decoded.ok) return refuse(row, decoded.rule, decoded.reason);
            const { format } = decoded.facts.modelReady;
            const modelKey = MODEL_IMAGE_KEY(limits.size, row.id, format);
            await store.put(modelKey, decoded.facts.modelReady.bytes, { contentType: `image/${format}` });
            const { modelReady, ...facts } = decoded.facts;
            void modelReady;
            cleaned.push({ id: row.id, product_id: row.product_id, raw_hash: row.content_hash, ...facts, model_key: modelKey });
          }),
        ),
      );
      // Decoding finishes in any order; the batch is written in id order.
      cleaned.sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
      return { cleaned, quarantined, removed };
    },
  });
  await flagDuplicates(db);
  return counts;
}

/** Marks each image whose bytes equal an earlier image's (by id) as its duplicate; clears stale marks. */
async function flagDuplicates(db: Database): Promise<void> {
  await db.query(
    `UPDATE product_images i
        SET duplicate_of = d.first
       FROM (SELECT id, first_value(id) OVER (PARTITION BY sha256 ORDER BY id) AS first FROM product_images) d
      WHERE i.id = d.id
        AND i.duplicate_of IS DISTINCT FROM (CASE WHEN d.first = i.id THEN NULL ELSE d.first END)
        AND (d.first <> i.id OR i.duplicate_of IS NOT NULL)`,
  );
}

export async function cleanCatalogue(options: CleanOptions): Promise<{ products: StepCounts; images: StepCounts }> {
  const products = await cleanProducts(options);
  const images = await cleanImages(options);
  options.log.info(
    { products, images },
    `clean: products ${products.upserted} upserted, ${products.quarantined} quarantined, ${products.removed} removed; ` +
      `images ${images.upserted} upserted, ${images.quarantined} quarantined, ${images.removed} removed`,
  );
  return { products, images };
}
