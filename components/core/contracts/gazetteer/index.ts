/**
 * An offline UK gazetteer for Gumtree listing locations ("Wokingham, Berkshire", "Camden, London",
 * "London", "County Antrim"): latitude/longitude, or null with a reason, never a guess.
 *
 * Data: gb-places.json (GeoNames places, written by generate.ts) and regions.json (Gumtree region ->
 * GeoNames council codes, hand-reviewed). The rules and the measurements behind them are in
 * docs/research/gazetteer/FINDINGS.md §4:
 *  1. Split on the last ", " into town and region; the region must be in regions.json.
 *  2. Look the town up by GeoNames name; only if that does not resolve, by alternate name.
 *  3. Keep the places inside the region's councils. A name hit (not an alternate-name hit) may also
 *     lie within 12 km of the region, as Gumtree regions do not follow council boundaries.
 *  4. One place left, or several within 5 km of the most populous one: resolved. Otherwise null.
 *  5. A single token resolves only as a region's own place ("London", "Newport").
 *
 * The build must copy gb-places.json and regions.json next to the compiled index.js: they are read
 * relative to this module, from the source tree under tsx and from dist/ when compiled.
 */
import { distanceKm, normalizeName } from './names.js';
import { readFileSync } from 'node:fs';
import type { PlaceRecord } from './generate.js';

export type LocationReason =
  | 'not_in_gazetteer'
  | 'name_only_outside_county'
  | 'ambiguous_within_county'
  | 'region_only_no_town'
  | 'unknown_county'
  | 'empty';

export type LocationResult =
  | { ok: true; latitude: number; longitude: number; place: string; rule: string }
  | { ok: false; reason: LocationReason; detail: string };

export interface Gazetteer {
  resolve(location: string): LocationResult;
  readonly size: number;
}

/** Measured gap: every correct boundary case was <= 11.9 km away, every wrong namesake >= 16 km. */
const NEAR_REGION_KM = 12;
/** Several in-region hits this close to the most populous one are one town (e.g. GeoNames duplicates). */
const CLUSTER_KM = 5;

interface Place {
  name: string;
  lat: number;
  lon: number;
  /** `<admin1>.<admin2>`, as in regions.json: `ENG.Q2`. */
  code: string;
  population: number;
}

interface Region {
  name: string;
  codes: ReadonlySet<string>;
  /** The gazetteer places inside the region, for the 12 km boundary rule. */
  places: readonly Place[];
}

type Tier = 'name' | 'altname';
type Failure = Extract<LocationResult, { ok: false }>;

/** The keys a town may be listed under: "X City Centre" is X; "St" and "Saint" are the same word. */
function nameVariants(town: string): string[] {
  const keys = [normalizeName(town)];
  const centre = /^(.+) city centre$/.exec(keys[0] ?? '');
  if (centre?.[1]) keys.push(centre[1]);
  for (const key of [...keys]) {
    if (key.startsWith('st ')) keys.push(`saint ${key.slice(3)}`);
    else if (key.startsWith('saint ')) keys.push(`st ${key.slice(6)}`);
  }
  return [...new Set(keys)];
}

const fail = (reason: LocationReason, detail: string): Failure => ({ ok: false, reason, detail });

const found = (place: Place, rule: string): LocationResult => ({
  ok: true,
  latitude: place.lat,
  longitude: place.lon,
  place: place.name,
  rule,
});

/** The one place the hits stand for: the only one, or the most populous of a 5 km cluster. */
function choose(hits: readonly Place[]): { place: Place; cluster: boolean } | undefined {
  const [first, ...rest] = hits;
  if (!first) return undefined;
  if (rest.length === 0) return { place: first, cluster: false };
  const best = hits.reduce((a, b) => (b.population > a.population ? b : a));
  return hits.every((p) => distanceKm(p, best) <= CLUSTER_KM) ? { place: best, cluster: true } : undefined;
}

const describe = (p: Place) => `${p.name} (${p.lat.toFixed(2)}, ${p.lon.toFixed(2)})`;

function addTo(index: Map<string, Place[]>, key: string, place: Place): void {
  const list = index.get(key);
  if (list) list.push(place);
  else index.set(key, [place]);
}

class IndexedGazetteer implements Gazetteer {
  private readonly byName = new Map<string, Place[]>();
  private readonly byAltName = new Map<string, Place[]>();
  private readonly regions = new Map<string, Region>();
  /** A region name per council code, to say in words where out-of-region namesakes are. */
  private readonly codeLabel = new Map<string, string>();
  readonly size: number;

  constructor(records: readonly PlaceRecord[], regionTable: ReadonlyMap<string, readonly string[]>) {
    const places = records.map((r) => {
      const place: Place = { name: r.n, lat: r.lat, lon: r.lon, code: `${r.a1}.${r.a2}`, population: r.p ?? 0 };
      addTo(this.byName, normalizeName(r.n), place);
      for (const alt of r.alt ?? []) addTo(this.byAltName, normalizeName(alt), place);
      return place;
    });
    this.size = places.length;
    for (const [name, codeList] of regionTable) {
      const codes = new Set(codeList);
      const key = normalizeName(name);
      if (this.regions.has(key)) throw new Error(`regions.json: "${name}" repeats another region's name`);
      this.regions.set(key, { name, codes, places: places.filter((p) => codes.has(p.code)) });
    }
    // Label each code with the smallest region that holds it: ENG.Z5 -> Bedfordshire, ENG.GLA -> London.
    const bySize = [...this.regions.values()].sort((a, b) => a.codes.size - b.codes.size);
    for (const region of bySize) for (const code of region.codes) if (!this.codeLabel.has(code)) this.codeLabel.set(code, region.name);
  }

