/** The clean step's field rules, one by one, and a property: no input crashes them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { priceFences } from '../../components/clean/outliers.js';
import { topTerms } from '../../components/clean/report.js';
import { cleanText, parseCategory, parsePrice, parseTime, splitLocation, splitTitle } from '../../components/clean/parse.js';

describe('prices', () => {
  it('reads the forms the exports have, to whole pence', () => {
    assert.deepEqual(parsePrice('£1,200.00'), { ok: true, value: { minor: 120000, currency: 'GBP' } });
    assert.deepEqual(parsePrice('£5.00'), { ok: true, value: { minor: 500, currency: 'GBP' } });
    assert.deepEqual(parsePrice('1200'), { ok: true, value: { minor: 120000, currency: 'GBP' } });
    assert.deepEqual(parsePrice(' £ 3.5 '), { ok: true, value: { minor: 350, currency: 'GBP' } });
    assert.deepEqual(parsePrice('€12'), { ok: true, value: { minor: 1200, currency: 'EUR' } });
    assert.deepEqual(parsePrice('£10,000,000.00'), { ok: true, value: { minor: 1_000_000_000, currency: 'GBP' } });
  });
  it('refuses blanks, zero, negatives and text, each with its rule', () => {
    const rule = (text: string | null) => {
      const parsed = parsePrice(text);
      return parsed.ok ? 'ok' : parsed.rule;
    };
    assert.equal(rule(''), 'price_missing');
    assert.equal(rule(null), 'price_missing');
    assert.equal(rule('£0.00'), 'price_zero');
    assert.equal(rule('-£5'), 'price_negative');
    assert.equal(rule('£-5'), 'price_negative');
    assert.equal(rule('POA'), 'price_unreadable');
    assert.equal(rule('£1,20.00'), 'price_unreadable', 'misplaced thousands separator');
    assert.equal(rule('£99999999999999999999'), 'price_unreadable');
  });
});

describe('categories, titles, locations, text', () => {
  it('splits a category path into its root and levels', () => {
    assert.deepEqual(parseCategory('Home & Garden / Dining, Living Room Furniture / Mirrors, Clocks & Ornaments'), {
      ok: true,
      value: { root: 'Home & Garden', path: ['Home & Garden', 'Dining, Living Room Furniture', 'Mirrors, Clocks & Ornaments'] },
    });
    assert.equal(parseCategory('  ').ok, false);
  });
  it('takes the Gumtree tail off a title and keeps its location', () => {
    assert.deepEqual(splitTitle('Mirror wall art | in Wokingham, Berkshire | Gumtree'), {
      ok: true,
      value: { title: 'Mirror wall art', tailLocation: 'Wokingham, Berkshire' },
    });
    assert.deepEqual(splitTitle('Fish &amp; chips fryer'), { ok: true, value: { title: 'Fish & chips fryer', tailLocation: null } });
    assert.equal(splitTitle(' | in Leeds, West Yorkshire | Gumtree').ok, false);
  });
  it('splits a location on its last comma', () => {
    assert.deepEqual(splitLocation('Wokingham, Berkshire'), { town: 'Wokingham', county: 'Berkshire' });
    assert.deepEqual(splitLocation('Stratford-upon-Avon, Warwickshire'), { town: 'Stratford-upon-Avon', county: 'Warwickshire' });
    assert.deepEqual(splitLocation('London'), { town: 'London', county: null });
    assert.deepEqual(splitLocation(''), { town: null, county: null });
  });
  it('cleans text for the model: entities, emoji, phones, e-mails, repeated punctuation, site boilerplate', () => {
    assert.equal(
      cleanText(
        'Great sofa!!!! 😀 Call 07700 900123 or mail a.b@example.co.uk &amp; collect.\rPosted by Nisha in Sofas in Leeds. 25 February 2022',
      ),
      'Great sofa! Call <phone> or mail <email> & collect.',
    );
    assert.equal(cleanText('Ring (0118) 496 0000 or +44 7700 900123.....'), 'Ring <phone> or <phone>.');
    assert.equal(cleanText('Size 45x45cm, 2 x 1.5m'), 'Size 45x45cm, 2 x 1.5m', 'measurements are not phone numbers');
    for (const boilerplate of [
      'Posted by Ann in Dining, Living Room Furniture in Leeds. 25. February 2022',
      'Posted by Ann in Mobile Phones in Leeds. February 25, 2022',
      'Posted by Ann in Sofas, Armchairs in Leeds.',
    ]) {
      assert.equal(cleanText(`Nice chair. ${boilerplate} Collect only`), 'Nice chair. Collect only', boilerplate);
    }
  });
  it('reads times, and leaves unreadable ones out', () => {
    assert.equal(parseTime('2022-02-26'), '2022-02-26T00:00:00.000Z');
    assert.equal(parseTime('yesterday'), null);
    assert.equal(parseTime(null), null);
  });
});

describe('price outliers', () => {
  it('sets per-category fences on log prices either side of the typical, and falls back for small categories', () => {
    const typical = Array.from({ length: 200 }, (_, i) => 1000 + i * 50); // £10 to £110
    const fences = priceFences(
      new Map([
        ['Appliances', typical],
        ['Tiny', [100, 200]],
      ]),
    );
    const appliances = fences.get('Appliances')!;
    assert.ok(appliances.maxMinor > 110_00 && appliances.maxMinor < 1_000_00, `upper fence ${appliances.maxMinor}`);
    assert.ok(appliances.minMinor < 10_00 && appliances.minMinor > 50, `lower fence ${appliances.minMinor}`);
    assert.equal(fences.get('Tiny'), fences.get('*'), 'too few prices: the fence of all');
  });
});

describe('top terms of the report', () => {
  it('counts listings per word, leaves common words out, breaks ties alphabetically', () => {
    assert.deepEqual(
      topTerms(['Oak desk, oak chair', 'Oak table and chair', 'the lamp'], 3),
      [
        { term: 'oak', count: 2 },
        { term: 'chair', count: 2 },
        { term: 'desk', count: 1 },
      ].sort((a, b) => b.count - a.count || (a.term < b.term ? -1 : 1)),
    );
  });
});

describe('no input crashes a rule (property)', () => {
  it('every rule returns a value or a refusal for any text', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ unit: 'binary', maxLength: 300 })), (text) => {
        const price = parsePrice(text);
        assert.ok(price.ok ? Number.isSafeInteger(price.value.minor) && price.value.minor > 0 : price.rule.startsWith('price_'));
        const category = parseCategory(text);
        assert.ok(category.ok ? category.value.root.length > 0 : category.rule === 'category_missing');
        splitTitle(text);
        splitLocation(text);
        assert.equal(typeof cleanText(text ?? ''), 'string');
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});

describe('the demo catalogue', () => {
  it('is generated byte for byte the same from the same seed', async () => {
    const { generateDemoExport } = await import('../../components/load/demo.js');
    const { tempDir } = await import('../helpers.js');
    const { readFile, readdir } = await import('node:fs/promises');
    const path = await import('node:path');
    const tmp = await tempDir('demo-');
    try {
      const counts = await Promise.all(['a', 'b'].map((name) => generateDemoExport(path.join(tmp.dir, name), { perCategory: 2 })));
      assert.deepEqual(counts[0], counts[1]);
      assert.equal(counts[0]?.products, 26);
      for (const file of ['Products.csv', 'Images.csv', ...(await readdir(path.join(tmp.dir, 'a', 'images'))).map((f) => `images/${f}`)]) {
        assert.deepEqual(await readFile(path.join(tmp.dir, 'a', file)), await readFile(path.join(tmp.dir, 'b', file)), file);
      }
      assert.match(await readFile(path.join(tmp.dir, 'a', 'Products.csv'), 'utf8'), /\[synthetic demo listing\]/);
    } finally {
      await tmp.remove();
    }
  });
});
