import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import yazl from 'yazl';
import { InputError, type ArtifactStore, type Database } from '../../components/core/platform/index.js';
import { findExportFiles } from '../../components/load/folder.js';
import { zipImages } from '../../components/load/image-files.js';
import { loadExportFolder, loadRaw, rawImageKey } from '../../components/load/load.js';
import { removalOf } from '../../components/load/main.js';
import { IMAGES, PRODUCTS } from '../../components/load/raw-tables.js';
import { csvSource, postgresTableSource } from '../../components/load/sources.js';
import { databaseBackends, freshPostgresDatabase, REPO_ROOT, silentLog, storeBackends, suiteStorage, tempDir } from '../helpers.js';

const fixture = (name: string) => path.join(REPO_ROOT, 'test', 'fixtures', name);

/** A copy of a fixture export with image files i1..i4 and one file no row names. */
async function exportWithImages(name: string, dir: string): Promise<Map<string, Buffer>> {
  await cp(fixture(name), dir, { recursive: true });
  await mkdir(path.join(dir, 'images', 'nested'), { recursive: true });
  const files = new Map<string, Buffer>();
  for (const id of ['i1', 'i2', 'i3', 'i4', 'unreferenced']) {
    const bytes = randomBytes(1000 + id.length);
    files.set(id, bytes);
    // Any sub-folder works: the seed's archive had images/<id>.jpg.
    await writeFile(path.join(dir, 'images', id === 'i4' ? 'nested' : '', `${id}.jpg`), bytes);
  }
  return files;
}

/** Loads a fixture folder in batches of two rows (several batches even for a fixture). */
const loadFolder = (db: Database, store: ArtifactStore, dir: string) => loadExportFolder(dir, { db, store, log: silentLog, batchSize: 2 });

const combos = [
  { db: databaseBackends[1]!, store: storeBackends[1]! }, // the embedded defaults: PGlite + folder
  { db: databaseBackends[0]!, store: storeBackends[0]! }, // production's shape: Postgres + S3
];

for (const combo of combos) {
  describe(`loading an export into ${combo.db.name} + ${combo.store.name}`, () => {
    const storage = suiteStorage(combo.db, combo.store);
    let db: Database;
    let store: ArtifactStore;
    let dir: string;
    let images: Map<string, Buffer>;
    before(async () => {
      ({ db, store } = storage);
      const tmp = await tempDir();
      storage.defer(tmp.remove);
      dir = path.join(tmp.dir, 'export');
      images = await exportWithImages('export-7col', dir);
    });

    it('accounts for every row: read = loaded + refused, each refusal stored with its line and reason', async () => {
      const summary = await loadFolder(db, store, dir);
      assert.deepEqual(summary.products, {
        read: 8,
        loaded: 4,
        refused: 4,
        inserted: 4,
        updated: 0,
        unchanged: 0,
        removed: 0,
        restored: 0,
      });
      assert.deepEqual(summary.images, { read: 5, loaded: 5, refused: 0, inserted: 5, updated: 0, unchanged: 0, removed: 0, restored: 0 });
      assert.deepEqual(summary.imageFiles, { stored: 4, uploaded: 4, missing: 1, unreferenced: 1 });
      assert.deepEqual(
        summary.refusals.map((r) => [r.line, r.reason.replace(/:.*/, '')]),
        [
          [6, 'expected 7 fields, found 4'],
          [7, 'CSV syntax'],
          [8, 'missing id'],
          [9, 'duplicate id p1 (first on line 2)'],
        ],
      );
      const refusals = await db.query<{ line: number; raw: string }>('SELECT line, raw FROM load_refusals ORDER BY line');
      assert.deepEqual(
        refusals.rows.map((r) => r.line),
        [6, 7, 8, 9],
      );
      assert.match(
        refusals.rows[1]?.raw ?? '',
        /^4,p5,"Bad "quote" name",Other Goods,desc,£2\.00,"Bath, Somerset"$/,
        'the whole refused line is kept',
      );

      const products = await db.query<{ id: string; price: string; product_description: string; source_line: number }>(
        'SELECT id, price, product_description, source_line FROM products_raw ORDER BY id',
      );
      assert.deepEqual(
        products.rows.map((r) => [r.id, r.price, r.source_line]),
        [
          ['p1', '£5.00', 2],
          ['p2', '£1200.00', 3],
          ['p3', '£1,200.00', 5],
          ['p6', '£0.00', 10],
        ],
      );
      assert.equal(products.rows[0]?.product_description, 'Mirror wall art.\rPosted by Nisha\r\rSize 45x45cm');
      const orphan = await db.query<{ product_id: string }>("SELECT product_id FROM images_raw WHERE id = 'i5'");
      assert.equal(orphan.rows[0]?.product_id, 'p-unknown', 'an image row naming an unknown product is kept for clean to judge');
      assert.deepEqual(await store.get(rawImageKey('i4')), images.get('i4'));
      assert.equal(await store.exists(rawImageKey('unreferenced')), false);
    });

    it('loading twice changes nothing', async () => {
      const before = await db.query('SELECT id, content_hash, updated_at FROM products_raw ORDER BY id');
      const summary = await loadFolder(db, store, dir);
      assert.deepEqual(summary.products, {
        read: 8,
        loaded: 4,
        refused: 4,
        inserted: 0,
        updated: 0,
        unchanged: 4,
        removed: 0,
        restored: 0,
      });
      assert.deepEqual(summary.images, { read: 5, loaded: 5, refused: 0, inserted: 0, updated: 0, unchanged: 5, removed: 0, restored: 0 });
      assert.deepEqual(summary.imageFiles, { stored: 4, uploaded: 0, missing: 1, unreferenced: 1 });
      assert.deepEqual((await db.query('SELECT id, content_hash, updated_at FROM products_raw ORDER BY id')).rows, before.rows);
      const refusals = await db.query<{ n: number }>('SELECT count(*) AS n FROM load_refusals');
      assert.equal(refusals.rows[0]?.n, 4);
    });

    it('a changed row or image file is rewritten, and only that', async () => {
      const file = path.join(dir, 'Products.csv');
      await writeFile(file, (await readFile(file, 'utf8')).replace('£1200.00', '£1100.00'));
      await writeFile(path.join(dir, 'images', 'i1.jpg'), randomBytes(5000));
      const summary = await loadFolder(db, store, dir);
      assert.deepEqual(summary.products, {
        read: 8,
        loaded: 4,
        refused: 4,
        inserted: 0,
        updated: 1,
        unchanged: 3,
        removed: 0,
        restored: 0,
      });
      assert.equal(summary.imageFiles.uploaded, 1);
      const row = await db.query<{ price: string }>("SELECT price FROM products_raw WHERE id = 'p2'");
      assert.equal(row.rows[0]?.price, '£1100.00');
      assert.equal((await store.stat(rawImageKey('i1')))?.size, 5000);
    });
  });
}

