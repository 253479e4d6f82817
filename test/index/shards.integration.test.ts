/**
 * The embedding's shards in the artifact store, on both stores (Ceph's S3 gateway and a folder): written
 * whole, read back checked, the product index built from them one shard at a time equal to the one built
 * from the concatenation; a missing, foreign or corrupted shard refused by name. (The shards as the model
 * embeds them, and the index published from them: test/index/build.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../components/core/platform/index.js';
import { CorruptArtifactError } from '../../components/core/contracts/index.js';
import { buildVectorIndex, buildVectorIndexFromShards } from '../../components/core/ml/index.js';
import { openShards, parseShardCount, SHARDS_PREFIX, shardSlice, writeShard } from '../../components/index/embed.js';
import { storeBackends, unitVectors } from '../helpers.js';

const DIMS = 16;
const MODEL = 'm-test';
const SNAPSHOT = 'snap-test';

describe('shard arithmetic', () => {
  it('slices a snapshot into contiguous shards differing by at most one product, in order, covering it once', () => {
    for (const [total, of] of [
      [10, 3],
      [2, 5],
      [1000, 7],
      [1, 1],
    ] as const) {
      const slices = Array.from({ length: of }, (_, index) => shardSlice(total, { index, of }));
      assert.equal(slices[0]!.start, 0);
      assert.equal(slices.at(-1)!.end, total);
      for (let k = 1; k < of; k++) assert.equal(slices[k]!.start, slices[k - 1]!.end);
      const sizes = slices.map((s) => s.end - s.start);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${total} in ${of}: ${sizes}`);
    }
  });

  it('takes the number of shards as N or as the pipeline’s list of every k/N', () => {
    assert.equal(parseShardCount('3'), 3);
    assert.equal(parseShardCount('["1/2","0/2"]'), 2);
    assert.throws(() => parseShardCount('["0/2"]'), /every shard 0\/N … N-1\/N once/);
    assert.throws(() => parseShardCount('["0/2","1/3"]'), /every shard/);
    assert.throws(() => parseShardCount('0'), /at least 1/);
    assert.throws(() => parseShardCount('two'), /neither a number of shards nor a JSON list/);
  });
});

for (const backend of storeBackends) {
  describe(`embedding shards in the ${backend.name} store`, () => {
    const total = 700;
    const vectors = Float32Array.from(unitVectors(total, DIMS, 21));
    const ids = Array.from({ length: total }, (_, i) => `p${i}`);

    async function written(of: number) {
      const opened = await backend.open();
      for (let index = 0; index < of; index++) {
        const { start, end } = shardSlice(total, { index, of });
        await writeShard(opened.store, {
          modelVersion: MODEL,
          snapshotId: SNAPSHOT,
          shard: { index, of },
          first: start,
          ids: ids.slice(start, end),
          vectors: vectors.slice(start * DIMS, end * DIMS),
          dim: DIMS,
          seconds: 1,
        });
      }
      return opened;
    }

    it('reads back every shard checked, in order, and builds the index the concatenation builds', async () => {
      const { store, dispose } = await written(3);
      try {
        const shards = await openShards(store, MODEL, SNAPSHOT, 3);
        assert.deepEqual(shards.counts, [233, 233, 234]);
        assert.deepEqual(
          shards.files.flatMap((f) => f.ids),
          ids,
        );
        const back = new Float32Array(total * DIMS);
        for (let k = 0, at = 0; k < 3; at += shards.counts[k]! * DIMS, k++) back.set(await shards.read(k), at);
        assert.deepEqual(back, vectors);

        const budget = Math.floor(total * DIMS * 4 * 0.6);
        const fromShards = await buildVectorIndexFromShards(shards, { memoryBudgetBytes: budget, recallTarget: 0.9 });
        const inMemory = buildVectorIndex(vectors, DIMS, { memoryBudgetBytes: budget, recallTarget: 0.9 });
        assert.deepEqual([fromShards.type, fromShards.nprobe, fromShards.vectors], [inMemory.type, inMemory.nprobe, total]);
        for (let q = 0; q < 20; q++) {
          const query = vectors.slice(q * 31 * DIMS, (q * 31 + 1) * DIMS);
          assert.deepEqual(fromShards.index.searchFloat32(query, 5).labels, inMemory.index.searchFloat32(query, 5).labels);
        }
      } finally {
        await dispose();
      }
    });

    it('names the shards not embedded yet, and refuses a shard whose vectors are not the ones it describes', async () => {
      const { store, dispose } = await written(3);
      try {
        await assert.rejects(openShards(store, MODEL, SNAPSHOT, 4), (error: Error) => {
          assert.ok(error instanceof InputError);
          assert.match(error.message, /shards 0\/4, 1\/4, 2\/4, 3\/4 of snapshot snap-test with model m-test not embedded/);
          return true;
        });
        await store.delete(`${SHARDS_PREFIX(MODEL, SNAPSHOT, 3)}/1.json`);
        await assert.rejects(openShards(store, MODEL, SNAPSHOT, 3), /shard 1\/3 of snapshot snap-test/);

        const { store: other, dispose: disposeOther } = await written(2);
        try {
          const key = `${SHARDS_PREFIX(MODEL, SNAPSHOT, 2)}/1.f32`;
          const body = await other.get(key);
          body[5] = body[5]! ^ 0xff;
          await other.put(key, body);
          const shards = await openShards(other, MODEL, SNAPSHOT, 2);
          await shards.read(0);
          await assert.rejects(
            shards.read(1),
            (error: Error) => error instanceof CorruptArtifactError && /size or sha256/.test(error.message),
          );
        } finally {
          await disposeOther();
        }
      } finally {
        await dispose();
      }
    });
  });
}
