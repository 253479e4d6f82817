/**
 * The raw load: records from a source into `products_raw` / `images_raw`, image files into
 * `raw-images/<image id>.jpg` of the artifact store. Idempotent (upserts keyed by id and content hash;
 * objects already stored with the same size are not sent again), and every record is accounted for:
 * read = loaded + refused, with each refusal stored in `load_refusals` with its line and reason.
 */
import pLimit from 'p-limit';
import { Progress, upsertRows, type ArtifactStore, type Database, type Logger, type UpsertCounts } from '../core/platform/index.js';
import { findExportFiles } from './folder.js';
import { folderImages, type ImageFiles } from './image-files.js';
import { IMAGES, normalizeRecord, PRODUCTS, rawHash, rawUpsertSpec, REFUSALS_UPSERT, storable, toUpsertRow, type RawTableShape } from './raw-tables.js';
import { applyRemovals, markedRemoved, type RemovalOptions } from './removals.js';
import { csvSource, type RecordSource } from './sources.js';

export interface TableCounts extends UpsertCounts {
  read: number;
  loaded: number;
  refused: number;
  /** Rows marked removed by this load (absent from a --full source, or marked by the source). */
  removed: number;
  /** Rows marked removed earlier that this load holds live again. */
  restored: number;
}

export interface Refusal {
  source: string;
  line: number;
  reason: string;
}

export interface ImageFileCounts {
  /** Image rows of this load whose object is in the store after it. */
  stored: number;
  /** Objects written by this load (new, or changed in size). */
  uploaded: number;
  /** Image rows with no file in any source and no object in the store. */
  missing: number;
  /** Files in the sources that no image row names (not stored). */
  unreferenced: number;
}

export interface LoadSummary {
  products: TableCounts;
  images: TableCounts;
  imageFiles: ImageFileCounts;
  /** The first refusals, for the summary line; all of them are in `load_refusals`. */
  refusals: Refusal[];
  seconds: number;
}

export const RAW_IMAGES_PREFIX = 'raw-images/';
export const rawImageKey = (imageId: string) => `${RAW_IMAGES_PREFIX}${imageId}.jpg`;

const REFUSALS_IN_SUMMARY = 20;

export interface LoadOptions {
  db: Database;
  store: ArtifactStore;
  log: Logger;
  products: RecordSource;
  images: RecordSource;
  /** Searched in order for each image row's file. */
  imageFiles: readonly ImageFiles[];
  batchSize?: number;
  uploadConcurrency?: number;
  /** How this source says that listings left (none: it is incremental, nothing is removed). */
  removal?: RemovalOptions;
}

