/**
 * The search service's product rows in columns (components/core/ml/product-rows.ts): every field of
 * every row comes back as it was read (nulls, absent fields, non-ASCII text, prices that are not
 * 32-bit integers, dates not in toISOString's form), from objects and from products.json cut into
 * batches; ids are found as a Map would find them; a bad row is named by its place in the whole file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { IndexedProduct, ProductRows } from '../../components/core/ml/index.js';
import { seededRandom } from '../../components/core/platform/index.js';

const base: IndexedProduct = {
  id: 'p-0',
  title: 'Oak dining table',
  root: 'Home & Garden',
  priceMinor: 4500,
  town: 'Leeds',
  county: 'West Yorkshire',
  latitude: 53.7965,
  longitude: -1.5478,
  imageKey: 'images/224/p-0.jpg',
  path: ['Home & Garden', 'Furniture', 'Tables'],
  listedAt: '2022-02-26T10:11:12.345Z',
};

/** Rows that exercise every field's odd cases. */
const awkward: IndexedProduct[] = [
  base,
  { ...base, id: 'p-1', town: null, county: null, latitude: null, longitude: null, imageKey: null, listedAt: null },
  { ...base, id: 'p-2', path: undefined, listedAt: undefined },
  { ...base, id: 'p-3', title: 'Café crème brûlée — naïve façade', town: 'Ystradgynlais', county: 'Powys' },
  { ...base, id: 'p-4', title: '日本語のタイトル 🛋️ sofa 👨‍👩‍👧 family', root: 'Ев, мебель', path: ['Ев, мебель', '家具'] },
  { ...base, id: 'p-5', title: 'quotes " and \\ and },{ and ] [ , in text', imageKey: 'no-folder.png' },
  { ...base, id: 'p-6', priceMinor: 12.5, latitude: 0, longitude: -0 },
  { ...base, id: 'p-7', priceMinor: 2 ** 40, imageKey: '' },
  { ...base, id: 'p-8', priceMinor: -3, listedAt: '2022-02-26' },
  { ...base, id: 'p-9', listedAt: 'not a date' },
  { ...base, id: 'ünïcödé-ïd-🦄', title: '', path: [] },
  { ...base, id: 'p-11', title: 'مرحبا بالعالم', town: 'West Yorkshire', county: 'Leeds' },
  { ...base, id: 'p-12', listedAt: '1969-12-31T23:59:59.999Z', latitude: -90, longitude: 180 },
];

/** What zod hands back for a row (absent optional fields stay absent). */
const asParsed = (rows: readonly IndexedProduct[]) => z.array(IndexedProduct).parse(JSON.parse(JSON.stringify(rows)));

function assertSame(rows: ProductRows, expected: readonly IndexedProduct[]): void {
  assert.equal(rows.length, expected.length);
  expected.forEach((row, i) => {
    assert.deepEqual(rows.get(i), row, `row ${i}`);
    assert.equal(rows.id(i), row.id);
    assert.equal(rows.title(i), row.title);
    assert.equal(rows.root(i), row.root);
    assert.equal(rows.priceMinor(i), row.priceMinor);
    assert.equal(rows.town(i), row.town);
    assert.equal(rows.county(i), row.county);
    assert.equal(rows.latitude(i), row.latitude);
    assert.equal(rows.longitude(i), row.longitude);
    assert.equal(rows.imageKey(i), row.imageKey);
    assert.deepEqual(rows.path(i), row.path);
    assert.deepEqual(rows.categoryPath(i), row.path ?? [row.root]);
    assert.equal(rows.listedAt(i), row.listedAt);
    assert.equal(Object.is(rows.listedAtMillis[i], row.listedAt ? Date.parse(row.listedAt) : Number.NaN), true, `listedAt ms of ${i}`);
  });
  assert.deepEqual([...rows], expected);
}

