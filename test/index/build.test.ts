/**
 * The index component on a trained demo model: every product embedded and indexed, a product found
 * first from its own vector, the buyer population indexed beside it, the lexical index and the
 * fusion weights under the same manifest, and a second build of the same model and snapshot reused.
 * The embedding fanned out: shards embedded one by one (as the pipeline's pods do), the same index
 * files built from them, a shard embedded twice reused, a build before every shard is there refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openSearchIndex, row } from '../../components/core/ml/index.js';
import { buildIndex } from '../../components/index/build.js';
import { embedShard, SHARDS_PREFIX } from '../../components/index/embed.js';
import { silentLog } from '../helpers.js';
import { demoService, type DemoService } from '../serve-fixture.js';

describe('index on the demo model', () => {
  let demo: DemoService;
  before(async () => {
    demo = await demoService({ perCategory: 6, imageSize: 64, buyers: 60 });
  });
  after(async () => demo?.close());

  it('indexes every product of the snapshot and finds each first from its own vector', async () => {
    const index = await openSearchIndex(demo.store, demo.indexVersion);
    const products = Number((await demo.db.query<{ n: string }>('SELECT count(*) AS n FROM products')).rows[0]?.n);
    assert.equal(index.productRows.length, products);
    const dim = index.metadata.products.dim;
    for (const k of [0, 3, index.productRows.length - 1]) {
      const hit = index.products.search(row(index.productVectors, k, dim), 1);
      assert.equal(index.productRows.id(hit.labels[0]!), index.productRows.id(k), `product ${k} finds itself`);
    }
  });

  it('indexes the buyer population beside the products', async () => {
    const index = await openSearchIndex(demo.store, demo.indexVersion);
    assert.equal(index.buyerRows.length, 60);
    assert.equal(index.metadata.buyers.dim > index.metadata.products.dim, true, 'a buyer vector is interests plus age, gender and home');
  });

  it('builds nothing twice: the same model and snapshot reuse the published index', async () => {
    const again = await buildIndex(
      demo.store,
      demo.db,
      { modelVersion: demo.modelVersion, snapshotId: demo.snapshotId, buyers: 60 },
      silentLog,
    );
    assert.equal(again.reused, true);
    assert.equal(again.version, demo.indexVersion);
  });

  it('builds the same index files from the embedding fanned out over shards, one process a shard', async () => {
    const of = 3;
    const request = { modelVersion: demo.modelVersion, snapshotId: demo.snapshotId };
    const embedded = [];
    for (let index = 0; index < of; index++)
      embedded.push(await embedShard(demo.store, { ...request, shard: { index, of }, batchSize: 16 }, silentLog));
    const again = await embedShard(demo.store, { ...request, shard: { index: 1, of } }, silentLog);
    assert.equal(again.reused, true, 'a shard already in the store is reused (a retried pod)');
    // Another buyer count: another version, so this build does not reuse the one built in one process.
    const sharded = await buildIndex(demo.store, demo.db, { ...request, buyers: 61, shards: of }, silentLog);
    assert.equal(sharded.reused, false);
    const one = await openSearchIndex(demo.store, demo.indexVersion);
    const fanned = await openSearchIndex(demo.store, sharded.version);
    assert.deepEqual(
      embedded.map((e) => e.products),
      [0, 1, 2].map((k) => Math.floor(((k + 1) * one.productRows.length) / of) - Math.floor((k * one.productRows.length) / of)),
    );
    assert.deepEqual(
      Array.from(fanned.productRows, (p) => p.id),
      Array.from(one.productRows, (p) => p.id),
      'the shards in order are the snapshot in order',
    );
    assert.equal(fanned.metadata.products.type, one.metadata.products.type);
    assert.equal(fanned.products.ntotal(), one.productRows.length);
    let worst = 0;
    for (let i = 0; i < one.productVectors.length; i++)
      worst = Math.max(worst, Math.abs(one.productVectors[i]! - fanned.productVectors[i]!));
    assert.ok(worst < 1e-4, `the same vectors embedded in shards and in one process (largest difference ${worst})`);
    const dim = fanned.metadata.products.dim;
    for (const k of [0, 3, fanned.productRows.length - 1]) {
      const hit = fanned.products.search(row(fanned.productVectors, k, dim), 1);
      assert.equal(hit.labels[0], k, `product ${k} finds itself`);
    }
    assert.equal(fanned.buyerRows.length, 61);
    assert.equal(fanned.metadata.lexical?.documents, one.productRows.length);

    // A build before every shard is embedded names what is missing.
    await demo.store.delete(`${SHARDS_PREFIX(demo.modelVersion, demo.snapshotId, of)}/2.json`);
    await assert.rejects(
      buildIndex(demo.store, demo.db, { ...request, buyers: 62, shards: of }, silentLog),
      /shard 2\/3 of snapshot .* not embedded/,
    );
  });
});
