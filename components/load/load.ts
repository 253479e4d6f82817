/**
 * The raw load: records from a source into `products_raw` / `images_raw`, image files into
 * `raw-images/<image id>.jpg` of the artifact store. Idempotent (upserts keyed by id and content hash;
 * objects already stored with the same size are not sent again), and every record is accounted for:
 * read = loaded + refused, with each refusal stored in `load_refusals` with its line and reason.
 * Each table streams into a staging table with COPY and is merged in SQL in one transaction (staged.ts):
 * memory stays bounded whatever the file size, and the rate is close to COPY's.
 */
import pLimit from 'p-limit';
import { Progress, type ArtifactStore, type Database, type Logger, type UpsertCounts } from '../core/platform/index.js';
import { findExportFiles } from './folder.js';
import { folderImages, type ImageFiles } from './image-files.js';
import { IMAGES, PRODUCTS, type RawTableShape } from './raw-tables.js';
import { applyRemovals, type RemovalOptions } from './removals.js';
import { liveStagedAmong, liveStagedCount, mergeStage, stageSource } from './staged.js';
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
  /** Rows per chunk streamed to COPY (the whole table commits at once). */
  batchSize?: number;
  uploadConcurrency?: number;
  /** How this source says that listings left (none: it is incremental, nothing is removed). */
  removal?: RemovalOptions;
}

