/**
 * The clean step end to end on the raw layer the loader writes, against both database engines and
 * both artifact stores: every row accounted for, images decoded or quarantined with their reason,
 * reruns that change nothing, and only new or changed raw rows processed.
 */
import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { cleanCatalogue, type CleanOptions } from '../../components/clean/clean.js';
import { loadGazetteer } from '../../components/core/contracts/index.js';
import { publishReport } from '../../components/clean/report.js';
import { takeSnapshot } from '../../components/clean/snapshot.js';
import type { ArtifactStore, Database } from '../../components/core/platform/index.js';
import { readSnapshotProducts } from '../../components/core/contracts/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { databaseBackends, REPO_ROOT, silentLog, storeBackends, suiteStorage, tempDir } from '../helpers.js';

const LIMITS = { size: 64, maxPixels: 1_000_000 };

/** The 7-column fixture plus images of every kind: good, duplicate, truncated, not an image, too large, missing. */
async function exportWithImageKinds(dir: string): Promise<void> {
  await cp(path.join(REPO_ROOT, 'test', 'fixtures', 'export-7col'), dir, { recursive: true });
  // i6 (a decompression bomb) and i7 (no file) join the fixture's i1..i5, both on product p3.
  await appendFile(
    path.join(dir, 'Images.csv'),
    '5,i6,p3,https://example.invalid/i6.jpg,ref6,2022-02-28\r\n6,i7,p3,https://example.invalid/i7.jpg,ref7,2022-02-28\r\n',
  );
  const images = path.join(dir, 'images');
  await mkdir(images, { recursive: true });
  const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .jpeg()
    .toBuffer();
  await writeFile(path.join(images, 'i1.jpg'), photo);
  await writeFile(path.join(images, 'i2.jpg'), photo); // the same bytes: a duplicate
  await writeFile(path.join(images, 'i3.jpg'), photo.subarray(0, Math.floor(photo.length / 2))); // cut off
  await writeFile(path.join(images, 'i4.jpg'), Buffer.from('<html>not an image</html>'));
  await writeFile(path.join(images, 'i5.jpg'), photo); // its product is not in the export
  const bomb = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .png()
    .toBuffer();
  await writeFile(path.join(images, 'i6.jpg'), bomb); // 4 million pixels in a few kilobytes
}

const combos = [
  { db: databaseBackends[1]!, store: storeBackends[1]! },
  { db: databaseBackends[0]!, store: storeBackends[0]! },
];