describe("loading from the seed's own sources", () => {
  const storage = suiteStorage(databaseBackends[0]!, storeBackends[1]!);
  let db: Database;
  let store: ArtifactStore;
  before(() => {
    ({ db, store } = storage);
  });

  it('--from postgres: copies the products and images tables; the same content loaded from CSV is unchanged', async () => {
    const files = await findExportFiles(fixture('export-10col'));
    const fromCsv = await loadRaw({
      db,
      store,
      log: silentLog,
      imageFiles: [],
      products: csvSource(files.products, PRODUCTS),
      images: csvSource(files.images, IMAGES),
    });
    assert.equal(fromCsv.products.inserted, 2);

    const source = await freshPostgresDatabase();
    storage.defer(source.drop);
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    // The seed's tables: a uuid-free schema with a pandas `index` column, as to_sql wrote it.
    await client.query(`CREATE TABLE products ("index" bigint, id text, product_name text, category text,
      product_description text, price text, location text, url text, page_id bigint, create_time text, seller text)`);
    await client.query(
      `CREATE TABLE images ("index" bigint, id text, product_id text, bucket_link text, image_ref text, create_time text)`,
    );
    await client.query(`INSERT INTO products VALUES
      (0, 'q1', 'Desk | in Bristol, Bristol | Gumtree', 'Office Furniture & Equipment / Desks', 'Solid oak desk', '£40.00', 'Bristol, Bristol', 'https://www.gumtree.com/p/desks/1', 1001, '2022-02-26', 'alice'),
      (1, 'q2', 'Drill | in York, North Yorkshire | Gumtree', 'DIY Tools & Materials / Power Tools', '18V drill, two batteries', '£35.50', 'York, North Yorkshire', 'https://www.gumtree.com/p/tools/2', 1002, '2022-02-27', NULL),
      (2, 'q3', 'Lamp | in Leeds, West Yorkshire | Gumtree', 'Home & Garden / Lighting', 'Brass lamp', '£12.00', 'Leeds, West Yorkshire', NULL, NULL, NULL, NULL)`);
    await client.query(`INSERT INTO images VALUES (0, 'j1', 'q1', 'https://example.invalid/images/j1.jpg', 'r1', '2022-02-26'),
      (1, 'j2', 'q2', 'https://example.invalid/images/j2.jpg', 'r2', '2022-02-27'), (2, '', 'q3', NULL, NULL, NULL)`);
    await client.end();

    const fromDb = await loadRaw({
      db,
      store,
      log: silentLog,
      imageFiles: [],
      products: postgresTableSource(source.url, 'products', PRODUCTS, 2),
      images: postgresTableSource(source.url, 'images', IMAGES, 2),
    });
    assert.deepEqual(fromDb.products, { read: 3, loaded: 3, refused: 0, inserted: 1, updated: 0, unchanged: 2, removed: 0, restored: 0 });
    assert.deepEqual(fromDb.images, { read: 3, loaded: 2, refused: 1, inserted: 0, updated: 0, unchanged: 2, removed: 0, restored: 0 });
    assert.deepEqual(fromDb.refusals, [{ source: 'postgres:images', line: 3, reason: 'missing id' }]);
    const q3 = await db.query<{ source: string; page_id: string | null }>("SELECT source, page_id FROM products_raw WHERE id = 'q3'");
    assert.deepEqual(q3.rows[0], { source: 'postgres:products', page_id: null });

    // The source's own removal marker (a deleted_at column), named by --removed-column: a --from copy
    // is the whole table, so it also works as --full.
    const marked = new pg.Client({ connectionString: source.url });
    await marked.connect();
    await marked.query('ALTER TABLE products ADD COLUMN deleted_at timestamptz');
    await marked.query("UPDATE products SET deleted_at = now() WHERE id = 'q2'");
    const removal = removalOf(undefined, {
      from: source.url,
      productsTable: 'products',
      imagesTable: 'images',
      batchSize: 2,
      removedColumn: 'deleted_at',
    });
    assert.deepEqual(removal, { full: true, marker: { column: 'deleted_at' } });
    const sources = () => ({
      products: postgresTableSource(source.url, 'products', PRODUCTS, 2),
      images: postgresTableSource(source.url, 'images', IMAGES, 2),
    });
    const withMarker = await loadRaw({ db, store, log: silentLog, imageFiles: [], ...sources(), removal });
    assert.deepEqual([withMarker.products.removed, withMarker.products.restored], [1, 0]);
    const q2 = await db.query<{ removed_reason: string | null }>("SELECT removed_reason FROM products_raw WHERE id = 'q2'");
    assert.equal(q2.rows[0]?.removed_reason, 'postgres:products marks it removed (deleted_at)');
    await marked.query("UPDATE products SET deleted_at = NULL WHERE id = 'q2'");
    await marked.end();
    const unmarked = await loadRaw({ db, store, log: silentLog, imageFiles: [], ...sources(), removal });
    assert.deepEqual([unmarked.products.removed, unmarked.products.restored], [0, 1]);
    const folder = await findExportFiles(fixture('export-10col'));
    assert.throws(
      () => removalOf(folder, { productsTable: 'p', imagesTable: 'i', batchSize: 1, removedColumn: 'x' }),
      /--removed-column names a column of the --from database/,
    );
    assert.deepEqual(
      removalOf(folder, { productsTable: 'p', imagesTable: 'i', batchSize: 1 }),
      { full: false },
      'a folder removes nothing without --full',
    );

    await assert.rejects(
      async () => {
        for await (const _ of postgresTableSource(source.url, 'listings', PRODUCTS).records()) void _;
      },
      (error: unknown) => error instanceof InputError && /table listings: no such table/.test(error.message),
    );
  });

  it('--images-zip over HTTP: streams the archive and stores the files its rows name', async () => {
    const tmp = await tempDir('zip-');
    storage.defer(tmp.remove);
    const zip = new yazl.ZipFile();
    const bytes = new Map([
      ['j1', randomBytes(3000)],
      ['j2', randomBytes(4000)],
    ]);
    for (const [id, data] of bytes) zip.addBuffer(data, `images/${id}.jpg`);
    zip.addBuffer(Buffer.from('not an image'), 'images/readme.txt');
    zip.end();
    const zipFile = path.join(tmp.dir, 'images.zip');
    const chunks: Buffer[] = [];
    for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
    await writeFile(zipFile, Buffer.concat(chunks));

    const server = http.createServer(async (request, response) => {
      if (request.url !== '/images.zip') return void response.writeHead(404).end();
      const data = await readFile(zipFile);
      response.writeHead(200, { 'content-length': data.length }).end(data);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    storage.defer(() => new Promise((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const files = await findExportFiles(fixture('export-10col'));
    const archive = await zipImages(`${base}/images.zip`, silentLog);
    try {
      assert.deepEqual([...archive.files.keys()].sort(), ['j1', 'j2']);
      const summary = await loadRaw({
        db,
        store,
        log: silentLog,
        imageFiles: [archive],
        products: csvSource(files.products, PRODUCTS),
        images: csvSource(files.images, IMAGES),
      });
      assert.deepEqual(summary.imageFiles, { stored: 2, uploaded: 2, missing: 0, unreferenced: 0 });
      assert.deepEqual(await store.get(rawImageKey('j2')), bytes.get('j2'));
    } finally {
      await archive.close();
    }
    await assert.rejects(zipImages(`${base}/missing.zip`, silentLog), /cannot download .*missing\.zip: HTTP 404/);
    await assert.rejects(zipImages(path.join(tmp.dir, 'nope.zip'), silentLog), /nope\.zip: file not found/);
    await writeFile(path.join(tmp.dir, 'bad.zip'), 'not a zip');
    await assert.rejects(zipImages(path.join(tmp.dir, 'bad.zip'), silentLog), /not a readable zip archive/);
  });
});