export async function loadRaw(options: LoadOptions): Promise<LoadSummary> {
  const started = Date.now();
  const refusals: Refusal[] = [];
  const products = await loadTable(options, PRODUCTS, options.products, refusals);
  // One listing instead of a HEAD per image: what is already stored, and its size.
  const existing = new Map<string, number>();
  for await (const object of options.store.list(RAW_IMAGES_PREFIX)) existing.set(object.key, object.size);
  const fileIds = [...new Set(options.imageFiles.flatMap((source) => [...source.files.keys()]))];
  const storedIds = [...existing.keys()].map((key) => key.slice(RAW_IMAGES_PREFIX.length).replace(/\.jpg$/, ''));
  const images = await loadTable(options, IMAGES, options.images, refusals, { fileIds, storedIds });
  const imageFiles = await storeImageFiles(options, images.files!, existing);
  return {
    products: products.counts,
    images: images.counts,
    imageFiles,
    refusals: refusals.slice(0, REFUSALS_IN_SUMMARY),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** What the images table's load tells the file step: which image rows are live, and which have files. */
interface ImageRowsForFiles {
  /** Live image rows of this load. */
  live: number;
  /** Of the ids that some file source holds, those that are live image rows. */
  withFile: Set<string>;
  /** Of the ids already stored as objects (and with no file in any source), those that are live rows. */
  storedOnly: number;
}

/**
 * One table: the source streamed into a staging table with COPY, merged in SQL (see staged.ts), the
 * removals applied, all in one transaction. For the images table, what the file step needs is asked of
 * the staging table before it goes: the file and object ids are already in memory, the row ids never are.
 */
async function loadTable(
  options: LoadOptions,
  shape: RawTableShape,
  source: RecordSource,
  refusals: Refusal[],
  forFiles?: { fileIds: readonly string[]; storedIds: readonly string[] },
): Promise<{ counts: TableCounts; files?: ImageRowsForFiles }> {
  const { db, log } = options;
  const progress = new Progress(log, `load ${source.label} -> ${shape.table}`);
  const removal = options.removal ?? {};
  const seconds = { stage: 0, merge: 0, removals: 0 };
  const since = (start: number) => Math.round((performance.now() - start) / 100) / 10;
  const { staged, merged, changed, files } = await db.transaction(async (tx) => {
    let phase = performance.now();
    const staged = await stageSource(tx, {
      shape,
      source,
      ...(removal.marker ? { marker: removal.marker } : {}),
      chunkRows: options.batchSize ?? 2000,
      keep: REFUSALS_IN_SUMMARY,
      onRecord: () => progress.tick(),
      onRefusal: (refusal) => log.warn(refusal, `refused ${source.label} line ${refusal.line}: ${refusal.reason}`),
      direct: true,
    });
    seconds.stage = since(phase);
    phase = performance.now();
    const merged = await mergeStage(tx, shape, REFUSALS_IN_SUMMARY, staged);
    seconds.merge = since(phase);
    phase = performance.now();
    for (const refusal of merged.firstDuplicates) log.warn(refusal, `refused ${source.label} line ${refusal.line}: ${refusal.reason}`);
    // A table that was empty before this load (staged.direct) has no row this load could find absent.
    const changed = await applyRemovals(tx, shape.table, source.label, staged.direct ? { ...removal, full: false } : removal);
    seconds.removals = since(phase);
    let files: ImageRowsForFiles | undefined;
    if (forFiles) {
      const withFile = await liveStagedAmong(tx, forFiles.fileIds, staged, shape.table);
      const storedOnly = await liveStagedAmong(
        tx,
        forFiles.storedIds.filter((id) => !withFile.has(id)),
        staged,
        shape.table,
      );
      files = { live: await liveStagedCount(tx, staged, shape.table), withFile, storedOnly: storedOnly.size };
    }
    return { staged, merged, changed, files };
  });
  progress.finish();
  const counts: TableCounts = {
    read: staged.read,
    loaded: staged.rows - merged.duplicates,
    refused: staged.refused + merged.duplicates,
    inserted: merged.inserted,
    updated: merged.updated,
    unchanged: merged.unchanged,
    removed: changed.removed,
    restored: changed.restored,
  };
  // The summary's first refusals, in line order: those found while reading and the repeated ids found in SQL.
  const first = [...staged.firstRefusals, ...merged.firstDuplicates].sort((a, b) => a.line - b.line);
  refusals.push(...first.slice(0, Math.max(0, REFUSALS_IN_SUMMARY - refusals.length)));
  log.info(
    { table: shape.table, source: source.label, ...counts, seconds, copiedStraight: staged.directRows },
    `${shape.table}: read ${counts.read}, loaded ${counts.loaded}, refused ${counts.refused}, marked removed ${counts.removed}, restored ${counts.restored}`,
  );
  return { counts, ...(files ? { files } : {}) };
}

async function storeImageFiles(
  options: LoadOptions,
  rows: ImageRowsForFiles,
  existing: ReadonlyMap<string, number>,
): Promise<ImageFileCounts> {
  const { store, log, imageFiles } = options;
  const counts: ImageFileCounts = {
    stored: rows.storedOnly,
    uploaded: 0,
    missing: rows.live - rows.withFile.size - rows.storedOnly,
    unreferenced: 0,
  };
  const limit = pLimit(options.uploadConcurrency ?? 8);
  const progress = new Progress(log, 'store image files', rows.withFile.size);
  const uploads: Promise<void>[] = [];
  for (const id of rows.withFile) {
    const key = rawImageKey(id);
    const file = imageFiles.map((source) => source.files.get(id)).find((found) => found !== undefined)!;
    if (existing.get(key) !== file.size) {
      uploads.push(
        limit(async () => {
          await store.put(key, await file.open(), { contentType: 'image/jpeg' });
          counts.uploaded += 1;
          counts.stored += 1;
          progress.tick();
        }),
      );
    } else {
      counts.stored += 1;
      progress.tick();
    }
  }
  await Promise.all(uploads);
  progress.finish();

  for (const source of imageFiles) {
    const unreferenced = [...source.files.keys()].filter((id) => !rows.withFile.has(id));
    counts.unreferenced += unreferenced.length;
    if (unreferenced.length > 0) {
      log.warn(
        { source: source.label, count: unreferenced.length, examples: unreferenced.slice(0, 5) },
        'image files that no image row names (not stored)',
      );
    }
  }
  if (counts.missing > 0) {
    log.warn(
      { missing: counts.missing },
      `${counts.missing} image row(s) have no file: they stay loaded, and clean quarantines them as 'image object missing'`,
    );
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
