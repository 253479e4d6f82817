/**
 * What /search and /products/:id/similar share around a ranking: the page's start (offset= or a
 * cursor, never both), and the answer's page fields (the parameters that shaped it, the next cursor).
 */
import { encodeCursor, fingerprint, offsetOfCursor } from './cursor.js';
import type { FilterParams, Filters } from './filters.js';
import { HttpError } from './http-errors.js';
import type { LoadedVersion } from './loaded.js';
import { MAX_RESULTS, type SearchPage, type SearchPlan } from './ranking.js';

export interface PageParams {
  k: number;
  offset?: number;
  cursor?: string;
}

/** The ranking's identity (what a cursor must be sent back with): every parameter but the page's. */
export const rankingFingerprint = (route: string, params: FilterParams & PageParams & { q?: string; mode?: string }): string => {
  const { k: _k, offset: _offset, cursor: _cursor, ...rest } = params;
  return fingerprint({ route, ...rest });
};

export function pageStart(params: PageParams, version: LoadedVersion, print: string): number {
  if (params.offset !== undefined && params.cursor !== undefined) throw new HttpError(400, 'give offset or cursor, not both', 'offset');
  const offset =
    params.cursor !== undefined ? offsetOfCursor(params.cursor, { index: version.indexVersion, fingerprint: print }) : (params.offset ?? 0);
  if (offset + params.k > MAX_RESULTS)
    throw new HttpError(
      400,
      `offset ${offset} + k ${params.k} reaches past the ${MAX_RESULTS} results a query can page through`,
      params.cursor !== undefined ? 'cursor' : 'offset',
    );
  return offset;
}

export function pageFields(version: LoadedVersion, plan: SearchPlan, page: SearchPage, print: string) {
  const filters: Filters = plan.filters;
  return {
    sort: plan.sort,
    k: plan.k,
    offset: plan.offset,
    next: page.nextOffset === null ? null : encodeCursor({ v: version.indexVersion, o: page.nextOffset, f: print }),
    filters: {
      category: filters.category?.label ?? null,
      minPriceMinor: filters.minPriceMinor,
      maxPriceMinor: filters.maxPriceMinor,
      place: filters.origin?.label ?? null,
      radiusKm: filters.radiusKm,
    },
    notes: page.notes,
    results: page.results,
  };
}