for (const combo of combos) {
  describe(`clean on ${combo.db.name} + ${combo.store.name}`, () => {
    const storage = suiteStorage(combo.db, combo.store);
    let db: Database;
    let store: ArtifactStore;
    let dir: string;
    let options: CleanOptions;
    before(async () => {
      ({ db, store } = storage);
      const tmp = await tempDir();
      storage.defer(tmp.remove);
      dir = path.join(tmp.dir, 'export');
      await exportWithImageKinds(dir);
      await loadExportFolder(dir, { db: db, store: store, log: silentLog });
      options = { db, store, log: silentLog, gazetteer: loadGazetteer(), images: LIMITS, batchSize: 2 };
    });

    it('cleans every raw row into the catalogue or quarantine, with the rule that caught it', async () => {
      const counts = await cleanCatalogue(options);
      assert.deepEqual(counts.products, { read: 4, upserted: 3, quarantined: 1, removed: 0 });
      assert.deepEqual(counts.images, { read: 7, upserted: 2, quarantined: 5, removed: 0 });
      const rules = await db.query<{ source_id: string; rule: string }>('SELECT source_id, rule FROM quarantine ORDER BY source_id');
      assert.deepEqual(
        rules.rows.map((r) => [r.source_id, r.rule]),
        [
          ['i3', 'image_truncated'],
          ['i4', 'image_not_an_image'],
          ['i5', 'image_product_not_in_catalogue'],
          ['i6', 'image_too_large'],
          ['i7', 'image_object_missing'],
          ['p6', 'price_zero'],
        ],
      );
      const raw = await db.query<{ raw: { price: string } }>("SELECT raw FROM quarantine WHERE source_id = 'p6'");
      assert.equal(raw.rows[0]?.raw.price, '£0.00', 'the raw row is kept with its refusal');
    });

    it('writes clean products: title, root category, price in pence, place, text for the model', async () => {
      const rows = await db.query<{
        id: string;
        title: string;
        root_category: string;
        category_path: string[];
        price_minor: number;
        town: string;
        county: string;
        latitude: number | null;
        text_clean: string;
      }>('SELECT id, title, root_category, category_path, price_minor, town, county, latitude, text_clean FROM products ORDER BY id');
      const byId = new Map(rows.rows.map((r) => [r.id, r]));
      const p1 = byId.get('p1')!;
      assert.equal(p1.title, 'Mirror wall art');
      assert.equal(p1.root_category, 'Home & Garden');
      assert.deepEqual(p1.category_path, ['Home & Garden', 'Dining, Living Room Furniture', 'Mirrors, Clocks & Ornaments']);
      assert.equal(p1.price_minor, 500);
      assert.deepEqual([p1.town, p1.county], ['Wokingham', 'Berkshire']);
      assert.ok(p1.latitude !== null && Math.abs(p1.latitude - 51.41) < 0.1, `Wokingham at ${p1.latitude}`);
      assert.equal(byId.get('p3')?.price_minor, 120000);
      assert.match(byId.get('p3')?.text_clean ?? '', /^iPhone 12\. Unlocked call <phone>$/);
    });

    it('decodes images: facts recorded, a model-ready square copy stored, duplicates flagged', async () => {
      const images = await db.query<{
        id: string;
        width: number;
        height: number;
        channels: number;
        duplicate_of: string | null;
        model_key: string;
      }>('SELECT id, width, height, channels, duplicate_of, model_key FROM product_images ORDER BY id');
      assert.deepEqual(
        images.rows.map((r) => [r.id, r.width, r.height, r.channels, r.duplicate_of]),
        [
          ['i1', 300, 200, 3, null],
          ['i2', 300, 200, 3, 'i1'],
        ],
      );
      const copy = await sharp(await store.get(images.rows[0]!.model_key)).metadata();
      assert.deepEqual([copy.width, copy.height, copy.format, copy.channels], [64, 64, 'jpeg', 3]);
    });

    it('pins the snapshot’s rows in the artifact store, published before its manifest', async () => {
      const snapshot = await takeSnapshot(db, store);
      const rows = [];
      for await (const row of readSnapshotProducts(store, snapshot.id)) rows.push(row);
      assert.equal(rows.length, snapshot.products);
      assert.deepEqual(
        rows.map((r) => r.id),
        ['p1', 'p2', 'p3'],
      );
      const p1 = rows[0]!;
      assert.deepEqual([p1.title, p1.root, p1.priceMinor, p1.path.length], ['Mirror wall art', 'Home & Garden', 500, 3]);
      assert.deepEqual(
        p1.images.map((i) => [i.id, i.duplicateOf]),
        [
          ['i1', null],
          ['i2', 'i1'],
        ],
      );
      assert.ok(p1.images[0]!.key.startsWith('images/64/'));
      assert.ok(await store.exists(`snapshots/${snapshot.id}/snapshot.json`));
    });

    it('writes a standalone EDA report of the snapshot to the artifact store', async () => {
      const snapshot = await takeSnapshot(db, store);
      const report = await publishReport(db, store, snapshot);
      assert.ok(report.uri.endsWith(`/reports/${snapshot.id}/eda.html`));
      const html = (await store.get(`reports/${snapshot.id}/eda.html`)).toString('utf8');
      assert.equal(html, report.html);
      assert.ok((html.match(/<svg /g) ?? []).length >= 6, 'one chart per figure');
      assert.match(html, new RegExp(snapshot.id));
      assert.match(html, /Listings on the map/);
      assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'standalone: no scripts, nothing fetched');
    });

    it('a second clean reads nothing and keeps the same snapshot', async () => {
      const first = await takeSnapshot(db, store);
      const counts = await cleanCatalogue(options);
      assert.deepEqual(counts, {
        products: { read: 0, upserted: 0, quarantined: 0, removed: 0 },
        images: { read: 0, upserted: 0, quarantined: 0, removed: 0 },
      });
      const second = await takeSnapshot(db, store);
      assert.equal(second.id, first.id);
      assert.equal(second.hash, first.hash);
      assert.equal(second.newListings, 0);
      assert.ok(await store.exists(`snapshots/${first.id}/snapshot.json`));
    });

    it('picks up only changed raw rows, and moves a row out of quarantine when it becomes clean', async () => {
      const before = await takeSnapshot(db, store);
      const file = path.join(dir, 'Products.csv');
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace('£0.00', '£3.00').replace('£1200.00', '£1100.00'));
      await loadExportFolder(dir, { db: db, store: store, log: silentLog });
      const counts = await cleanCatalogue(options);
      assert.deepEqual(counts.products, { read: 2, upserted: 2, quarantined: 0, removed: 0 });
      assert.deepEqual(counts.images, { read: 0, upserted: 0, quarantined: 0, removed: 0 });
      const p6 = await db.query("SELECT 1 FROM quarantine WHERE source_id = 'p6'");
      assert.equal(p6.rows.length, 0);
      const after = await takeSnapshot(db, store);
      assert.notEqual(after.hash, before.hash);
      assert.equal(after.newListings, 2);
    });

    it('a listing gone from a full load leaves the catalogue with its pictures, kept in removals; raw = catalogue + quarantine + removals; it comes back when loaded again', async () => {
      const accounting = async () => {
        const n = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]?.n ?? 0);
        const side = async (raw: string, table: string, source: string) => ({
          raw: await n(`SELECT count(*) AS n FROM ${raw}`),
          sum:
            (await n(`SELECT count(*) AS n FROM ${table}`)) +
            (await n(`SELECT count(*) AS n FROM quarantine WHERE source = '${source}'`)) +
            (await n(`SELECT count(*) AS n FROM removals WHERE source = '${source}'`)),
        });
        return [await side('products_raw', 'products', 'products_raw'), await side('images_raw', 'product_images', 'images_raw')];
      };
      const full = path.join(path.dirname(dir), 'full');
      await cp(dir, full, { recursive: true });
      const products = await readFile(path.join(full, 'Products.csv'), 'utf8');
      await writeFile(path.join(full, 'Products.csv'), products.replace(/^\d+,p1,[^\n]*\n/gm, ''));

      const loaded = await loadExportFolder(full, { db, store, log: silentLog, removal: { full: true } });
      assert.equal(loaded.products.removed, 1, 'p1 is absent from the full folder');
      assert.equal(loaded.images.removed, 0, 'every image row is still there');
      const counts = await cleanCatalogue(options);
      assert.deepEqual(counts.products, { read: 1, upserted: 0, quarantined: 0, removed: 1 });
      assert.deepEqual(counts.images, { read: 2, upserted: 0, quarantined: 0, removed: 2 }, "p1's two pictures go with it");
      for (const side of await accounting()) assert.equal(side.raw, side.sum);
      const kept = await db.query<{ reason: string; title: string | null }>(
        "SELECT reason, catalogue_row->>'title' AS title FROM removals WHERE source = 'products_raw' AND source_id = 'p1'",
      );
      assert.match(kept.rows[0]?.reason ?? '', /absent from Products\.csv \(a full load\)/);
      assert.equal(kept.rows[0]?.title, 'Mirror wall art');
      const images = await db.query<{ reason: string }>("SELECT reason FROM removals WHERE source = 'images_raw' ORDER BY source_id");
      assert.deepEqual(
        images.rows.map((r) => r.reason.replace(/:.*/, '')),
        ['its listing p1 was removed', 'its listing p1 was removed'],
      );
      const pinned = await takeSnapshot(db, store);
      const ids: string[] = [];
      for await (const product of readSnapshotProducts(store, pinned.id)) ids.push(product.id);
      assert.ok(!ids.includes('p1') && ids.length > 0, 'the next snapshot leaves it out');
      assert.deepEqual(await cleanCatalogue(options), {
        products: { read: 0, upserted: 0, quarantined: 0, removed: 0 },
        images: { read: 0, upserted: 0, quarantined: 0, removed: 0 },
      });

      // Without --full nothing is removed; a listing seen again is restored, with its pictures.
      const back = await loadExportFolder(dir, { db, store, log: silentLog });
      assert.deepEqual([back.products.removed, back.products.restored], [0, 1]);
      const again = await cleanCatalogue(options);
      assert.deepEqual(again.products, { read: 1, upserted: 1, quarantined: 0, removed: 0 });
      assert.equal(again.images.upserted, 2);
      assert.equal(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM removals')).rows[0]?.n), 0);
      for (const side of await accounting()) assert.equal(side.raw, side.sum);
    });

    it('refuses a full load that would remove most of the catalogue, and marks nothing', async () => {
      const tiny = path.join(path.dirname(dir), 'tiny');
      await cp(dir, tiny, { recursive: true });
      const [header] = (await readFile(path.join(tiny, 'Products.csv'), 'utf8')).split('\n');
      await writeFile(path.join(tiny, 'Products.csv'), `${header}\n`);
      await assert.rejects(
        loadExportFolder(tiny, { db, store, log: silentLog, removal: { full: true } }),
        /lacks 4 of the 4 live rows of products_raw.*--max-removed-fraction/s,
      );
      assert.equal(
        Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM products_raw WHERE removed_at IS NOT NULL')).rows[0]?.n),
        0,
      );
    });
  });
}

