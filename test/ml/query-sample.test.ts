/**
 * The even sample that bounds the offline queries (components/core/ml/query-sample.ts): all items
 * when there are few, else exactly `max` of them, in order, spread over the whole list, the same every time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evenSample, MAX_QUERY_LISTINGS } from '../../components/core/ml/query-sample.js';

describe('evenSample', () => {
  it('keeps every item up to the bound (the real export is below it)', () => {
    const items = Array.from({ length: MAX_QUERY_LISTINGS }, (_, k) => k);
    assert.deepEqual(evenSample(items), items);
    assert.deepEqual(evenSample([3, 1, 2], 5), [3, 1, 2]);
  });

  it('keeps max items, in order, from the start to the end of the list, the same every time', () => {
    const items = Array.from({ length: 100_003 }, (_, k) => k * 2);
    const sample = evenSample(items, 1000);
    assert.equal(sample.length, 1000);
    assert.equal(new Set(sample).size, 1000);
    for (let i = 1; i < sample.length; i++) assert.ok(sample[i]! > sample[i - 1]!);
    assert.equal(sample[0], 0);
    assert.ok(sample.at(-1)! > items.at(-1)! * 0.99, 'the sample reaches the end of the list');
    assert.deepEqual(evenSample(items, 1000), sample);
  });
});
