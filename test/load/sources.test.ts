import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { InputError } from '../../components/core/platform/index.js';
import { IMAGES, normalizeRecord, PRODUCTS } from '../../components/load/raw-tables.js';
import { csvSource, type SourceRecord } from '../../components/load/sources.js';
import { collect, REPO_ROOT, tempDir } from '../helpers.js';

const fixture = (...parts: string[]) => path.join(REPO_ROOT, 'test', 'fixtures', ...parts);

describe('reading the AiCore CSV files', () => {
  it('reads bare CRs inside unquoted fields as text, quoted multi-line fields whole, and counts lines from the file', async () => {
    const records = await collect(csvSource(fixture('export-7col', 'Products.csv'), PRODUCTS).records());
    assert.equal(records.length, 8);
    const ok = records.filter((r): r is Extract<SourceRecord, { ok: true }> => r.ok);
    assert.deepEqual(
      ok.map((r) => [r.record['id'], r.line]),
      [
        ['p1', 2],
        ['p2', 3],
        ['p3', 5],
        ['', 8],
        ['p1', 9],
        ['p6', 10],
      ],
    );
    assert.equal(ok[0]?.record['product_description'], 'Mirror wall art.\rPosted by Nisha\r\rSize 45x45cm');
    assert.equal(ok[1]?.record['product_description'], 'Big "comfy" sofa,\nused but clean');
    assert.equal(ok[2]?.record['price'], '£1,200.00');
    assert.equal(ok[2]?.record['product_description'], 'Unlocked 😀 call 07700 900123');
    assert.equal(ok[5]?.record['product_description'], 'Everything must go\r');
    const refused = records.filter((r) => !r.ok);
    assert.deepEqual(
      refused.map((r) => [r.line, r.ok ? '' : r.reason.split(':')[0]]),
      [
        [6, 'expected 7 fields, found 4'],
        [7, 'CSV syntax'],
      ],
    );
  });

  it('keeps line numbers and the refused line text exact deep into a large file', async () => {
    const tmp = await tempDir('csv-big-');
    try {
      const lines = [',id,product_name,category,product_description,price,location'];
      const bad = new Map<number, string>();
      for (let line = 2; line <= 6000; line++) {
        const n = line - 2;
        let text = `${n},id${n},"Name ${n} | in Town, County | Gumtree",Cat / Sub,desc\r${'x'.repeat(n % 300)},£${n}.00,"Town, County"`;
        if (line % 997 === 0) text = `${n},id${n},"Bad "quote" ${n}",Cat,d,£1,L`;
        if (line % 1499 === 0) text = `${n},id${n},too short`;
        if (line % 997 === 0 || line % 1499 === 0) bad.set(line, text);
        lines.push(text);
      }
      const file = path.join(tmp.dir, 'Products.csv');
      await writeFile(file, `${lines.join('\n')}\n`);
      const records = await collect(csvSource(file, PRODUCTS).records());
      assert.equal(records.length, 5999);
      const refused = records.filter((r) => !r.ok);
      assert.deepEqual(
        refused.map((r) => r.line),
        [...bad.keys()].sort((a, b) => a - b),
      );
      for (const record of refused) assert.equal(record.raw, bad.get(record.line));
      const last = records.at(-1);
      assert.ok(last?.ok);
      assert.equal(last.line, 6000);
      assert.equal(last.record['id'], 'id5998');
    } finally {
      await tmp.remove();
    }
  });

  it('reads the 10-column version with a BOM, CRLF records and an Unnamed: 0 index column', async () => {
    const records = await collect(csvSource(fixture('export-10col', 'Products.csv'), PRODUCTS).records());
    assert.equal(records.length, 2);
    const first = records[0];
    assert.ok(first?.ok);
    assert.equal(first.record['Unnamed: 0'], '0');
    assert.equal(first.record['create_time'], '2022-02-26');
    assert.equal(first.record['seller'], 'alice', 'no CR left on the last field of a CRLF record');
    const normalized = normalizeRecord(PRODUCTS, first.record, 'Products.csv', first.line);
    assert.ok(normalized.ok);
    assert.equal(normalized.row.values['page_id'], '1001');
    assert.deepEqual(normalized.row.extra, { seller: 'alice' }, 'unknown columns are kept, index columns dropped');
  });

  it('names the file and the missing columns when a file is not the expected export', async () => {
    await assert.rejects(collect(csvSource(fixture('export-7col', 'Images.csv'), PRODUCTS).records()), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /Images\.csv: missing column\(s\) product_name, category, product_description, price, location/);
      return true;
    });
    await assert.rejects(collect(csvSource(fixture('nope.csv'), IMAGES).records()), /nope\.csv: file not found/);
  });

  it('normalizes a record: empty text is NULL, ids are trimmed, an unusable id is refused with its reason', () => {
    const base = { id: ' a1 ', product_name: 'x', category: '', product_description: 'd', price: '£1', location: 'L' };
    const ok = normalizeRecord(PRODUCTS, base, 'f', 2);
    assert.ok(ok.ok);
    assert.equal(ok.row.id, 'a1');
    assert.equal(ok.row.values['category'], null);
    const same = normalizeRecord(PRODUCTS, { ...base, '': '17' }, 'other', 99);
    assert.ok(same.ok);
    assert.equal(same.row.content_hash, ok.row.content_hash, 'the hash covers content, not index column, source or line');
    const bad = normalizeRecord(PRODUCTS, { ...base, id: 'a b/c' }, 'f', 2);
    assert.deepEqual(bad, { ok: false, reason: "id 'a b/c' is not 1-200 characters of letters, digits and ._=+@,-" });
  });

  it('reads back whatever a standard CSV writer wrote, for any field text (property)', async () => {
    const tmp = await tempDir('csv-prop-');
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', '£', '😀', ',', '"', '\n', '\r', ' ', '/', '|', '\u00e9'), maxLength: 30 });
    try {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.uuid(), text, text, text), { minLength: 1, maxLength: 12 }), async (rows) => {
          const file = path.join(tmp.dir, `p${run++}.csv`);
          const header = ['', 'id', 'product_name', 'category', 'product_description', 'price', 'location'];
          const body = rows.map(([id, name, description, price], i) => [
            String(i),
            id,
            name,
            'Cat / Sub',
            description,
            price,
            'Town, County',
          ]);
          await writeFile(file, stringify([header, ...body], { record_delimiter: '\n' }));
          const records = await collect(csvSource(file, PRODUCTS).records());
          assert.equal(records.length, rows.length);
          records.forEach((record, i) => {
            assert.ok(record.ok, JSON.stringify(record));
            assert.equal(record.record['id'], rows[i]?.[0]);
            assert.equal(record.record['product_name'], rows[i]?.[1]);
            assert.equal(record.record['product_description'], rows[i]?.[2]);
            assert.equal(record.record['price'], rows[i]?.[3]);
          });
        }),
        { numRuns: 60, seed: 42 },
      );
    } finally {
      await tmp.remove();
    }
  });
});
