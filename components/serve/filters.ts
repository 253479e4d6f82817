/**
 * The marketplace filters of /search and /products/:id/similar: category (a root or a path), price
 * range, a place (near=<lat>,<lon> or town=<name>) with an optional radius. Parsed once per request
 * into a predicate over index positions that every ranking mode applies before it keeps a candidate,
 * so a filter holds on every page. Anything wrong is a 400 naming the parameter.
 *
 * town= is placed with the clean step's gazetteer ("Leeds, West Yorkshire", or a region such as
 * "London"), and, for a bare town name the gazetteer will not guess at, with the places the catalogue's
 * own listings were put at (those came from the same gazetteer).
 */
import { distanceKm } from '../core/platform/index.js';
import { loadGazetteer } from '../core/contracts/index.js';
import { normalizeName } from '../core/contracts/index.js';
import { HttpError } from './http-errors.js';
import type { LoadedVersion } from './loaded.js';
import { categoryKey, type Place } from './search-view.js';

export const SORT_ORDERS = ['relevance', 'price_asc', 'price_desc', 'distance', 'newest'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

/** The filter parameters as the schema has coerced them. */
export interface FilterParams {
  category?: string;
  min_price?: number;
  max_price?: number;
  near?: string;
  town?: string;
  radius_km?: number;
  sort?: SortOrder;
}

export interface Origin {
  lat: number;
  lon: number;
  /** What the place was given as: "near 51.5,-0.12", or the town and where it was placed. */
  label: string;
}

export interface Filters {
  category: { key: string; label: string } | null;
  minPriceMinor: number | null;
  maxPriceMinor: number | null;
  origin: Origin | null;
  radiusKm: number | null;
}

/** Bare town names that stand for places further apart than this are ambiguous. */
const SAME_PLACE_KM = 10;

function parseNear(text: string): Origin {
  const [lat, lon] = text.split(',').map((part) => Number(part.trim()));
  if (lat === undefined || lon === undefined || !Number.isFinite(lat) || !Number.isFinite(lon))
    throw new HttpError(400, `near must be <lat>,<lon> in degrees, not '${text}'`, 'near');
  if (lat < -90 || lat > 90) throw new HttpError(400, `near: latitude ${lat} is outside -90..90`, 'near');
  if (lon < -180 || lon > 180) throw new HttpError(400, `near: longitude ${lon} is outside -180..180`, 'near');
  return { lat, lon, label: `near ${lat},${lon}` };
}

function placeTown(name: string, towns: ReadonlyMap<string, readonly Place[]>): Origin {
  const resolved = loadGazetteer().resolve(name);
  if (resolved.ok) return { lat: resolved.latitude, lon: resolved.longitude, label: `${name} (${resolved.place}, gazetteer)` };
  const places = towns.get(normalizeName(name.split(',')[0] ?? name)) ?? [];
  const [first] = places;
  if (first && places.every((p) => distanceKm(p, first) <= SAME_PLACE_KM))
    return {
      lat: first.lat,
      lon: first.lon,
      label: `${name} (${first.town}${first.county ? `, ${first.county}` : ''}, as listings place it)`,
    };
  if (places.length > 1) {
    const options = places.slice(0, 5).map((p) => `'${p.town}${p.county ? `, ${p.county}` : ''}'`);
    throw new HttpError(400, `town '${name}' names ${places.length} places: say which, e.g. ${options.join(' or ')}`, 'town');
  }
  throw new HttpError(
    400,
    `town '${name}' is not a place the gazetteer or the catalogue knows (${resolved.detail}); give 'Town, County' or near=<lat>,<lon>`,
    'town',
  );
}

export function parseFilters(params: FilterParams, version: LoadedVersion): Filters {
  const { search } = version;
  let category: Filters['category'] = null;
  if (params.category !== undefined) {
    // Levels are written "A / B / C"; a level may hold a slash itself ("Ham/Amateur Radios"), so the
    // spaced separator is tried first, then a bare slash ("home & garden/sofas").
    const splits = [params.category.split(/\s+\/\s+/), params.category.split('/')].map((parts) =>
      parts.map((level) => level.trim()).filter(Boolean),
    );
    const found = splits.map((levels) => categoryKey(levels)).find((key) => search.categories.has(key));
    const key = found ?? '';
    const label = search.categories.get(key);
    if (!label) {
      const roots = [...search.categories.entries()].filter(([k]) => !k.includes(' / ')).map(([, v]) => `'${v}'`);
      throw new HttpError(
        400,
        `category '${params.category}' is not a category of index ${version.indexVersion}; give a root (${roots.join(', ')}) or a path such as 'Home & Garden / Dining, Living Room Furniture'`,
        'category',
      );
    }
    category = { key, label };
  }
  const minPriceMinor = params.min_price === undefined ? null : Math.round(params.min_price * 100);
  const maxPriceMinor = params.max_price === undefined ? null : Math.round(params.max_price * 100);
  if (minPriceMinor !== null && maxPriceMinor !== null && minPriceMinor > maxPriceMinor)
    throw new HttpError(400, `max_price ${params.max_price} is below min_price ${params.min_price}`, 'max_price');
  if (params.near !== undefined && params.town !== undefined) throw new HttpError(400, 'give near or town, not both', 'town');
  const origin =
    params.near !== undefined ? parseNear(params.near) : params.town !== undefined ? placeTown(params.town, search.towns) : null;
  if (params.radius_km !== undefined && !origin)
    throw new HttpError(400, 'radius_km needs a place: near=<lat>,<lon> or town=<name>', 'radius_km');
  if (params.sort === 'distance' && !origin)
    throw new HttpError(400, 'sort=distance needs a place: near=<lat>,<lon> or town=<name>', 'sort');
  return { category, minPriceMinor, maxPriceMinor, origin, radiusKm: params.radius_km ?? null };
}

export const anyFilter = (filters: Filters): boolean =>
  filters.category !== null || filters.minPriceMinor !== null || filters.maxPriceMinor !== null || filters.radiusKm !== null;

/** Distance from the origin to a listing, or null when either has no place. */
export function listingDistance(version: LoadedVersion, origin: Origin | null, doc: number): number | null {
  if (!origin) return null;
  const rows = version.index.productRows;
  const lat = rows.latitude(doc);
  const lon = rows.longitude(doc);
  if (lat === null || lon === null) return null;
  return distanceKm(origin, { lat, lon });
}

/** The filters as a predicate over index positions; undefined when there are none (the fast path). */
export function filterPredicate(filters: Filters, version: LoadedVersion): ((doc: number) => boolean) | undefined {
  if (!anyFilter(filters)) return undefined;
  const rows = version.index.productRows;
  const keysOf = version.search.categoryKeysOf;
  const { category, minPriceMinor, maxPriceMinor, origin, radiusKm } = filters;
  const depth = category ? category.key.split(' / ').length - 1 : 0;
  return (doc) => {
    if (category && keysOf(doc)[depth] !== category.key) return false;
    const price = rows.priceMinor(doc);
    if (minPriceMinor !== null && price < minPriceMinor) return false;
    if (maxPriceMinor !== null && price > maxPriceMinor) return false;
    if (radiusKm !== null) {
      // A listing without a place cannot be said to be within the radius.
      const km = listingDistance(version, origin, doc);
      if (km === null || km > radiusKm) return false;
    }
    return true;
  };
}

/** The filters in words, for the note on an empty answer. */
export function describeFilters(filters: Filters): string[] {
  const out: string[] = [];
  if (filters.category) out.push(`category '${filters.category.label}'`);
  if (filters.minPriceMinor !== null) out.push(`price ≥ £${(filters.minPriceMinor / 100).toFixed(2)}`);
  if (filters.maxPriceMinor !== null) out.push(`price ≤ £${(filters.maxPriceMinor / 100).toFixed(2)}`);
  if (filters.radiusKm !== null && filters.origin) out.push(`within ${filters.radiusKm} km of ${filters.origin.label}`);
  return out;
}
