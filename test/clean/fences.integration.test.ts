/**
 * Clean's price fences read the raw listings a page at a time (bounded memory at 10^6 listings):
 * on the real export's sample, any page size gives the fences of one read of every row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadFences } from '../../components/clean/clean.js';
import type { Database } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { databaseBackends, REAL_EXPORT_SAMPLE, silentLog, storeBackends } from '../helpers.js';

describe('clean price fences, read a page at a time (PGlite)', () => {
  let db: Database;
  const disposers: (() => Promise<void>)[] = [];
  before(async () => {
    const opened = await databaseBackends.find((b) => b.name === 'pglite')!.open();
    const stored = await storeBackends.find((b) => b.name === 'filesystem')!.open();
    disposers.push(opened.dispose, stored.dispose);
    db = opened.db;
    await loadExportFolder(REAL_EXPORT_SAMPLE, { db, store: stored.store, log: silentLog });
  });
  after(async () => {
    for (const dispose of disposers) await dispose();
  });

  it('gives the same fences whatever the page size, one page or many', async () => {
    const whole = await loadFences(db, 1_000_000);
    assert.ok(whole.size > 3, `fences for the sample's root categories and '*': ${[...whole.keys()].join(', ')}`);
    assert.ok(whole.get('*')!.basis > 500, 'every priced listing counted');
    for (const pageSize of [1, 7, 100, 645, 646]) assert.deepEqual(await loadFences(db, pageSize), whole, `page size ${pageSize}`);
  });
});
