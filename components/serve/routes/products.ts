/**
 * GET /products/:id/similar (the nearest listings, with the filters, sorts and pages of /search) and
 * GET /products/:id/buyers: both start from the product's stored vector.
 */
import type { FastifyInstance } from 'fastify';
import { buyersForProduct } from '../buyers.js';
import { parseFilters, type FilterParams } from '../filters.js';
import { HttpError } from '../http-errors.js';
import type { LoadedVersion } from '../loaded.js';
import { pageFields, pageStart, rankingFingerprint, type PageParams } from '../page.js';
import { searchPage } from '../ranking.js';
import { productVector } from '../search.js';
import { buyersAnswer, errors, filterParameters, kParameter, similarAnswer } from '../schemas.js';
import { answerWith, type RouteContext } from './context.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } as const;

/** Default and largest search radius for buyers, km (the UK is about 1,000 km end to end). */
export const DEFAULT_RADIUS_KM = 50;
export const MAX_RADIUS_KM = 1500;

function positionOf(version: LoadedVersion, id: string): number {
  const position = version.positionById.get(id);
  if (position === undefined) throw new HttpError(404, `no product '${id}' in index ${version.indexVersion}`);
  return position;
}

export async function productRoutes(app: FastifyInstance, { state }: RouteContext): Promise<void> {
  app.get<{ Params: { id: string }; Querystring: FilterParams & PageParams }>(
    '/products/:id/similar',
    {
      schema: {
        params: idParams,
        querystring: { type: 'object', properties: filterParameters, additionalProperties: false },
        response: { 200: similarAnswer, ...errors(400, 404, 409, 503) },
      },
    },
    async (request) =>
      answerWith(state, async (version) => {
        const position = positionOf(version, request.params.id);
        const params = request.query;
        const filters = parseFilters(params, version);
        const print = rankingFingerprint(`/products/${request.params.id}/similar`, params);
        const offset = pageStart(params, version, print);
        const vector = productVector(version, position);
        const plan = {
          terms: [],
          vector,
          mode: 'dense' as const,
          sort: params.sort ?? 'relevance',
          filters,
          offset,
          k: params.k,
          exclude: position,
        };
        return { product: version.index.productRows.get(position), ...pageFields(version, plan, await searchPage(version, plan), print) };
      }),
  );

  app.get<{ Params: { id: string }; Querystring: { k: number; radius_km: number } }>(
    '/products/:id/buyers',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            k: kParameter,
            radius_km: { type: 'number', exclusiveMinimum: 0, maximum: MAX_RADIUS_KM, default: DEFAULT_RADIUS_KM },
          },
          additionalProperties: false,
        },
        response: { 200: buyersAnswer, ...errors(400, 404, 503) },
      },
    },
    async (request) =>
      answerWith(state, (version) => {
        const found = buyersForProduct(version, positionOf(version, request.params.id), {
          radiusKm: request.query.radius_km,
          k: request.query.k,
        });
        return {
          product: found.product,
          radiusKm: found.radiusKm,
          distanceFilter: found.distanceFilter,
          candidates: found.candidates,
          notes: found.notes,
          results: found.matches,
        };
      }),
  );
}
