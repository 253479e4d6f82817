/**
 * Throughput of the clean step (`npm run clean`), against baselines measured in the same run:
 *  - rows: the whole clean of the real export (parse, rules, gazetteer, text cleaning, upserts,
 *    quarantine) vs the seed's stack, pandas reading the same CSV and applying the price/category
 *    rules in memory (bench/clean_baseline.py, Debian's python3-pandas);
 *  - images: the image clean (read from the store, decode, record, write the model-ready copy, upsert)
 *    vs sharp's bare resize of the same files at the same concurrency, the physical limit of the step.
 * Usage: node --import tsx bench/clean.bench.ts [--data dir] [--repeat n] [--images n] [--quick]
 * --quick: one repeat and 30 images (the defaults are 3 and 300), for `npm run bench -- --quick`.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { cleanImages, cleanProducts } from '../components/clean/clean.js';
import { loadGazetteer } from '../components/core/contracts/index.js';
import { migrate, openFsStore, openPostgres, type Database } from '../components/core/platform/index.js';
import { findExportFiles } from '../components/load/folder.js';
import { loadExportFolder } from '../components/load/load.js';
import { IMAGES, PRODUCTS } from '../components/load/raw-tables.js';
import { csvSource } from '../components/load/sources.js';
import { freshPostgresDatabase, silentLog, tempDir } from '../test/helpers.js';
import { FULL_EXPORT } from './data.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: FULL_EXPORT },
    repeat: { type: 'string' },
    images: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat ?? (values.quick ? 1 : 3));
const imageCount = Number(values.images ?? (values.quick ? 30 : 300));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const tmp = await tempDir('bench-clean-');
const gazetteer = loadGazetteer();

async function loadedDatabase(dir: string): Promise<{ db: Database; store: ReturnType<typeof openFsStore> }> {
  const fresh = await freshPostgresDatabase();
  const db = await openPostgres(fresh.url);
  await migrate(db);
  const store = openFsStore(path.join((await tempDir('bench-store-')).dir, 'artifacts'));
  await loadExportFolder(dir, { db, store, log: silentLog });
  return { db, store };
}

const results: { step: string; count: number; unit: string; seconds: number; baseline?: string }[] = [];
const record = (step: string, count: number, unit: string, time: number, baseline?: string) => {
  results.push({ step, count, unit, seconds: time, baseline });
  process.stderr.write(`bench: ${step}: ${time.toFixed(3)} s\n`);
};

// Rows: the real export.
const files = await findExportFiles(values.data);
const baseline = JSON.parse(
  execFileSync('/usr/bin/python3', [path.join('bench', 'clean_baseline.py'), files.products, String(repeat)], { encoding: 'utf8' }),
) as { rows: number; seconds: number };
record('baseline: pandas read_csv + price/category rules (seed stack)', baseline.rows, 'rows', baseline.seconds);
const productTimes: number[] = [];
let productRows = 0;
for (let i = 0; i < repeat; i++) {
  const { db, store } = await loadedDatabase(values.data);
  const start = process.hrtime.bigint();
  const counts = await cleanProducts({ db, store, log: silentLog, gazetteer });
  productTimes.push(seconds(start));
  productRows = counts.read;
  await db.close();
}
record(
  'clean products into Postgres (rules, gazetteer, text, upserts, quarantine)',
  productRows,
  'rows',
  median(productTimes),
  'baseline: pandas read_csv + price/category rules (seed stack)',
);

// Images: an export of the first image rows and their products, each image a 1024x768 noisy JPEG
// (noise compresses like a photo does, unlike a flat colour).
const imageExport = path.join(tmp.dir, 'images-export');
await mkdir(path.join(imageExport, 'images'), { recursive: true });
const imageLines: string[] = [];
for await (const item of csvSource(files.images, IMAGES).records())
  if (item.ok && imageLines.length < imageCount) imageLines.push(item.raw);
const productIds = new Set(imageLines.map((line) => line.split(',')[2]));
const productLines: string[] = [];
for await (const item of csvSource(files.products, PRODUCTS).records())
  if (item.ok && productIds.has(item.record['id'] ?? '')) productLines.push(item.raw);
await writeFile(
  path.join(imageExport, 'Products.csv'),
  [',id,product_name,category,product_description,price,location', ...productLines, ''].join('\n'),
);
await writeFile(path.join(imageExport, 'Images.csv'), [',id,product_id,bucket_link,image_ref,create_time', ...imageLines, ''].join('\n'));
const photo = await sharp({
  create: { width: 1024, height: 768, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
})
  .jpeg({ quality: 85 })
  .toBuffer();
for (const line of imageLines) await writeFile(path.join(imageExport, 'images', `${line.split(',')[1]}.jpg`), photo);

const resizeTimes: number[] = [];
const names = await readdir(path.join(imageExport, 'images'));
for (let i = 0; i < repeat; i++) {
  const limit = pLimit(2);
  const start = process.hrtime.bigint();
  await Promise.all(
    names.map((name) =>
      limit(async () => {
        const bytes = await readFile(path.join(imageExport, 'images', name));
        await sharp(bytes).resize(224, 224, { fit: 'contain' }).jpeg({ quality: 90 }).toBuffer();
      }),
    ),
  );
  resizeTimes.push(seconds(start));
}
record('baseline: sharp resize to 224 of the same files, 2 at a time', names.length, 'images', median(resizeTimes));
const imageTimes: number[] = [];
let imageRows = 0;
for (let i = 0; i < repeat; i++) {
  const { db, store } = await loadedDatabase(imageExport);
  await cleanProducts({ db, store, log: silentLog, gazetteer });
  const start = process.hrtime.bigint();
  const counts = await cleanImages({ db, store, log: silentLog, gazetteer, imageConcurrency: 2 });
  imageTimes.push(seconds(start));
  imageRows = counts.upserted;
  await db.close();
}
record(
  'clean images (read, decode, model-ready copy, upsert)',
  imageRows,
  'images',
  median(imageTimes),
  'baseline: sharp resize to 224 of the same files, 2 at a time',
);
await tmp.remove();

const lines = [
  `Clean benchmark: ${values.data}, ${imageRows} synthetic 1024x768 JPEG images, median of ${repeat} (pandas: best of ${repeat})`,
  '',
  '| step | count | seconds | per second | time per item vs baseline |',
  '|---|---:|---:|---:|---:|',
  ...results.map((r) => {
    const base = results.find((b) => b.step === r.baseline);
    // Per item: the image clean processes only the images of products that are in the catalogue.
    const ratio = base ? (r.seconds / r.count / (base.seconds / base.count)).toFixed(2) : undefined;
    return `| ${r.step} | ${r.count} ${r.unit} | ${r.seconds.toFixed(3)} | ${Math.round(r.count / r.seconds)} ${r.unit}/s | ${ratio ? `${ratio}x` : 'baseline'} |`;
  }),
];
console.log(lines.join('\n'));
console.log(JSON.stringify({ benchmark: 'clean', data: values.data, repeat, results }));
