/**
 * The clean step's walk over the raw rows: a rerun with nothing changed widens its windows (a few
 * range queries, not one a batch), and a widened window holding more changed rows than a batch cleans
 * every one of them, a batch at a time. Both database engines.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { cleanProducts, type CleanOptions } from '../../components/clean/clean.js';
import { loadGazetteer } from '../../components/core/contracts/index.js';
import type { Database } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { databaseBackends, REAL_EXPORT_SAMPLE, silentLog, storeBackends, suiteStorage } from '../helpers.js';

/** The database, counting the product step's selects of rows to clean (one a window). */
function countingSelects(db: Database): { db: Database; selects: () => number } {
  let selects = 0;
  const wrapped: Database = {
    kind: db.kind,
    description: db.description,
    query: (sql, params) => {
      if (/FROM products_raw r\s+LEFT JOIN products p/.test(sql)) selects++;
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    copyFrom: (...args) => db.copyFrom(...args),
    transaction: (work) => db.transaction(work),
    close: () => db.close(),
  };
  return { db: wrapped, selects: () => selects };
}

const BATCH = 4;

for (const backend of databaseBackends) {
  describe(`clean's windows on ${backend.name}`, () => {
    const storage = suiteStorage(backend, storeBackends[0]!);
    let options: CleanOptions;
    let raw = 0;
    before(async () => {
      await loadExportFolder(REAL_EXPORT_SAMPLE, { db: storage.db, store: storage.store, log: silentLog });
      options = { db: storage.db, store: storage.store, log: silentLog, gazetteer: loadGazetteer(), batchSize: BATCH };
      raw = Number((await storage.db.query<{ n: string }>('SELECT count(*) AS n FROM products_raw')).rows[0]!.n);
      const first = await cleanProducts(options);
      assert.equal(first.read, raw, 'the first clean reads every raw row');
    });

    it('a rerun with nothing changed reads nothing, in far fewer windows than batches', async () => {
      const counting = countingSelects(storage.db);
      const counts = await cleanProducts({ ...options, db: counting.db });
      assert.deepEqual(counts, { read: 0, upserted: 0, quarantined: 0, removed: 0 });
      // One window a batch would be raw / BATCH selects (160 here); widening fourfold reaches the end in a handful.
      assert.ok(counting.selects() <= 8, `${counting.selects()} windows over ${raw} unchanged raw rows`);
    });

    it('cleans every changed row of a widened window, a batch at a time', async () => {
      // 11 changed rows near the end of the table, after a long unchanged stretch has widened the window.
      const changed = (
        await storage.db.query<{ id: string }>(
          'SELECT r.id FROM products_raw r JOIN products p ON p.id = r.id ORDER BY r.id DESC LIMIT 11 OFFSET 20',
        )
      ).rows.map((r) => r.id);
      assert.equal(changed.length, 11);
      await storage.db.query(
        "UPDATE products_raw SET product_name = product_name || ' (edited)', content_hash = md5(content_hash) WHERE id = ANY($1::text[])",
        [changed],
      );
      const counting = countingSelects(storage.db);
      const counts = await cleanProducts({ ...options, db: counting.db });
      assert.deepEqual(counts, { read: 11, upserted: 11, quarantined: 0, removed: 0 });
      const titles = await storage.db.query<{ id: string; title: string }>('SELECT id, title FROM products WHERE id = ANY($1::text[])', [
        changed,
      ]);
      assert.equal(titles.rows.filter((r) => r.title.endsWith('(edited)')).length, 11, 'every changed row is in the catalogue as edited');
      assert.deepEqual(
        await cleanProducts(options),
        { read: 0, upserted: 0, quarantined: 0, removed: 0 },
        'and a rerun finds nothing left',
      );
    });
  });
}
