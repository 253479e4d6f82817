import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generateGazetteerJson, OUTPUT_FILE } from '../../components/core/contracts/gazetteer/generate.js';
import { loadGazetteer, type LocationReason, type LocationResult } from '../../components/core/contracts/gazetteer/index.js';
import { PRODUCTS } from '../../components/load/raw-tables.js';
import { csvSource } from '../../components/load/sources.js';
import { REAL_EXPORT_SAMPLE } from '../helpers.js';

const gazetteer = loadGazetteer();

function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const h =
    Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

function resolved(location: string): Extract<LocationResult, { ok: true }> {
  const result = gazetteer.resolve(location);
  assert.ok(result.ok, `${location} should resolve, got ${JSON.stringify(result)}`);
  return result;
}

function unresolved(location: string, reason: LocationReason): string {
  const result = gazetteer.resolve(location);
  assert.ok(!result.ok, `${location} should not resolve, got ${JSON.stringify(result)}`);
  assert.equal(result.reason, reason, result.detail);
  assert.ok(result.detail.length > 0);
  return result.detail;
}

const near = (r: { latitude: number; longitude: number }, lat: number, lon: number) =>
  distanceKm({ lat: r.latitude, lon: r.longitude }, { lat, lon });

describe('UK gazetteer: known answers (docs/research/gazetteer/FINDINGS.md §6)', () => {
  it('loads the generated places', () => {
    assert.ok(gazetteer.size > 5000, `${gazetteer.size} places`);
    assert.equal(loadGazetteer(), gazetteer, 'cached');
  });

  it('resolves a town in its county', () => {
    const r = resolved('Wokingham, Berkshire');
    assert.equal(r.place, 'Wokingham');
    assert.ok(near(r, 51.41, -0.84) < 3);
    assert.equal(r.rule, 'in_county_unique');
  });

  it('uses alternate names only when names do not resolve', () => {
    const camden = resolved('Camden, London');
    assert.equal(camden.place, 'Camden Town');
    assert.equal(camden.rule, 'altname');
    const newcastle = resolved('Newcastle, Tyne and Wear');
    assert.equal(newcastle.place, 'Newcastle upon Tyne', 'not Newcastle, County Down');
    assert.ok(Math.abs(newcastle.latitude - 54.97) < 0.05);
  });

  it('tells namesakes apart by the region', () => {
    const r = resolved('Whitchurch, Cardiff');
    assert.ok(near(r, 51.51, -3.22) < 5, `the Cardiff Whitchurch, not Shropshire's: ${JSON.stringify(r)}`);
    assert.equal(r.rule, 'in_county_disambiguated');
    const clapham = unresolved('Clapham, London', 'name_only_outside_county');
    assert.match(clapham, /Clapham is in the gazetteer only outside London \(Bedfordshire\)/);
  });

  it('accepts a name hit just outside the region, but not an alternate-name hit', () => {
    const codsall = resolved('Codsall, West Midlands');
    assert.equal(codsall.rule, 'near_county');
    assert.ok(near(codsall, 52.63, -2.2) < 3);
    const carlton = gazetteer.resolve('Carlton, Nottinghamshire');
    assert.ok(!carlton.ok || carlton.place !== 'Carlton le Moorland');
    assert.equal(carlton.ok ? carlton.rule : carlton.reason, 'name_only_outside_county');
  });

  it('leaves ambiguous, unknown and region-only locations null', () => {
    assert.match(unresolved('Hayes, London', 'ambiguous_within_county'), /2 places/);
    unresolved('East London, London', 'not_in_gazetteer');
    unresolved('County Antrim', 'region_only_no_town');
    unresolved('Foo, Narnia', 'unknown_county');
    unresolved('', 'empty');
    unresolved('   ', 'empty');
    unresolved('Ramsey', 'unknown_county'); // a bare town: could be a namesake, even the Isle of Man's
  });

  it("resolves a bare region token to the region's own place", () => {
    const london = resolved('London');
    assert.equal(london.rule, 'region_token');
    assert.ok(near(london, 51.51, -0.13) < 3);
    const newport = resolved('Newport');
    assert.ok(near(newport, 51.59, -3.0) < 3, 'Newport, Wales (the Gumtree region), not one of the 5 other GB Newports');
  });

  it('normalises case, punctuation, "City Centre" and St/Saint', () => {
    assert.equal(resolved('wokingham, berkshire').place, 'Wokingham');
    assert.equal(resolved('Leeds City Centre, West Yorkshire').place, 'Leeds');
    assert.equal(resolved('Saint Albans, Hertfordshire').place, 'St Albans');
    unresolved('Tyne & Wear', 'region_only_no_town');
  });
});

describe('UK gazetteer: generated data', () => {
  it('regenerates gb-places.json byte for byte from the pinned packages', () => {
    const first = generateGazetteerJson();
    assert.equal(generateGazetteerJson(), first, 'two runs give the same bytes');
    assert.equal(
      first,
      readFileSync(OUTPUT_FILE, 'utf8'),
      'gb-places.json is up to date: run components/core/contracts/gazetteer/generate.ts',
    );
  });

  it("resolves at least 75% of the real export's rows (the committed sample), and gives a reason for every other row", async (t) => {
    const counts = new Map<string, number>();
    for await (const record of csvSource(path.join(REAL_EXPORT_SAMPLE, 'Products.csv'), PRODUCTS).records()) {
      assert.ok(record.ok, `line ${record.line}: ${record.ok ? '' : record.reason}`);
      const location = record.record['location'] ?? '';
      counts.set(location, (counts.get(location) ?? 0) + 1);
    }
    let rows = 0;
    let okRows = 0;
    let okLocations = 0;
    const reasons = new Map<string, number>();
    for (const [location, n] of counts) {
      const result = gazetteer.resolve(location);
      rows += n;
      if (result.ok) {
        okRows += n;
        okLocations += 1;
        assert.ok(result.latitude > 49.8 && result.latitude < 60.9 && result.longitude > -8.7 && result.longitude < 1.8, location);
      } else {
        assert.ok(result.reason && result.detail, `${location}: no reason`);
        reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + n);
      }
    }
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;
    t.diagnostic(
      `resolved ${okRows}/${rows} rows (${pct(okRows, rows)}), ${okLocations}/${counts.size} distinct locations (${pct(okLocations, counts.size)})`,
    );
    t.diagnostic(`unresolved rows by reason: ${JSON.stringify(Object.fromEntries(reasons))}`);
    assert.equal(rows, 645, 'every row of the sample read');
    assert.ok(okRows / rows >= 0.75, `${pct(okRows, rows)} of rows resolved`);
  });
});
