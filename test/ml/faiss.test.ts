/**
 * faiss-node as this project installs it (built against Debian's faiss by scripts/build-faiss.mjs):
 * exact inner-product search finds each normalised vector first, and an index survives a round trip
 * through a buffer (how indexes travel to and from the artifact store).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { recallAt } from '../../components/core/ml/vector-index.js';
import { unitVectors } from '../helpers.js';

const require = createRequire(import.meta.url);
const faiss = require('faiss-node') as typeof import('faiss-node');

describe('faiss-node (built from source against libfaiss)', () => {
  it('finds every vector as its own nearest neighbour by inner product, and round-trips through a buffer', () => {
    const dims = 64;
    const vectors = unitVectors(2000, dims, 7);
    const index = new faiss.IndexFlatIP(dims);
    index.add(vectors);
    assert.equal(index.ntotal(), 2000);
    for (const id of [0, 999, 1999]) {
      const result = index.search(vectors.slice(id * dims, (id + 1) * dims), 5);
      assert.equal(result.labels[0], id);
      assert.ok(Math.abs((result.distances[0] ?? 0) - 1) < 1e-5, 'cosine of a unit vector with itself');
    }
    const copy = faiss.IndexFlatIP.fromBuffer(index.toBuffer());
    assert.deepEqual(copy.search(vectors.slice(0, dims), 5), index.search(vectors.slice(0, dims), 5));
  });

  it('sets HNSW efSearch through the method the build adds, and recall rises with it', () => {
    const dims = 32;
    const vectors = unitVectors(4000, dims, 11);
    const exact = new faiss.IndexFlatIP(dims);
    exact.add(vectors);
    const hnsw = faiss.Index.fromFactory(dims, 'HNSW16,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
    hnsw.add(vectors);
    const queries = Array.from({ length: 100 }, (_, i) => unitVectors(1, dims, 1000 + i));
    hnsw.setSearchParameter('efSearch', 8);
    const low = recallAt(10, hnsw, exact, queries);
    hnsw.setSearchParameter('efSearch', 256);
    const high = recallAt(10, hnsw, exact, queries);
    assert.ok(high > low, `recall@10 ${low} at efSearch 8, ${high} at 256`);
    assert.ok(high >= 0.95, `recall@10 at efSearch 256: ${high}`);
    assert.throws(() => hnsw.setSearchParameter('noSuchParameter', 1), /set_index_parameter/);
  });
});
