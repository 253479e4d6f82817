/**
 * The staged COPY load (components/load/staged.ts) on both engines: every value survives COPY's text
 * format, read = loaded + refused with repeated ids refused in SQL (first line wins, even for a third
 * repeat and with a Bloom filter so small that it answers "maybe seen" for nearly every id), refusals
 * hashed in SQL as the loader hashes them in JS, a reload changes nothing, --full removes through the
 * staging table; and a synthetic catalogue from bench/scale/generate.ts loads with the counts it declares.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { ArtifactStore, Database } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { PRODUCTS, rawHash } from '../../components/load/raw-tables.js';
import { csvSource } from '../../components/load/sources.js';
import { BloomFilter, copyText, mergeStage, stageSource } from '../../components/load/staged.js';
import { generateCatalogue } from '../../bench/scale/generate.js';
import { databaseBackends, REAL_EXPORT_SAMPLE, silentLog, storeBackends, suiteStorage, tempDir } from '../helpers.js';

const HEADER = ',id,product_name,category,product_description,price,location';
/** Values COPY's text format must escape: tab, backslash, CR, LF, and a literal `\N`. */
const HOSTILE = 'tab\there, back\\slash, \\N literal, CR\rLF';
const lines = [
  HEADER,
  `0,a1,"Desk | in Bath, Somerset | Gumtree",Office / Desks,"${HOSTILE.replace('LF', '\nLF')}",£40.00,"Bath, Somerset"`,
  '1,a2,Lamp,Home / Lighting,Brass £ lamp 🪔,£12.00,"Leeds, West Yorkshire"',
  '2,a1,Desk again,Office / Desks,repeat,£41.00,"Bath, Somerset"',
  '3,a3,Short,£1.00',
  '4,,No id,Other,desc,£2.00,"Hull, East Yorkshire"',
  '5,a4,Chair,Office / Chairs,ok,£5.00,"York, North Yorkshire"',
  '6,a1,Desk a third time,Office / Desks,repeat,£42.00,"Bath, Somerset"',
  '7,a2,Lamp again,Home / Lighting,repeat,£13.00,"Leeds, West Yorkshire"',
];

async function writeExport(dir: string, productLines: readonly string[]): Promise<void> {
  await mkdir(path.join(dir, 'images'), { recursive: true });
  await writeFile(path.join(dir, 'Products.csv'), `${productLines.join('\n')}\n`);
  await writeFile(
    path.join(dir, 'Images.csv'),
    ',id,product_id,bucket_link,image_ref,create_time\r\n0,i1,a1,,,2022-02-26\r\n1,i1,a2,,,2022-02-26\r\n',
  );
}

describe('COPY text format and the Bloom filter', () => {
  it('escapes what COPY would read as a delimiter, a NULL or an escape', () => {
    assert.equal(copyText(null), '\\N');
    assert.equal(copyText('plain £ text'), 'plain £ text');
    assert.equal(copyText(HOSTILE), 'tab\\there, back\\\\slash, \\\\N literal, CR\\rLF');
    assert.equal(copyText('a\nb'), 'a\\nb');
  });

  it('never forgets an id it was given (no false negatives), and says so for new ids mostly', () => {
    const bloom = new BloomFilter(20);
    const ids = Array.from({ length: 20_000 }, (_, i) => `id-${i}`);
    const firstTime = ids.filter((id) => bloom.addAndCheck(id)).length;
    assert.ok(firstTime < 200, `${firstTime} of 20,000 new ids reported as maybe seen`);
    assert.ok(
      ids.every((id) => bloom.addAndCheck(id)),
      'every id seen before is reported as maybe seen',
    );
  });
});

