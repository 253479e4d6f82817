/**
 * Throughput of the raw load (`npm run data:load`), against baselines measured in the same run:
 *  - rows: the loader (parse, validate, hash, batched upsert) vs Postgres `COPY` of the same rows
 *    through psql, the fastest way rows get into Postgres;
 *  - image files: the loader's object writes vs a plain copy of the same files (folder store), and
 *    vs bare SDK PutObject calls at the same concurrency (S3).
 * Each figure is the median of --repeat runs. Usage: node --import tsx bench/load.bench.ts [--data dir] [--repeat n]
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import pLimit from 'p-limit';
import {
  migrate,
  openFsStore,
  openPglite,
  openPostgres,
  openS3Store,
  type ArtifactStore,
  type Database,
} from '../components/core/platform/index.js';
import { findExportFiles } from '../components/load/folder.js';
import { folderImages } from '../components/load/image-files.js';
import { loadRaw } from '../components/load/load.js';
import { IMAGES, normalizeRecord, PRODUCTS, rawUpsertSpec, toUpsertRow, type RawTableShape } from '../components/load/raw-tables.js';
import { csvSource } from '../components/load/sources.js';
import { freshBucket, freshPostgresDatabase, silentLog, tempDir, testS3Client } from '../test/helpers.js';
import { FULL_EXPORT } from './data.js';

// --quick (`npm run bench -- --quick`): one repeat and 100 image files instead of 3 and 1000.
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: FULL_EXPORT },
    repeat: { type: 'string' },
    images: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat ?? (values.quick ? 1 : 3));
const imageCount = Number(values.images ?? (values.quick ? 100 : 1000));
const dataDir = values.data;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
async function timed(work: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}
async function medianOf(setup: () => Promise<() => Promise<void>>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) times.push(await timed(await setup()));
  return median(times);
}

async function freshMigratedPostgres(): Promise<{ db: Database; url: string }> {
  const fresh = await freshPostgresDatabase();
  const db = await openPostgres(fresh.url);
  await migrate(db);
  return { db, url: fresh.url };
}

const files = await findExportFiles(dataDir);
const sources = () => ({ products: csvSource(files.products, PRODUCTS), images: csvSource(files.images, IMAGES) });
const emptyStore = async () => openFsStore((await tempDir('bench-store-')).dir);
const tmp = await tempDir('bench-');

// The rows as the raw tables hold them, written once as CSV for COPY.
async function copyFile(
  shape: RawTableShape,
  source: ReturnType<typeof csvSource>,
): Promise<{ file: string; rows: number; columns: string[] }> {
  const columns = Object.keys(rawUpsertSpec(shape).columns);
  const rows: unknown[][] = [];
  const seen = new Set<string>();
  for await (const record of source.records()) {
    if (!record.ok) continue;
    const normalized = normalizeRecord(shape, record.record, source.label, record.line);
    if (!normalized.ok || seen.has(normalized.row.id)) continue;
    seen.add(normalized.row.id);
    const row = toUpsertRow(normalized.row);
    rows.push(columns.map((c) => (c === 'extra' ? JSON.stringify(row[c]) : row[c])));
  }
  const file = path.join(tmp.dir, `${shape.table}.csv`);
  await writeFile(file, stringify(rows));
  return { file, rows: rows.length, columns };
}
const copies = [await copyFile(PRODUCTS, sources().products), await copyFile(IMAGES, sources().images)];
const totalRows = copies.reduce((sum, c) => sum + c.rows, 0);

const results: { step: string; count: number; unit: string; seconds: number; baseline?: string }[] = [];
const record = (step: string, count: number, unit: string, seconds: number, baseline?: string) => {
  results.push({ step, count, unit, seconds, baseline });
  process.stderr.write(`bench: ${step}: ${seconds.toFixed(3)} s\n`);
};

// Baseline: psql \copy of the same rows into freshly migrated tables.
record(
  'baseline: psql COPY (products_raw + images_raw)',
  totalRows,
  'rows',
  await medianOf(async () => {
    const { db, url } = await freshMigratedPostgres();
    await db.close();
    return async () => {
      for (const copy of copies) {
        const table = copy === copies[0] ? 'products_raw' : 'images_raw';
        execFileSync('psql', [
          url,
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-c',
          `\\copy ${table} (${copy.columns.join(', ')}) FROM '${copy.file}' WITH (FORMAT csv)`,
        ]);
      }
    };
  }),
);

record(
  'data:load into Postgres (empty tables)',
  totalRows,
  'rows',
  await medianOf(async () => {
    const { db } = await freshMigratedPostgres();
    const store = await emptyStore();
    return async () => {
      await loadRaw({ db, store, log: silentLog, ...sources(), imageFiles: [] });
      await db.close();
    };
  }),
  'baseline: psql COPY (products_raw + images_raw)',
);

record(
  'data:load into Postgres again (nothing changed)',
  totalRows,
  'rows',
  await medianOf(async () => {
    const { db } = await freshMigratedPostgres();
    const store = await emptyStore();
    await loadRaw({ db, store, log: silentLog, ...sources(), imageFiles: [] });
    return async () => {
      await loadRaw({ db, store, log: silentLog, ...sources(), imageFiles: [] });
      await db.close();
    };
  }),
  'baseline: psql COPY (products_raw + images_raw)',
);

record(
  'data:load into embedded PGlite (empty tables)',
  totalRows,
  'rows',
  await medianOf(async () => {
    const dir = path.join((await tempDir('bench-pglite-')).dir, 'pg');
    const db = await openPglite(dir, silentLog);
    await migrate(db);
    const store = await emptyStore();
    return async () => {
      await loadRaw({ db, store, log: silentLog, ...sources(), imageFiles: [] });
      await db.close();
    };
  }),
  'baseline: psql COPY (products_raw + images_raw)',
);

// Image files: a small export of the first image rows, each with a synthetic 40 KB file. Its rows take
// a few milliseconds to load; the time is the files'.
const imageExport = path.join(tmp.dir, 'images-export');
const imageLines: string[] = [];
for await (const item of sources().images.records()) {
  if (item.ok && item.record['id'] && imageLines.length < imageCount) imageLines.push(item.raw);
}
const imageIds = imageLines.map((line) => line.split(',')[1] ?? '');
await mkdir(path.join(imageExport, 'images'), { recursive: true });
await writeFile(path.join(imageExport, 'Products.csv'), ',id,product_name,category,product_description,price,location\n');
await writeFile(path.join(imageExport, 'Images.csv'), [',id,product_id,bucket_link,image_ref,create_time', ...imageLines, ''].join('\n'));
for (const id of imageIds) await writeFile(path.join(imageExport, 'images', `${id}.jpg`), randomBytes(40 * 1024));

async function loadImagesInto(store: ArtifactStore): Promise<() => Promise<void>> {
  const { db } = await freshMigratedPostgres();
  const exported = await findExportFiles(imageExport);
  const imageFiles = [await folderImages(exported.imagesDir)];
  return async () => {
    await loadRaw({
      db,
      store,
      log: silentLog,
      imageFiles,
      products: csvSource(exported.products, PRODUCTS),
      images: csvSource(exported.images, IMAGES),
    });
    await db.close();
  };
}

record(
  'baseline: cp of the image files',
  imageIds.length,
  'files',
  await medianOf(async () => {
    const target = (await tempDir('bench-cp-')).dir;
    return async () => void execFileSync('cp', ['-r', path.join(imageExport, 'images'), target]);
  }),
);
record(
  'data:load image rows + files into a folder store',
  imageIds.length,
  'files',
  await medianOf(async () => loadImagesInto(await emptyStore())),
  'baseline: cp of the image files',
);

const client = testS3Client();
record(
  'baseline: SDK PutObject x8 concurrent (Ceph RGW)',
  imageIds.length,
  'files',
  await medianOf(async () => {
    const bucket = await freshBucket();
    const limit = pLimit(8);
    const names = await readdir(path.join(imageExport, 'images'));
    return async () => {
      await Promise.all(
        names.map((name) =>
          limit(async () => {
            const body = await readFile(path.join(imageExport, 'images', name));
            await client.send(new PutObjectCommand({ Bucket: bucket, Key: `raw-images/${name}`, Body: body }));
          }),
        ),
      );
    };
  }),
);
record(
  'data:load image rows + files into S3 (Ceph RGW)',
  imageIds.length,
  'files',
  await medianOf(async () => loadImagesInto(openS3Store(`s3://${await freshBucket()}/a`, client))),
  'baseline: SDK PutObject x8 concurrent (Ceph RGW)',
);

await tmp.remove();

// Report: throughput, and time as a ratio to the baseline of the same run (1.0 = as fast as it).
const lines = [
  `Raw load benchmark: ${dataDir} (${totalRows} rows), ${imageIds.length} synthetic 40 KB image files, median of ${repeat}`,
  '',
  '| step | count | seconds | per second | time vs baseline |',
  '|---|---:|---:|---:|---:|',
  ...results.map((r) => {
    const base = results.find((b) => b.step === r.baseline);
    const ratio = base ? `${(r.seconds / base.seconds).toFixed(2)}x` : 'baseline';
    return `| ${r.step} | ${r.count} ${r.unit} | ${r.seconds.toFixed(3)} | ${Math.round(r.count / r.seconds)} ${r.unit}/s | ${ratio} |`;
  }),
];
console.log(lines.join('\n'));
console.log(JSON.stringify({ benchmark: 'load', data: dataDir, repeat, results }));
