/**
 * The clean step under hostile input and a hard kill: every row still accounted for, nothing bad in
 * the catalogue, and a clean killed with SIGKILL then rerun ends with the catalogue one clean run gives.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import sharp from 'sharp';
import { cleanCatalogue } from '../../components/clean/clean.js';
import { loadGazetteer } from '../../components/core/contracts/index.js';
import { takeSnapshot } from '../../components/clean/snapshot.js';
import { migrate, openFsStore, openPostgres, type Database } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import {
  databaseBackends,
  freshPostgresDatabase,
  REPO_ROOT,
  REAL_EXPORT_SAMPLE,
  silentLog,
  storeBackends,
  suiteStorage,
  tempDir,
} from '../helpers.js';

const HEADER = ['', 'id', 'product_name', 'category', 'product_description', 'price', 'location'];

describe('clean on hostile rows', () => {
  const storage = suiteStorage(databaseBackends[1]!, storeBackends[1]!);

  it('accounts for every row of a file of hostile and random rows, and keeps the catalogue clean', async () => {
    const { db, store } = storage;
    const tmp = await tempDir('hostile-');
    storage.defer(tmp.remove);
    const dir = path.join(tmp.dir, 'export');
    await mkdir(path.join(dir, 'images'), { recursive: true });
    const good = (id: string, overrides: Partial<Record<string, string>> = {}) => {
      const row = {
        id,
        name: `Oak desk | in Leeds, West Yorkshire | Gumtree`,
        category: 'Office Furniture & Equipment / Desks',
        description: 'Solid oak desk',
        price: '£40.00',
        location: 'Leeds, West Yorkshire',
        ...overrides,
      };
      return ['0', row.id, row.name, row.category, row.description, row.price, row.location];
    };
    const hostile = [
      good('h-sql', {
        name: "Robert'); DROP TABLE products; -- | in Leeds, West Yorkshire | Gumtree",
        description: "1' OR '1'='1; DELETE FROM quarantine; --",
      }),
      good('h-long', { description: 'x'.repeat(100_000) }),
      good('h-negative', { price: '-£5.00' }),
      good('h-absurd', { price: '£99999999999999999999.00' }),
      good('h-text-price', { price: 'offers over £50' }),
      good('h-no-category', { category: '' }),
      good('h-no-title', { name: ' | in Leeds, West Yorkshire | Gumtree' }),
      good('h-control', { description: 'nul\u0000 bell\u0007 escape\u001b[31m red' }),
      good('h-emoji-only', { name: '🔥🔥🔥 | in Leeds, West Yorkshire | Gumtree', description: '💯' }),
      good('h-dup'),
      good('h-dup', { price: '£41.00' }), // the same id with other content: refused by the loader
    ];
    // Random rows: any text in any field, as fast-check draws it (seeded: the same rows every run).
    const text = fc.string({ unit: 'grapheme', maxLength: 60 });
    const random = fc
      .sample(fc.tuple(fc.uuid(), text, text, text, text, text), { numRuns: 150, seed: 99 })
      .map(([id, ...fields]) => ['0', id, ...fields]);
    await writeFile(path.join(dir, 'Products.csv'), stringify([HEADER, ...hostile, ...random], { record_delimiter: '\n' }));
    // An invalid UTF-8 byte sequence inside a row (the file is read as UTF-8: replacement characters, not a crash).
    const bad = Buffer.concat([
      Buffer.from('0,h-bytes,"Lamp \xff\xfe | in Leeds, West Yorkshire | Gumtree",Home & Garden,"desc ', 'latin1'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('",£5.00,"Leeds, West Yorkshire"\n'),
    ]);
    await writeFile(path.join(dir, 'Products.csv'), bad, { flag: 'a' });
    await writeFile(
      path.join(dir, 'Images.csv'),
      ',id,product_id,bucket_link,image_ref,create_time\nx1,img-html,h-sql,,,\nx2,img-zero,h-sql,,,\nx3,img-svg,h-sql,,,\n',
    );
    await writeFile(path.join(dir, 'images', 'img-html.jpg'), '<html><body>not a picture</body></html>');
    await writeFile(path.join(dir, 'images', 'img-zero.jpg'), Buffer.alloc(0));
    await writeFile(
      path.join(dir, 'images', 'img-svg.jpg'),
      await sharp({ create: { width: 8, height: 8, channels: 4, background: '#00ff0080' } })
        .png()
        .toBuffer(),
    );

    const loaded = await loadExportFolder(dir, { db, store, log: silentLog });
    assert.equal(loaded.products.read, loaded.products.loaded + loaded.products.refused);
    assert.equal(loaded.products.refused, 1, 'the repeated id');
    const counts = await cleanCatalogue({
      db,
      store,
      log: silentLog,
      gazetteer: loadGazetteer(),
      images: { size: 32, maxPixels: 1_000_000 },
    });
    for (const step of [counts.products, counts.images]) assert.equal(step.read, step.upserted + step.quarantined);
    assert.equal(counts.products.read, loaded.products.loaded);
    assert.equal(counts.images.read, 3);

    const rule = async (id: string) =>
      (await db.query<{ rule: string }>('SELECT rule FROM quarantine WHERE source_id = $1', [id])).rows[0]?.rule;
    assert.equal(await rule('h-long'), 'description_too_long');
    assert.equal(await rule('h-negative'), 'price_negative');
    assert.equal(await rule('h-absurd'), 'price_unreadable');
    assert.equal(await rule('h-text-price'), 'price_unreadable');
    assert.equal(await rule('h-no-category'), 'category_missing');
    assert.equal(await rule('h-no-title'), 'title_missing');
    assert.equal(await rule('img-html'), 'image_not_an_image');
    assert.equal(await rule('img-zero'), 'image_not_an_image');
    const sql = await db.query<{ title: string }>("SELECT title FROM products WHERE id = 'h-sql'");
    assert.equal(sql.rows[0]?.title, "Robert'); DROP TABLE products; --", 'text stays text');
    const control = await db.query<{ text_clean: string }>("SELECT text_clean FROM products WHERE id = 'h-control'");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test is that no control character is left.
    assert.doesNotMatch(control.rows[0]?.text_clean ?? '', /[\u0000-\u001f]/);
    const bytes = await db.query<{ title: string }>("SELECT title FROM products WHERE id = 'h-bytes'");
    assert.match(bytes.rows[0]?.title ?? '', /^Lamp /);
    // Whatever came in, the catalogue holds only positive prices, a root category and a title.
    const invalid = await db.query<{ n: number }>(
      "SELECT count(*) AS n FROM products WHERE price_minor <= 0 OR root_category = '' OR title = ''",
    );
    assert.equal(invalid.rows[0]?.n, 0);
  });
});

describe('clean killed with SIGKILL, then run again', () => {
  it('ends with the catalogue of one uninterrupted clean (same snapshot hash), on the real export', async () => {
    const tmp = await tempDir('kill-');
    const store = openFsStore(path.join(tmp.dir, 'artifacts'));
    const killed = await freshPostgresDatabase();
    const reference = await freshPostgresDatabase();
    const dbs: Database[] = [];
    try {
      for (const target of [killed, reference]) {
        const db = await openPostgres(target.url);
        dbs.push(db);
        await migrate(db);
        await loadExportFolder(REAL_EXPORT_SAMPLE, { db, store, log: silentLog });
      }
      const [killedDb, referenceDb] = dbs as [Database, Database];
      const env = { ...process.env, DATABASE_URL: killed.url, ARTIFACT_ROOT: `file://${tmp.dir}/artifacts`, LOG_LEVEL: 'warn' };
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'clean', 'main.ts'), '--batch-size', '100'],
        { env, stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => child.on('exit', resolve));
      // Kill it once some batches are committed and long before it is done.
      for (let i = 0; i < 600; i++) {
        const done = await killedDb.query<{ n: number }>('SELECT count(*) AS n FROM products');
        if ((done.rows[0]?.n ?? 0) >= 300) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGKILL');
      await exited;
      const partial = await killedDb.query<{ n: number }>('SELECT count(*) AS n FROM products');
      assert.ok((partial.rows[0]?.n ?? 0) >= 300 && (partial.rows[0]?.n ?? 0) < 6000, `killed mid-run (${partial.rows[0]?.n} products)`);

      const options = { store, log: silentLog, gazetteer: loadGazetteer(), batchSize: 100 };
      await cleanCatalogue({ ...options, db: killedDb });
      await cleanCatalogue({ ...options, db: referenceDb });
      const afterKill = await takeSnapshot(killedDb, store);
      const uninterrupted = await takeSnapshot(referenceDb, store);
      assert.equal(afterKill.hash, uninterrupted.hash);
      assert.deepEqual(afterKill.counts, uninterrupted.counts);
    } finally {
      for (const db of dbs) await db.close();
      await killed.drop();
      await reference.drop();
      await tmp.remove();
    }
  });
});