describe('clean fanned out over partitions', () => {
  it('cleaning partitions 0/2 and 1/2 gives the catalogue one full clean gives', async () => {
    const tmp = await tempDir();
    const opened = await Promise.all([databaseBackends[0]!.open(), databaseBackends[0]!.open()]);
    const storeOpened = await storeBackends[1]!.open();
    try {
      const dir = path.join(tmp.dir, 'export');
      await exportWithImageKinds(dir);
      const [split, whole] = opened.map((o) => o.db) as [Database, Database];
      const store = storeOpened.store;
      await loadExportFolder(dir, { db: split, store: store, log: silentLog });
      await loadExportFolder(dir, { db: whole, store: store, log: silentLog });
      const base = { store, log: silentLog, gazetteer: loadGazetteer(), images: LIMITS };
      const first = await cleanCatalogue({ ...base, db: split, partition: { index: 0, count: 2 } });
      const second = await cleanCatalogue({ ...base, db: split, partition: { index: 1, count: 2 } });
      assert.ok(first.products.read > 0 && second.products.read > 0, 'both partitions hold rows');
      assert.equal(first.products.read + second.products.read, 4);
      await cleanCatalogue({ ...base, db: whole });
      // Images whose product landed in the other partition are picked up once that product is clean.
      await cleanCatalogue({ ...base, db: split });
      assert.equal((await takeSnapshot(split, store)).hash, (await takeSnapshot(whole, store)).hash);
    } finally {
      for (const o of opened) await o.dispose();
      await storeOpened.dispose();
      await tmp.remove();
    }
  });
});
