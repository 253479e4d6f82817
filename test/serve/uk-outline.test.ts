/**
 * The search page's offline basemap: web/uk-outline.json is what generate-outline.ts makes from the
 * world-atlas devDependency (Natural Earth), and it is the UK where the UK is.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ukOutline } from '../../components/serve/generate-outline.js';
import { REPO_ROOT } from '../helpers.js';

describe('the UK outline the search page ships', () => {
  it('is what generate-outline.ts makes from Natural Earth, and holds Great Britain and Northern Ireland', () => {
    const source = createRequire(import.meta.url).resolve('world-atlas/countries-50m.json');
    const made = ukOutline(JSON.parse(readFileSync(source, 'utf8')));
    const shipped = JSON.parse(readFileSync(path.join(REPO_ROOT, 'components/serve/web/uk-outline.json'), 'utf8')) as typeof made;
    assert.deepEqual(shipped, made, 'regenerate it: npx tsx components/serve/generate-outline.ts');
    const uk = shipped.countries.find((country) => country.name === 'United Kingdom');
    assert.ok(uk, 'the United Kingdom is in it');
    const points = uk.rings.flat();
    const lons = points.map(([lon]) => lon);
    const lats = points.map(([, lat]) => lat);
    // Land's End to Lowestoft, the Scilly Isles to Shetland; Northern Ireland reaches past 8° W.
    assert.ok(Math.min(...lats) < 50.1 && Math.max(...lats) > 60.7, `latitudes ${Math.min(...lats)}..${Math.max(...lats)}`);
    assert.ok(Math.min(...lons) < -8 && Math.max(...lons) > 1.7, `longitudes ${Math.min(...lons)}..${Math.max(...lons)}`);
    // Simplified: small enough to send with the page.
    assert.ok(points.length < 2000, `${points.length} points`);
  });
});