/** Random rows: strings from a mix of ASCII, accented Latin, CJK, emoji and JSON's own punctuation. */
function randomRows(count: number, seed: number): IndexedProduct[] {
  const random = seededRandom(seed);
  const alphabet = [...'abcxyz ,:{}[]"\\/\n\t-éüßøñ日本語家具ЖЯ🛋️👍🏽€£'];
  const text = (max: number) =>
    Array.from({ length: Math.floor(random() * max) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  const roots = Array.from({ length: 5 }, () => text(12));
  return Array.from({ length: count }, (_, i) => {
    const root = roots[Math.floor(random() * roots.length)]!;
    const located = random() < 0.8;
    return {
      id: `${i}-${text(6)}`,
      title: text(60),
      root,
      priceMinor: random() < 0.9 ? Math.floor(random() * 1e7) : random() * 100,
      town: located ? text(10) : null,
      county: located && random() < 0.7 ? text(10) : null,
      latitude: located ? 49 + random() * 10 : null,
      longitude: located ? -8 + random() * 10 : null,
      imageKey: random() < 0.7 ? `images/${64 + Math.floor(random() * 3)}/${text(20)}.jpg` : null,
      ...(random() < 0.9 ? { path: [root, text(8)] } : {}),
      ...(random() < 0.9 ? { listedAt: random() < 0.8 ? new Date(1.6e12 + random() * 1e11).toISOString() : null } : {}),
    };
  });
}

describe('product rows in columns', () => {
  it('gives back every field of every row, from objects and from products.json', () => {
    const expected = asParsed(awkward);
    assertSame(ProductRows.from(expected), expected);
    assertSame(ProductRows.fromJson(Buffer.from(JSON.stringify(awkward))), expected);
    // As the index component writes it, and pretty-printed (whitespace between the elements).
    assertSame(ProductRows.fromJson(Buffer.from(JSON.stringify(awkward, null, 2))), expected);
  });

  it('reads a products.json of many batches the same as JSON.parse, and finds each id as a Map would', () => {
    const rows = randomRows(30_000, 5);
    const json = Buffer.from(JSON.stringify(rows));
    assert.ok(json.length > 2 * (4 << 20), `more than two batches (${json.length} bytes)`);
    const expected = asParsed(rows);
    const columns = ProductRows.fromJson(json);
    assertSame(columns, expected);
    const byId = new Map(expected.map((row, i) => [row.id, i]));
    for (const [id, position] of byId) assert.equal(columns.positionOf(id), position);
    for (const missing of ['', 'nope', `${expected[0]!.id}x`, expected[1]!.id.slice(0, -1)])
      assert.equal(columns.positionOf(missing), undefined);
    // Typed arrays and buffers, far below the objects' ~600 B a listing.
    const perRow = columns.memoryBytes() / rows.length;
    assert.ok(perRow < 250, `${perRow.toFixed(0)} B a row`);
  });

  it('answers an id held twice with its last position, as the Map the service built did', () => {
    const rows = asParsed([base, { ...base, title: 'second' }, { ...base, id: 'other' }]);
    const columns = ProductRows.from(rows);
    assert.equal(columns.positionOf(base.id), 1);
    assert.equal(columns.positionOf('other'), 2);
  });

  it('keeps more than 65,535 distinct towns and paths (wider codes)', () => {
    const rows = asParsed(
      Array.from({ length: 70_000 }, (_, i) => ({ ...base, id: `id-${i}`, town: `town ${i}`, path: [base.root, `leaf ${i}`] })),
    );
    const columns = ProductRows.from(rows);
    for (const i of [0, 1, 65_534, 65_535, 65_536, 69_999]) assert.deepEqual(columns.get(i), rows[i]);
  });

  it('refuses a bad row by its place in the whole file, and text that is not a JSON array as JSON.parse does', () => {
    const rows = randomRows(20_000, 9);
    (rows[17_345] as { priceMinor: unknown }).priceMinor = 'free';
    assert.throws(
      () => ProductRows.fromJson(Buffer.from(JSON.stringify(rows))),
      (error: unknown) => error instanceof z.ZodError && error.issues[0]!.path.join('.') === '17345.priceMinor',
    );
    assert.throws(() => ProductRows.fromJson(Buffer.from('[{"id": "a"},')), SyntaxError);
    assert.throws(() => ProductRows.fromJson(Buffer.from('{"id": "a"}')), z.ZodError);
    assert.throws(() => ProductRows.fromJson(Buffer.from('[1, 2]')), z.ZodError);
    assert.equal(ProductRows.fromJson(Buffer.from(' [ ] ')).length, 0);
    assert.equal(ProductRows.from([]).positionOf('x'), undefined);
  });

  it('refuses a position outside the rows', () => {
    const columns = ProductRows.from(asParsed([base]));
    assert.throws(() => columns.get(1), RangeError);
    assert.throws(() => columns.get(-1), RangeError);
  });
});