  resolve(location: string): LocationResult {
    const text = location.trim();
    if (!text) return fail('empty', 'the location is empty');
    const cut = text.lastIndexOf(', ');
    if (cut < 0) return this.resolveToken(text);
    const town = text.slice(0, cut).trim();
    const regionName = text.slice(cut + 2).trim();
    if (!town) return this.resolveToken(regionName);
    const region = this.regions.get(normalizeName(regionName));
    if (!region) return fail('unknown_county', `"${regionName}" is not a Gumtree region listed in regions.json`);
    return this.resolveInRegion(town, region);
  }

  /**
   * A location without a comma. Gumtree writes a bare token for a region ("London", "County
   * Antrim"); it resolves only to the region's own place of that name. A bare town name is left null:
   * without a region nothing tells its namesakes apart, nor rules out places outside GB.
   */
  private resolveToken(token: string): LocationResult {
    const region = this.regions.get(normalizeName(token));
    if (!region) return fail('unknown_county', `"${token}" has no region and is not itself a Gumtree region`);
    const own = (this.byName.get(normalizeName(token)) ?? []).filter((p) => region.codes.has(p.code));
    if (own.length === 0) return fail('region_only_no_town', `"${token}" is a region with no place of that name, and no town is given`);
    const chosen = choose(own);
    if (!chosen)
      return fail('ambiguous_within_county', `${token} names ${own.length} places in the region: ${own.map(describe).join(', ')}`);
    return found(chosen.place, 'region_token');
  }

  /** Name tier first; the alternate-name tier only when names give no place in or near the region. */
  private resolveInRegion(town: string, region: Region): LocationResult {
    const keys = nameVariants(town);
    const byName = this.lookUp(this.byName, keys);
    const viaName = byName.length > 0 ? this.matchInRegion(town, byName, region, 'name') : undefined;
    if (viaName && !isOutside(viaName)) return viaName;
    const byAltName = this.lookUp(this.byAltName, keys);
    const viaAlt = byAltName.length > 0 ? this.matchInRegion(town, byAltName, region, 'altname') : undefined;
    if (viaAlt && !isOutside(viaAlt)) return viaAlt;
    return viaName ?? viaAlt ?? fail('not_in_gazetteer', `"${town}" is not a place name in the gazetteer`);
  }

  private matchInRegion(town: string, hits: readonly Place[], region: Region, tier: Tier): LocationResult {
    let inside = hits.filter((p) => region.codes.has(p.code));
    // Only a name hit may sit just outside the region (Codsall, West Midlands is in Staffordshire).
    // Alternate names are looser, so a nearby alternate-name hit is too often another place:
    // "Carlton, Nottinghamshire" would become Carlton le Moorland, Lincolnshire.
    const near = inside.length === 0 && tier === 'name';
    if (near) inside = hits.filter((p) => this.isNearRegion(p, region));
    if (inside.length === 0) {
      const where = [...new Set(hits.map((p) => this.codeLabel.get(p.code) ?? p.code))];
      const list = where.length > 4 ? `${where.slice(0, 4).join(', ')}, ...` : where.join(', ');
      return fail('name_only_outside_county', `${town} is in the gazetteer only outside ${region.name} (${list})`);
    }
    const chosen = choose(inside);
    if (!chosen) {
      const list = inside.map(describe).join(', ');
      return fail(
        'ambiguous_within_county',
        `${town}, ${region.name} matches ${inside.length} places more than ${CLUSTER_KM} km apart: ${list}`,
      );
    }
    if (tier === 'altname') return found(chosen.place, 'altname');
    if (near) return found(chosen.place, 'near_county');
    if (chosen.cluster) return found(chosen.place, 'cluster');
    return found(chosen.place, hits.length > 1 ? 'in_county_disambiguated' : 'in_county_unique');
  }

  private isNearRegion(place: Place, region: Region): boolean {
    return region.places.some((p) => distanceKm(p, place) <= NEAR_REGION_KM);
  }

  private lookUp(index: ReadonlyMap<string, Place[]>, keys: readonly string[]): Place[] {
    return [...new Set(keys.flatMap((key) => index.get(key) ?? []))];
  }
}

const isOutside = (result: LocationResult) => !result.ok && result.reason === 'name_only_outside_county';

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8'));
}

function readPlaces(): PlaceRecord[] {
  const data = readJson('./gb-places.json');
  if (!Array.isArray(data)) throw new Error('gb-places.json: expected an array of places');
  return data as PlaceRecord[];
}

/** regions.json without its `_comment`-style keys; each value must be a list of codes. */
function readRegions(): Map<string, string[]> {
  const data = readJson('./regions.json');
  if (typeof data !== 'object' || data === null) throw new Error('regions.json: expected an object');
  const regions = new Map<string, string[]>();
  for (const [name, codes] of Object.entries(data)) {
    if (name.startsWith('_')) continue;
    if (!Array.isArray(codes) || !codes.every((c) => typeof c === 'string')) {
      throw new Error(`regions.json: "${name}" must be a list of codes`);
    }
    regions.set(name, codes);
  }
  return regions;
}

let loaded: Gazetteer | undefined;

/** Loads gb-places.json and regions.json once (cached); synchronous is fine. */
export function loadGazetteer(): Gazetteer {
  loaded ??= new IndexedGazetteer(readPlaces(), readRegions());
  return loaded;
}
