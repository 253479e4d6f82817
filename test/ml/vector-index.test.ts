/**
 * The index component's FAISS choice: exact up to a size, HNSW above it with efSearch tuned to a measured
 * recall, or by a memory budget; and the same index built from shards read one at a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildVectorIndex,
  buildVectorIndexFromShards,
  estimatedBytes,
  ivfLists,
  loadVectorIndex,
  recallAt,
  type BuiltIndex,
} from '../../components/core/ml/vector-index.js';
import { IndexMetadata } from '../../components/core/ml/index-bundle.js';
import { unitVectors } from '../helpers.js';

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

describe('vector index chosen by a memory budget', () => {
  const dims = 64;
  const count = 4000;
  // Clustered unit vectors (the shape of embeddings: categories), so that quantisation keeps neighbours.
  const centres = unitVectors(40, dims, 9);
  const noise = unitVectors(count, dims, 10);
  const vectors = new Float32Array(count * dims);
  for (let i = 0; i < count; i++) {
    const c = i % 40;
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      vectors[i * dims + d] = centres[c * dims + d]! + 0.6 * noise[i * dims + d]!;
      norm += vectors[i * dims + d]! ** 2;
    }
    for (let d = 0; d < dims; d++) vectors[i * dims + d]! /= Math.sqrt(norm);
  }
  const flatBytes = estimatedBytes('Flat', count, dims);

  it('is Flat while Flat fits the budget', () => {
    const built = buildVectorIndex(vectors, dims, { memoryBudgetBytes: flatBytes + 1000 });
    assert.deepEqual([built.type, built.recall, built.recallTargetMet], ['Flat', 1, true]);
    assert.ok(built.bytes! >= flatBytes && built.bytes! < flatBytes + 1000, `Flat holds ${built.bytes} bytes`);
  });

  it('below it, the largest compressed type that fits, trained on a sample, nprobe raised to the recall target; recorded and restored', () => {
    const budget = Math.floor(flatBytes * 0.4);
    const built = buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, recallTarget: 0.95 });
    assert.match(built.type, /^IVF\d+,SQ8$/);
    assert.ok(built.recall >= 0.95 && built.recallTargetMet, `recall@10 ${built.recall}`);
    assert.ok((built.nprobe ?? 0) >= 1);
    assert.ok(built.bytes! <= budget, `${built.bytes} bytes within the budget of ${budget}`);
    assert.deepEqual(
      built.candidates?.map((c) => [c.type.replace(/\d+/, 'n'), c.recall === null]),
      [['IVFn,SQ8', false]],
      'HNSW-SQ8 (larger than Flat at 64 dimensions) is not a candidate',
    );
    const reloaded = loadVectorIndex(built.index.toBuffer(), built);
    const exact = buildVectorIndex(vectors, dims, { exactUpTo: Infinity }).index;
    const queries = Array.from({ length: 50 }, (_, i) => Array.from(vectors.subarray(i * 37 * dims, (i * 37 + 1) * dims)));
    assert.ok(recallAt(10, reloaded, exact, queries) >= 0.9, 'the reloaded index searches with the recorded nprobe');
  });

  it('with many lists, IVF finds the lists to probe through an HNSW graph over the centroids; tuned, recorded and restored the same', () => {
    const budget = Math.floor(flatBytes * 0.4);
    // 4,000 vectors make 64 lists: the graph from 64 lists on here (4,096 by default, about 10^6 vectors).
    const built = buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, recallTarget: 0.95, hnswQuantizerFrom: 64 });
    assert.match(built.type, /^IVF64_HNSW32,SQ8$/);
    assert.ok(built.recall >= 0.95 && built.recallTargetMet, `recall@10 ${built.recall} at nprobe ${built.nprobe}`);
    assert.ok(built.bytes! <= budget, `${built.bytes} bytes within the budget of ${budget}`);
    assert.equal(ivfLists(built.type), 64);
    assert.ok(estimatedBytes(built.type, count, dims) > estimatedBytes('IVF64,SQ8', count, dims), "the graph's links are counted");
    assert.doesNotThrow(
      () => IndexMetadata.shape.products.parse({ type: built.type, vectors: count, dim: dims, recall: built.recall, k: 10 }),
      'a manifest may name it',
    );
    const reloaded = loadVectorIndex(built.index.toBuffer(), built);
    const queries = Array.from({ length: 50 }, (_, i) => vectors.subarray(i * 37 * dims, (i * 37 + 1) * dims));
    for (const query of queries) assert.deepEqual(reloaded.searchFloat32(query, 10), built.index.searchFloat32(query, 10));
    // Below the threshold, the same budget keeps the exhaustive quantizer.
    assert.match(buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, recallTarget: 0.95 }).type, /^IVF64,SQ8$/);
  });

  it('with less memory, PQ; when no type reaches the target within the budget, the best recall is kept and says so', () => {
    const budget = Math.floor(flatBytes * 0.15);
    const built = buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, recallTarget: 0.999 });
    assert.match(built.type, /^IVF\d+,PQ\d+np$/);
    assert.ok(built.bytes! <= budget);
    assert.equal(built.recallTargetMet, built.recall >= 0.999);
    assert.ok(
      built.candidates!.some((c) => c.type.endsWith('SQ8') && c.recall === null),
      'SQ8, over the budget, was not built',
    );
    assert.throws(() => buildVectorIndex(vectors, dims, { memoryBudgetBytes: 1000 }), /no index type fits a memory budget of 1000 bytes/);
  });

  it('counts a result as near as the exact k-th (within 1e-3) as found: near-identical listings are equals, not misses', () => {
    // 150 listings each posted 20 times, every copy nudged by ~1e-5: the exact top 10 of a query is
    // decided by the nudges, which SQ8 (about 3e-4 of error) cannot see, so the index returns 10 of the
    // 20 copies it cannot tell apart. Strictly by label that is about half of the exact 10.
    const copies = 20;
    const distinct = 150;
    const nudges = unitVectors(distinct * copies, dims, 77);
    const duplicated = new Float32Array(distinct * copies * dims);
    for (let i = 0; i < distinct * copies; i++) {
      let norm = 0;
      for (let d = 0; d < dims; d++) {
        const value = vectors[(i % distinct) * dims + d]! + 1e-5 * nudges[i * dims + d]!;
        duplicated[i * dims + d] = value;
        norm += value * value;
      }
      for (let d = 0; d < dims; d++) duplicated[i * dims + d]! /= Math.sqrt(norm);
    }
    const budget = Math.floor(estimatedBytes('Flat', distinct * copies, dims) * 0.4);
    const built = buildVectorIndex(duplicated, dims, { memoryBudgetBytes: budget, recallTarget: 0.95 });
    assert.match(built.type, /^IVF\d+,SQ8$/);
    assert.ok(built.recallTargetMet && built.recall >= 0.95, `recall@10 ${built.recall} at nprobe ${built.nprobe}`);
    assert.ok(built.labelRecall! < 0.8, `strictly by label ${built.labelRecall}: the copies are told apart by nudges SQ8 cannot see`);
  });

  it("tunes on the caller's queries when given: queries between the catalogue's clusters need more lists probed", () => {
    const budget = Math.floor(flatBytes * 0.4);
    const onListings = buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, recallTarget: 0.95 });
    // What a buyer types lands between categories: the normalised sum of two cluster centres.
    const between = new Float32Array(100 * dims);
    for (let q = 0; q < 100; q++) {
      let norm = 0;
      for (let d = 0; d < dims; d++) {
        between[q * dims + d] = centres[(q % 40) * dims + d]! + centres[((q * 7 + 3) % 40) * dims + d]!;
        norm += between[q * dims + d]! ** 2;
      }
      for (let d = 0; d < dims; d++) between[q * dims + d]! /= Math.sqrt(norm);
    }
    const onQueries = buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, recallTarget: 0.95, queries: between });
    assert.deepEqual([onListings.recallQueries, onQueries.recallQueries], ['listings', 'given']);
    assert.ok(onQueries.recall >= 0.95, `recall@10 on the given queries ${onQueries.recall}`);
    assert.ok(onQueries.nprobe! > onListings.nprobe!, `nprobe ${onQueries.nprobe} on the given queries, ${onListings.nprobe} on listings`);
    assert.throws(
      () => buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget, queries: new Float32Array(dims + 1) }),
      /the recall queries hold 65 numbers, not whole vectors of 64/,
    );
  });

  describe('built from shards, one read at a time', () => {
    // Unequal shards, one of them empty, as an embedding fanned out over a catalogue may leave them.
    const counts = [1300, 0, 900, 1799, 1];
    const starts = counts.map((_, s) => counts.slice(0, s).reduce((a, b) => a + b, 0));
    const sharded = () => {
      const reads: number[] = [];
      let reading = 0;
      let overlapping = 0;
      return {
        reads,
        overlapping: () => overlapping,
        shards: {
          dims,
          counts,
          async read(shard: number) {
            reading += 1;
            if (reading > 1) overlapping += 1;
            reads.push(shard);
            await new Promise((resolve) => setImmediate(resolve));
            reading -= 1;
            // A fresh copy, as a shard read from a store is: nothing else of the collection is in reach.
            return vectors.slice(starts[shard]! * dims, (starts[shard]! + counts[shard]!) * dims);
          },
        },
      };
    };
    const queries = Array.from({ length: 40 }, (_, i) => vectors.slice(i * 97 * dims, (i * 97 + 1) * dims));
    const sameAnswers = (a: BuiltIndex, b: BuiltIndex) => {
      for (const query of queries) assert.deepEqual(a.index.searchFloat32(query, 10).labels, b.index.searchFloat32(query, 10).labels);
    };

    it('IVF under a budget: trained on the same sample across shards, filled shard by shard: the same index, tuned the same', async () => {
      const budget = Math.floor(flatBytes * 0.4);
      const source = sharded();
      const fromShards = await buildVectorIndexFromShards(source.shards, { memoryBudgetBytes: budget });
      const inMemory = buildVectorIndex(vectors, dims, { memoryBudgetBytes: budget });
      assert.deepEqual(
        [fromShards.type, fromShards.vectors, fromShards.nprobe, fromShards.recall, fromShards.bytes],
        [inMemory.type, count, inMemory.nprobe, inMemory.recall, inMemory.bytes],
      );
      sameAnswers(fromShards, inMemory);
      assert.equal(source.overlapping(), 0, 'never two shards read at once');
      assert.ok(!source.reads.includes(1), 'the empty shard is never read');
      assert.ok(
        source.reads.filter((s) => s === 3).length >= 3,
        'each pass (recall sample, exact answers, training sample, filling) reads the shards again rather than keeping them',
      );
    });

    it('Flat, and HNSW above the exact threshold, from shards', async () => {
      const flat = await buildVectorIndexFromShards(sharded().shards, { exactUpTo: 10_000 });
      assert.deepEqual([flat.type, flat.vectors], ['Flat', count]);
      sameAnswers(flat, buildVectorIndex(vectors, dims, { exactUpTo: 10_000 }));
      const hnsw = await buildVectorIndexFromShards(sharded().shards, { exactUpTo: 1000, recallTarget: 0.95 });
      assert.equal(hnsw.type, 'HNSW32,Flat');
      assert.equal(hnsw.index.ntotal(), count);
      assert.ok(hnsw.recall >= 0.95, `recall ${hnsw.recall}`);
    });

    it('refuses a shard that does not hold the vectors it declared', async () => {
      const source = sharded().shards;
      await assert.rejects(
        buildVectorIndexFromShards({ ...source, counts: [1300, 0, 900, 1799, 2] }),
        /shard 4 holds 64 numbers where 2 vectors of 64 were declared/,
      );
    });
  });
});
