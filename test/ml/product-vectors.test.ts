/**
 * Product vectors as int8 codes with a scale each (components/core/ml/product-vectors.ts): the
 * cosines the hybrid ranking reads stay within a bound of float32's, a decoded vector is the stored one
 * to within half a code step, and a quarter of the memory.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Int8Vectors, vectorAt } from '../../components/core/ml/index.js';
import { unitVectors } from '../helpers.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let sum = 0;
  for (let j = 0; j < a.length; j++) sum += a[j]! * b[j]!;
  return sum;
};

describe('int8 product vectors', () => {
  it('gives cosines within 0.01 of float32 (about 0.001 typically) at 256 dimensions, in a quarter of the memory', () => {
    const dim = 256;
    const count = 2000;
    const floats = Float32Array.from(unitVectors(count, dim, 3));
    const codes = Int8Vectors.quantise(floats, dim);
    assert.equal(codes.length, floats.length);
    assert.equal(codes.count, count);
    assert.equal(codes.byteLength, count * (dim + 4));
    const queries = Array.from({ length: 20 }, (_, q) => Float32Array.from(unitVectors(1, dim, 100 + q)));
    let worst = 0;
    let total = 0;
    for (const query of queries) {
      for (let doc = 0; doc < count; doc++) {
        const error = Math.abs(codes.dot(query, doc) - dot(query, vectorAt(floats, doc, dim)));
        worst = Math.max(worst, error);
        total += error;
      }
    }
    const mean = total / (queries.length * count);
    assert.ok(worst < 0.01, `largest cosine error ${worst}`);
    assert.ok(mean < 0.002, `mean cosine error ${mean}`);
    // A vector's cosine with itself, decoded, is still 1 to within the same bound.
    for (const doc of [0, 1, count - 1]) {
      const decoded = vectorAt(codes, doc, dim);
      const original = vectorAt(floats, doc, dim);
      const step = Math.max(...original.map(Math.abs)) / 127;
      assert.ok(
        decoded.every((v, j) => Math.abs(v - original[j]!) <= step / 2 + 1e-7),
        'within half a step',
      );
      assert.ok(Math.abs(codes.dot(original, doc) - 1) < 0.01);
    }
  });

  it('keeps a zero vector zero and refuses floats that are not whole vectors', () => {
    const codes = Int8Vectors.quantise(new Float32Array([0, 0, 0, 1, -0.5, 0.25]), 3);
    assert.deepEqual([...codes.vector(0)], [0, 0, 0]);
    assert.deepEqual(
      [...codes.vector(1)],
      [1, -0.5, 0.25].map((v) => Math.fround(Math.round(v / Math.fround(1 / 127)) * Math.fround(1 / 127))),
    );
    assert.equal(codes.dot(new Float32Array([1, 1, 1]), 0), 0);
    assert.throws(() => Int8Vectors.quantise(new Float32Array(5), 2), /not whole vectors/);
  });
});
