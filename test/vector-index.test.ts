/** The index component's FAISS choice: exact up to a size, HNSW above it with efSearch tuned to a measured recall. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildVectorIndex, loadVectorIndex, recallAt } from '../components/core/ml/vector-index.js';
import { unitVectors } from './helpers.js';


describe('vector index', () => {
  const dims = 32;
  const vectors = unitVectors(3000, dims, 5);

  it('is exact below the threshold', () => {
    const built = buildVectorIndex(vectors, dims, { exactUpTo: 10_000 });
    assert.deepEqual([built.type, built.recall, built.vectors], ['Flat', 1, 3000]);
    assert.equal(built.index.search(vectors.slice(dims * 7, dims * 8), 1).labels[0], 7);
  });

  it('is HNSW above it, with efSearch raised until the measured recall reaches the target, kept after a round trip', () => {
    const built = buildVectorIndex(vectors, dims, { exactUpTo: 1000, recallTarget: 0.97 });
    assert.equal(built.type, 'HNSW32,Flat');
    assert.ok(built.recall >= 0.97, `recall ${built.recall}`);
    assert.ok((built.efSearch ?? 0) >= 16);
    const reloaded = loadVectorIndex(built.index.toBuffer(), built);
    const exact = buildVectorIndex(vectors, dims, { exactUpTo: 10_000 }).index;
    const queries = Array.from({ length: 50 }, (_, i) => unitVectors(1, dims, 500 + i));
    assert.ok(recallAt(10, reloaded, exact, queries) >= 0.9, 'fresh queries find their neighbours too');
  });

  it('refuses numbers that are not whole vectors', () => {
    assert.throws(() => buildVectorIndex([1, 2, 3], 2), /3 numbers are not whole vectors of 2/);
  });
});