for (const backend of databaseBackends) {
  describe(`the staged load into ${backend.name}`, () => {
    const storage = suiteStorage(backend, storeBackends[1]!);
    let db: Database;
    let store: ArtifactStore;
    let dir: string;
    before(async () => {
      ({ db, store } = storage);
      const tmp = await tempDir('staged-');
      storage.defer(tmp.remove);
      dir = path.join(tmp.dir, 'export');
      await writeExport(dir, lines);
    });

    it('keeps every value through COPY, refuses repeats in SQL (first line wins) and stores refusals with the JS raw hash', async () => {
      const summary = await loadExportFolder(dir, { db, store, log: silentLog, batchSize: 2 });
      assert.deepEqual(summary.products, {
        read: 8,
        loaded: 3,
        refused: 5,
        inserted: 3,
        updated: 0,
        unchanged: 0,
        removed: 0,
        restored: 0,
      });
      assert.deepEqual(summary.images, { read: 2, loaded: 1, refused: 1, inserted: 1, updated: 0, unchanged: 0, removed: 0, restored: 0 });
      assert.deepEqual(
        summary.refusals.map((r) => [r.source, r.line, r.reason.replace(/:.*/, '')]),
        [
          ['Products.csv', 5, 'duplicate id a1 (first on line 2)'],
          ['Products.csv', 6, 'expected 7 fields, found 4'],
          ['Products.csv', 7, 'missing id'],
          ['Products.csv', 9, 'duplicate id a1 (first on line 2)'],
          ['Products.csv', 10, 'duplicate id a2 (first on line 4)'],
          ['Images.csv', 3, 'duplicate id i1 (first on line 2)'],
        ],
      );
      const desk = await db.query<{ product_description: string; price: string; source_line: number; extra: unknown }>(
        "SELECT product_description, price, source_line, extra FROM products_raw WHERE id = 'a1'",
      );
      assert.deepEqual(desk.rows[0], { product_description: HOSTILE.replace('LF', '\nLF'), price: '£40.00', source_line: 2, extra: {} });
      const lamp = await db.query<{ product_description: string }>("SELECT product_description FROM products_raw WHERE id = 'a2'");
      assert.equal(lamp.rows[0]?.product_description, 'Brass £ lamp 🪔');

      const refusals = await db.query<{ raw_hash: string; line: number; raw: string; reason: string }>(
        "SELECT raw_hash, line, raw, reason FROM load_refusals WHERE source = 'Products.csv' ORDER BY line",
      );
      assert.deepEqual(
        refusals.rows.map((r) => r.line),
        [5, 6, 7, 9, 10],
      );
      for (const refusal of refusals.rows)
        assert.equal(refusal.raw_hash, rawHash(refusal.raw), `line ${refusal.line}: SQL's sha256 is the loader's`);
      assert.equal(refusals.rows[0]?.raw, lines[3], 'the repeated line is kept whole');
    });

    it('a reload changes nothing (no row rewritten, no refusal touched)', async () => {
      const rows = 'SELECT id, content_hash, updated_at FROM products_raw ORDER BY id';
      const refused = 'SELECT source, raw_hash, line, updated_at FROM load_refusals ORDER BY source, line';
      const [beforeRows, beforeRefusals] = [(await db.query(rows)).rows, (await db.query(refused)).rows];
      const summary = await loadExportFolder(dir, { db, store, log: silentLog });
      assert.deepEqual(summary.products, {
        read: 8,
        loaded: 3,
        refused: 5,
        inserted: 0,
        updated: 0,
        unchanged: 3,
        removed: 0,
        restored: 0,
      });
      assert.deepEqual((await db.query(rows)).rows, beforeRows);
      assert.deepEqual((await db.query(refused)).rows, beforeRefusals);
    });

    it('a changed row is rewritten, and only that; --full marks the rows the file lacks, through the staging table', async () => {
      const changed = lines.filter((line) => !line.startsWith('5,a4')).map((line) => line.replace('£12.00', '£11.00'));
      await writeExport(dir, changed);
      const summary = await loadExportFolder(dir, { db, store, log: silentLog, removal: { full: true } });
      assert.deepEqual(summary.products, {
        read: 7,
        loaded: 2,
        refused: 5,
        inserted: 0,
        updated: 1,
        unchanged: 1,
        removed: 1,
        restored: 0,
      });
      const gone = await db.query<{ id: string; removed_reason: string }>(
        'SELECT id, removed_reason FROM products_raw WHERE removed_at IS NOT NULL',
      );
      assert.deepEqual(gone.rows, [{ id: 'a4', removed_reason: 'absent from Products.csv (a full load)' }]);
      await writeExport(dir, lines);
      const back = await loadExportFolder(dir, { db, store, log: silentLog, removal: { full: true } });
      assert.deepEqual([back.products.restored, back.products.removed, back.products.updated], [1, 0, 1]);
    });

    it('answers the same with a Bloom filter that flags nearly every id (false positives cost staging, not correctness)', async () => {
      // 200 listings, then three repeats of earlier ids.
      const many = [HEADER, ...Array.from({ length: 200 }, (_, i) => `${i},b${i},Thing ${i},Other,desc ${i},£${i}.00,"Bath, Somerset"`)];
      many.push(
        '200,b7,Repeat,Other,x,£1.00,"Bath, Somerset"',
        '201,b150,Repeat,Other,y,£1.00,"Bath, Somerset"',
        '202,b7,Again,Other,z,£1.00,"Bath, Somerset"',
      );
      const file = path.join(dir, 'many.csv');
      await writeFile(file, `${many.join('\n')}\n`);
      const results = [];
      for (const log2Bits of [5, 27]) {
        results.push(
          await db.transaction(async (tx) => {
            const staged = await stageSource(tx, { shape: PRODUCTS, source: csvSource(file, PRODUCTS), bloomLog2Bits: log2Bits });
            const flagged = await tx.query<{ n: number }>('SELECT count(*) AS n FROM load_stage WHERE maybe_seen');
            const merged = await mergeStage(tx, PRODUCTS);
            return {
              read: staged.read,
              rows: staged.rows,
              duplicates: merged.duplicates,
              first: merged.firstDuplicates,
              loaded: merged.inserted + merged.updated + merged.unchanged,
              flagged: Number(flagged.rows[0]?.n),
            };
          }),
        );
      }
      const [tiny, large] = results;
      assert.ok(
        tiny!.flagged > 150 && large!.flagged === 3,
        `a 32-bit filter flags ${tiny!.flagged} rows, a 2^27-bit one ${large!.flagged} (the three repeats)`,
      );
      assert.deepEqual({ ...tiny, flagged: 0 }, { ...large, flagged: 0 });
      assert.deepEqual(
        large!.first.map((r) => [r.line, r.reason]),
        [
          [202, 'duplicate id b7 (first on line 9)'],
          [203, 'duplicate id b150 (first on line 152)'],
          [204, 'duplicate id b7 (first on line 9)'],
        ],
      );
      assert.equal(large!.loaded, 200);
    });

    it('a products file that fails leaves the images table as it was', async () => {
      const broken = path.join(dir, '..', 'broken');
      await mkdir(path.join(broken, 'images'), { recursive: true });
      await writeFile(path.join(broken, 'Products.csv'), 'id,product_name\nz1,Only two columns\n');
      await writeFile(path.join(broken, 'Images.csv'), ',id,product_id,bucket_link,image_ref,create_time\n0,zi1,z1,,,2022-02-26\n');
      const before = (await db.query('SELECT id, updated_at FROM images_raw ORDER BY id')).rows;
      await assert.rejects(loadExportFolder(broken, { db, store, log: silentLog }), /missing column\(s\) category/);
      assert.deepEqual((await db.query('SELECT id, updated_at FROM images_raw ORDER BY id')).rows, before);
    });

    it('into an empty table copies first occurrences straight in and answers as the staged path does, whatever the Bloom filter', async () => {
      const many = [HEADER, ...Array.from({ length: 200 }, (_, i) => `${i},c${i},Thing ${i},Other,desc\t${i},£${i}.00,"Bath, Somerset"`)];
      many.splice(50, 0, '49b,c7,Repeat,Other,x,£1.00,"Bath, Somerset"', '49c,,No id,Other,x,£1.00,"Bath, Somerset"');
      many.push('200,c150,Repeat,Other,y,£1.00,"Bath, Somerset"', '201,c7,Again,Other,z,£1.00,"Bath, Somerset"', '202,short');
      const file = path.join(dir, 'direct.csv');
      await writeFile(file, `${many.join('\n')}\n`);
      const rollback = new Error('rollback');
      const results: unknown[] = [];
      // The last: stage lines held back at most 300 bytes, so the COPY into the table ends and starts again often.
      for (const [direct, log2Bits, holdBytes] of [
        [false, 27, undefined],
        [true, 27, undefined],
        [true, 5, undefined],
        [true, 5, 300],
      ] as const) {
        await db
          .transaction(async (tx) => {
            await tx.exec('DELETE FROM products_raw'); // empty within this transaction only
            const source = csvSource(file, PRODUCTS);
            const staged = await stageSource(tx, {
              shape: PRODUCTS,
              source,
              bloomLog2Bits: log2Bits,
              direct,
              ...(holdBytes ? { holdBytes } : {}),
            });
            assert.equal(staged.direct, direct);
            if (direct)
              assert.ok(log2Bits === 5 ? staged.directRows < 60 : staged.directRows === 200, `${staged.directRows} rows copied straight`);
            const merged = await mergeStage(tx, PRODUCTS, 20, staged);
            const rows = await tx.query(
              'SELECT id, product_description, price, content_hash, source_line, extra FROM products_raw ORDER BY id',
            );
            results.push({ counts: [staged.read, staged.rows, staged.refused], merged, rows: rows.rows });
            throw rollback;
          })
          .catch((error: unknown) => {
            if (error !== rollback) throw error;
          });
      }
      assert.deepEqual(results[1], results[0], 'direct = staged');
      assert.deepEqual(results[2], results[0], 'direct with a saturated Bloom filter = staged');
      assert.deepEqual(results[3], results[0], 'direct, its COPY ended and started again every few rows = staged');
      const merged = (results[0] as { merged: Awaited<ReturnType<typeof mergeStage>> }).merged;
      assert.deepEqual(
        merged.firstDuplicates.map((r) => [r.line, r.reason]),
        [
          [51, 'duplicate id c7 (first on line 9)'],
          [204, 'duplicate id c150 (first on line 154)'],
          [205, 'duplicate id c7 (first on line 9)'],
        ],
      );
      assert.equal(merged.inserted, 200);
    });
  });
}

