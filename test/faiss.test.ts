/**
 * faiss-node as this project installs it (built against Debian's faiss by scripts/build-faiss.mjs):
 * exact inner-product search finds each normalised vector first, and an index survives a round trip
 * through a buffer (how indexes travel to and from the artifact store).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { seededRandom } from '../components/core/index.js';

const require = createRequire(import.meta.url);
const faiss = require('faiss-node') as typeof import('faiss-node');

function normalisedVectors(count: number, dims: number, seed: number): number[] {
  const next = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = Array.from({ length: dims }, () => next() - 0.5);
    const norm = Math.hypot(...v);
    out.push(...v.map((x) => x / norm));
  }
  return out;
}

/** Share of the exact top-k found by `index` for each query. */
function recallAt(k: number, index: { search(q: number[], k: number): { labels: number[] } }, exact: { search(q: number[], k: number): { labels: number[] } }, queries: number[][]): number {
  let found = 0;
  for (const query of queries) {
    const truth = new Set(exact.search(query, k).labels);
    found += index.search(query, k).labels.filter((label) => truth.has(label)).length;
  }
  return found / (k * queries.length);
}

describe('faiss-node (built from source against libfaiss)', () => {
  it('finds every vector as its own nearest neighbour by inner product, and round-trips through a buffer', () => {
    const dims = 64;
    const vectors = normalisedVectors(2000, dims, 7);
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
    const vectors = normalisedVectors(4000, dims, 11);
    const exact = new faiss.IndexFlatIP(dims);
    exact.add(vectors);
    const hnsw = faiss.Index.fromFactory(dims, 'HNSW16,Flat', faiss.MetricType.METRIC_INNER_PRODUCT);
    hnsw.add(vectors);
    const queries = Array.from({ length: 100 }, (_, i) => normalisedVectors(1, dims, 1000 + i));
    hnsw.setSearchParameter('efSearch', 8);
    const low = recallAt(10, hnsw, exact, queries);
    hnsw.setSearchParameter('efSearch', 256);
    const high = recallAt(10, hnsw, exact, queries);
    assert.ok(high > low, `recall@10 ${low} at efSearch 8, ${high} at 256`);
    assert.ok(high >= 0.95, `recall@10 at efSearch 256: ${high}`);
    assert.throws(() => hnsw.setSearchParameter('noSuchParameter', 1), /set_index_parameter/);
  });
});
