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

  it('searches on a worker thread (searchAsync): the same answers as searchFloat32, many at once, the event loop turning meanwhile', async () => {
    const dims = 64;
    const vectors = Float32Array.from(unitVectors(20_000, dims, 5));
    const index = faiss.Index.fromFactory(dims, 'IVF64,SQ8', faiss.MetricType.METRIC_INNER_PRODUCT);
    index.trainFloat32(vectors);
    index.addFloat32(vectors);
    index.setSearchParameter('nprobe', 8);
    const queries = Array.from({ length: 64 }, (_, i) => vectors.subarray(i * 97 * dims, (i * 97 + 1) * dims));
    const answers = await Promise.all(queries.map((query) => index.searchAsync(query, 10)));
    answers.forEach((answer, i) => {
      const want = index.searchFloat32(queries[i]!, 10);
      assert.deepEqual(answer.labels, want.labels, `labels of query ${i}`);
      assert.deepEqual(answer.distances, want.distances, `distances of query ${i}`);
    });
    // An exhaustive search of 20,000 × 64 floats for 64 queries takes tens of milliseconds. Held on the
    // loop, it would have settled by the first setImmediate callback; on a worker thread it is still running.
    const exact = new faiss.IndexFlatIP(dims);
    exact.addFloat32(vectors);
    let settled = false;
    const search = exact.searchAsync(vectors.subarray(0, 64 * dims), 100).finally(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the loop turned while faiss searched');
    const found = await search;
    assert.equal(found.labels.length, 64 * 100);
    assert.deepEqual(
      Array.from(found.labels.filter((_, i) => i % 100 === 0)),
      Array.from({ length: 64 }, (_, q) => q),
      'each vector finds itself first',
    );
    // Bad arguments throw at the call, before anything runs on another thread (faiss would abort the process on k = 0).
    assert.throws(() => exact.searchAsync(vectors.subarray(0, dims), 0), /at least 1/);
    assert.throws(() => exact.searchAsync(vectors.subarray(0, dims), 20_001), /ntotal/);
    assert.throws(() => exact.searchAsync(vectors.subarray(0, dims - 1), 5), /multiple of 64/);
  });
});
