/**
 * evaluate's batched exact search (batchedExactSearch): prefetched answers are faiss's own answers, a
 * query not prefetched is searched alone, and a catalogue smaller than the prefetch depth (the page
 * test's 78 listings against 100) is answered whole instead of making faiss refuse k.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadFaiss } from '../../components/core/ml/index.js';
import { batchedExactSearch } from '../../components/evaluate/score.js';
import { unitVectors } from '../helpers.js';

const DIM = 8;

const unit = (n: number, seed: number) => Float32Array.from(unitVectors(n, DIM, seed));

describe('batchedExactSearch', () => {
  for (const listings of [78, 300]) {
    it(`answers as faiss does, one query at a time, over ${listings} listings`, () => {
      const faiss = loadFaiss();
      const index = new faiss.IndexFlatIP(DIM);
      index.addFloat32(unit(listings, 7));
      const queries = Array.from({ length: 300 }, (_, q) => unit(1, 1000 + q));
      const exact = batchedExactSearch(index, DIM);
      exact.prefetch(queries.slice(0, 280));
      const k = Math.min(100, listings);
      for (const query of queries) {
        const got = exact.dense(query, k);
        const want = index.searchFloat32(query, k);
        assert.equal(got.labels.length, k);
        assert.deepEqual(Array.from(got.labels), Array.from(want.labels));
        Array.from(got.distances).forEach((d, i) => assert.ok(Math.abs(d - want.distances[i]!) < 1e-5));
      }
    });
  }
});