export async function loadRaw(options: LoadOptions): Promise<LoadSummary> {
  const started = Date.now();
  const refusals: Refusal[] = [];
  const products = await loadTable(options, PRODUCTS, options.products, refusals);
  const images = await loadTable(options, IMAGES, options.images, refusals);
  const imageFiles = await storeImageFiles(options, images.live);
  return {
    products: products.counts,
    images: images.counts,
    imageFiles,
    refusals: refusals.slice(0, REFUSALS_IN_SUMMARY),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

async function loadTable(
  options: LoadOptions,
  shape: RawTableShape,
  source: RecordSource,
  refusals: Refusal[],
): Promise<{ counts: TableCounts; live: Set<string> }> {
  const { db, log } = options;
  const batchSize = options.batchSize ?? 500;
  const spec = rawUpsertSpec(shape);
  const counts: TableCounts = { read: 0, loaded: 0, refused: 0, inserted: 0, updated: 0, unchanged: 0, removed: 0, restored: 0 };
  const firstLine = new Map<string, number>();
  // Rows the source holds with its own removal marker: loaded as they are, then marked removed.
  const marked = new Set<string>();
  const marker = options.removal?.marker;
  const progress = new Progress(log, `load ${source.label} -> ${shape.table}`);
  let rows: Record<string, unknown>[] = [];
  let refused = new Map<string, Record<string, unknown>>();

  const refuse = (line: number, reason: string, rawText: string) => {
    const raw = storable(rawText);
    counts.refused += 1;
    const refusal = { source: source.label, line, reason };
    if (refusals.length < REFUSALS_IN_SUMMARY) refusals.push(refusal);
    log.warn(refusal, `refused ${source.label} line ${line}: ${reason}`);
    refused.set(rawHash(raw), { ...refusal, raw_hash: rawHash(raw), raw });
  };

  const flush = async () => {
    const batch = rows;
    const batchRefusals = [...refused.values()];
    rows = [];
    refused = new Map();
    // Rows and the refusals of the same stretch of input commit together.
    const result = await db.transaction(async (tx) => {
      const upserted = await upsertRows(tx, spec, batch);
      await upsertRows(tx, REFUSALS_UPSERT, batchRefusals);
      return upserted;
    });
    counts.inserted += result.inserted;
    counts.updated += result.updated;
    counts.unchanged += result.unchanged;
    counts.loaded += batch.length;
  };

  for await (const record of source.records()) {
    counts.read += 1;
    progress.tick();
    if (!record.ok) {
      refuse(record.line, record.reason, record.raw);
    } else {
      const normalized = normalizeRecord(shape, record.record, source.label, record.line);
      if (!normalized.ok) {
        refuse(record.line, normalized.reason, record.raw);
      } else {
        const earlier = firstLine.get(normalized.row.id);
        if (earlier !== undefined) {
          refuse(record.line, `duplicate id ${normalized.row.id} (first on line ${earlier})`, record.raw);
        } else {
          firstLine.set(normalized.row.id, record.line);
          if (marker && markedRemoved(record.record, marker)) marked.add(normalized.row.id);
          rows.push(toUpsertRow(normalized.row));
        }
      }
    }
    if (rows.length >= batchSize) await flush();
  }
  await flush();
  progress.finish();
  const live = new Set([...firstLine.keys()].filter((id) => !marked.has(id)));
  const removal = options.removal ?? {};
  const changed = await db.transaction((tx) => applyRemovals(tx, shape.table, source.label, live, marked, removal));
  counts.removed = changed.removed;
  counts.restored = changed.restored;
  log.info(
    { table: shape.table, source: source.label, ...counts },
    `${shape.table}: read ${counts.read}, loaded ${counts.loaded}, refused ${counts.refused}, marked removed ${counts.removed}, restored ${counts.restored}`,
  );
  return { counts, live };
}

async function storeImageFiles(options: LoadOptions, imageIds: ReadonlySet<string>): Promise<ImageFileCounts> {
  const { store, log, imageFiles } = options;
  const counts: ImageFileCounts = { stored: 0, uploaded: 0, missing: 0, unreferenced: 0 };
  // One listing instead of a HEAD per image: what is already stored, and its size.
  const existing = new Map<string, number>();
  for await (const object of store.list(RAW_IMAGES_PREFIX)) existing.set(object.key, object.size);

  const limit = pLimit(options.uploadConcurrency ?? 8);
  const progress = new Progress(log, 'store image files', imageIds.size);
  const uploads: Promise<void>[] = [];
  for (const id of imageIds) {
    const key = rawImageKey(id);
    const file = imageFiles.map((source) => source.files.get(id)).find((found) => found !== undefined);
    if (file && existing.get(key) !== file.size) {
      uploads.push(
        limit(async () => {
          await store.put(key, await file.open(), { contentType: 'image/jpeg' });
          counts.uploaded += 1;
          counts.stored += 1;
          progress.tick();
        }),
      );
    } else if (existing.has(key)) {
      counts.stored += 1;
      progress.tick();
    } else {
      counts.missing += 1;
      progress.tick();
    }
  }
  await Promise.all(uploads);
  progress.finish();

  for (const source of imageFiles) {
    const unreferenced = [...source.files.keys()].filter((id) => !imageIds.has(id));
    counts.unreferenced += unreferenced.length;
    if (unreferenced.length > 0) {
      log.warn({ source: source.label, count: unreferenced.length, examples: unreferenced.slice(0, 5) }, 'image files that no image row names (not stored)');
    }
  }
  if (counts.missing > 0) {
    log.warn({ missing: counts.missing }, `${counts.missing} image row(s) have no file: they stay loaded, and clean quarantines them as 'image object missing'`);
  }
  return counts;
}

/** Loads an export folder (Products.csv, Images.csv, images/), with extra image sources searched after it. */
export async function loadExportFolder(
  dir: string,
  options: Omit<LoadOptions, 'products' | 'images' | 'imageFiles'>,
  extraImageFiles: readonly ImageFiles[] = [],
): Promise<LoadSummary> {
  const files = await findExportFiles(dir);
  return loadRaw({
    ...options,
    products: csvSource(files.products, PRODUCTS),
    images: csvSource(files.images, IMAGES),
    imageFiles: [await folderImages(files.imagesDir), ...extraImageFiles],
  });
}
