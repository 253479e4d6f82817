/**
 * products.json written a batch at a time (components/index/json-bytes.ts) is byte for byte what
 * JSON.stringify of the whole array gives, whatever the batch size and the values (nulls, undefined,
 * non-ASCII, JSON punctuation inside strings), including an empty array and one item.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonArrayBytes } from '../../components/index/json-bytes.js';

const rows = Array.from({ length: 1001 }, (_, k) => ({
  id: `p-${k}`,
  title: k % 7 === 0 ? `“Quoted” , [bracket] ] \\ back\nslash é 😀 ${k}` : `title ${k}`,
  priceMinor: k * 100 + 0.5 * (k % 2),
  town: k % 3 === 0 ? null : 'Leeds',
  listedAt: k % 5 === 0 ? undefined : '2026-12-05T00:00:00.000Z',
  path: ['For Sale', 'Home & Garden', `sub ${k % 4}`],
}));

describe('jsonArrayBytes', () => {
  it('gives the bytes of JSON.stringify of the whole array, for any batch size', () => {
    const expected = Buffer.from(JSON.stringify(rows));
    for (const batch of [1, 2, 3, 10, 999, 1000, 1001, 5000]) assert.deepEqual(jsonArrayBytes(rows, batch), expected, `batch ${batch}`);
    assert.deepEqual(JSON.parse(jsonArrayBytes(rows, 7).toString('utf8')), JSON.parse(JSON.stringify(rows)));
  });

  it('writes an empty array and a single item as JSON.stringify does', () => {
    assert.equal(jsonArrayBytes([], 1).toString('utf8'), '[]');
    assert.equal(jsonArrayBytes([{ a: 1 }], 1).toString('utf8'), '[{"a":1}]');
    assert.equal(jsonArrayBytes([null, undefined, 'x'], 1).toString('utf8'), JSON.stringify([null, undefined, 'x']));
  });
});
