/**
 * The index component on a trained demo model: every product embedded and indexed, a product found
 * first from its own vector, the buyer population indexed beside it, the lexical index and the
 * fusion weights under the same manifest, and a second build of the same model and snapshot reused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openSearchIndex, row } from '../../components/core/ml/index.js';
import { buildIndex } from '../../components/index/build.js';
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
      assert.equal(index.productRows[hit.labels[0]!]!.id, index.productRows[k]!.id, `product ${k} finds itself`);
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
});