describe('a synthetic catalogue from bench/scale/generate.ts (benchmark data, here at N = 300)', () => {
  const storage = suiteStorage(databaseBackends[1]!, storeBackends[1]!);
  it('is the same bytes for the same seed, and loads with the counts its generator.json declares', async () => {
    const tmp = await tempDir('scale-');
    storage.defer(tmp.remove);
    const one = await generateCatalogue({ out: path.join(tmp.dir, 'one'), listings: 300, seed: 3, data: REAL_EXPORT_SAMPLE, dirty: 0.05 });
    const two = await generateCatalogue({ out: path.join(tmp.dir, 'two'), listings: 300, seed: 3, data: REAL_EXPORT_SAMPLE, dirty: 0.05 });
    assert.ok((await readFile(one.products)).equals(await readFile(two.products)), 'same seed, same Products.csv');
    const refused = one.dirty.duplicateId + one.dirty.missingField + one.dirty.missingId;
    assert.ok(refused > 0 && one.dirty.duplicateId > 0, `dirty lines of every kind were written: ${JSON.stringify(one.dirty)}`);
    const summary = await loadExportFolder(one.dir, { db: storage.db, store: storage.store, log: silentLog });
    assert.deepEqual(
      [summary.products.read, summary.products.loaded, summary.products.refused, summary.products.inserted],
      [one.productLines, 300, refused, 300],
    );
    assert.deepEqual([summary.images.read, summary.images.loaded, summary.images.refused], [one.imageRows, one.imageRows, 0]);
    const categories = await storage.db.query<{ n: number }>(
      "SELECT count(DISTINCT split_part(category, ' / ', 1)) AS n FROM products_raw",
    );
    assert.ok(Number(categories.rows[0]?.n) >= 10, 'the real category mix (13 roots) is drawn from');
  });
});
