/**
 * The listings evaluate searches (components/evaluate/corpus.ts): the whole snapshot under the bound;
 * above it exactly the bound, holding every classified test listing and the validation sample, the
 * rest spread evenly, in snapshot order, the same on every read. On the filesystem store.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { SNAPSHOT_PRODUCTS_KEY, type SnapshotProduct } from '../../components/core/contracts/index.js';
import { readEvaluationCorpus } from '../../components/evaluate/corpus.js';
import { storeBackends } from '../helpers.js';

const listing = (i: number): SnapshotProduct => ({
  id: `p${String(i).padStart(4, '0')}`,
  title: `listing ${i}`,
  text: `listing ${i}`,
  root: 'Home & Garden',
  path: ['Home & Garden'],
  priceMinor: 100 * i,
  town: null,
  county: null,
  latitude: null,
  longitude: null,
  images: [],
});

describe('the evaluation corpus', () => {
  const filesystem = storeBackends.find((b) => b.name === 'filesystem')!;
  let opened: Awaited<ReturnType<typeof filesystem.open>>;
  before(async () => {
    opened = await filesystem.open();
  });
  after(() => opened.dispose());
  // 1,000 listings: every 5th a test listing (200), every 5th + 1 a validation listing (200).
  const products = Array.from({ length: 1000 }, (_, i) => listing(i));
  const test = new Set(products.filter((_, i) => i % 5 === 0).map((p) => p.id));
  const validation = new Set(products.filter((_, i) => i % 5 === 1).map((p) => p.id));
  const put = () => opened.store.put(SNAPSHOT_PRODUCTS_KEY('snap-t'), gzipSync(products.map((p) => `${JSON.stringify(p)}\n`).join('')));

  it('is the whole snapshot under the bound, with an even sample of the test listings classified', async () => {
    await put();
    const corpus = await readEvaluationCorpus(opened.store, 'snap-t', { test, validation }, { listings: 1000, classified: 50 });
    assert.equal(corpus.snapshotListings, 1000);
    assert.deepEqual(
      corpus.listings.map((p) => p.id),
      products.map((p) => p.id),
    );
    assert.equal(corpus.classified.length, 50);
    assert.ok(corpus.classified.every((p) => test.has(p.id)));
    // Evenly spread: every 4th test listing (positions 0, 20, 40, … of the snapshot).
    assert.deepEqual(
      corpus.classified.slice(0, 3).map((p) => p.id),
      ['p0000', 'p0020', 'p0040'],
    );
  });

  it('above the bound: exactly the bound, every classified listing, the validation sample, the rest spread, in order', async () => {
    await put();
    const limits = { listings: 150, classified: 40, validation: 30 };
    const corpus = await readEvaluationCorpus(opened.store, 'snap-t', { test, validation }, limits);
    const ids = corpus.listings.map((p) => p.id);
    assert.equal(ids.length, 150);
    assert.deepEqual(ids, [...ids].sort(), 'snapshot order');
    assert.equal(new Set(ids).size, 150, 'no listing twice');
    const kept = new Set(ids);
    assert.equal(corpus.classified.length, 40);
    assert.ok(
      corpus.classified.every((p) => kept.has(p.id) && test.has(p.id)),
      'classified listings are searched',
    );
    assert.ok(ids.filter((id) => validation.has(id)).length >= 30, 'the validation sample is searched');
    // The other 80 are spread over the whole snapshot, not its first rows.
    const others = corpus.listings.filter((p) => !test.has(p.id) && !validation.has(p.id)).map((p) => p.priceMinor / 100);
    assert.ok(Math.min(...others) < 100 && Math.max(...others) > 900, `others from ${Math.min(...others)} to ${Math.max(...others)}`);
    const again = await readEvaluationCorpus(opened.store, 'snap-t', { test, validation }, limits);
    assert.deepEqual(
      again.listings.map((p) => p.id),
      ids,
      'the same sample on every read',
    );
  });
});
