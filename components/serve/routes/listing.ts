/**
 * GET /products/:id: one listing's fields as the served index holds them (what the search page's
 * listing view shows), and GET /products/:id/image: its model-ready picture, when it has one.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../core/platform/index.js';
import { HttpError } from '../http-errors.js';
import { errors } from '../schemas.js';
import { answerWith, type RouteContext } from './context.js';

const ProductParams = z.object({ id: z.string().min(1).max(200) });

function productId(params: unknown): string {
  const parsed = ProductParams.safeParse(params);
  if (!parsed.success) throw new HttpError(400, `id: ${parsed.error.issues[0]!.message}`, 'id');
  return parsed.data.id;
}

const nullableString = { type: ['string', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;

export const productAnswer = {
  type: 'object',
  required: ['model', 'index', 'product', 'tookMs'],
  properties: {
    model: { type: 'string' },
    index: { type: 'string' },
    tookMs: { type: 'number' },
    product: {
      type: 'object',
      required: ['id', 'title', 'root', 'path', 'priceMinor', 'town', 'county', 'latitude', 'longitude', 'listedAt', 'hasImage'],
      properties: {
        id: { type: 'string' },
        title: { type: 'string' },
        root: { type: 'string' },
        path: { type: 'array', items: { type: 'string' } },
        priceMinor: { type: 'number' },
        town: nullableString,
        county: nullableString,
        latitude: nullableNumber,
        longitude: nullableNumber,
        listedAt: nullableString,
        hasImage: { type: 'boolean' },
      },
    },
  },
} as const;

export async function listingRoutes(app: FastifyInstance, { state }: RouteContext): Promise<void> {
  app.get('/products/:id', { schema: { response: { 200: productAnswer, ...errors(400, 404, 503) } } }, async (request) => {
    const id = productId(request.params);
    return answerWith(state, (version) => {
      const position = version.positionById.get(id);
      if (position === undefined) throw new HttpError(404, `no product '${id}' in index ${version.indexVersion}`);
      const row = version.index.productRows.get(position);
      return {
        product: {
          id: row.id,
          title: row.title,
          root: row.root,
          path: row.path ?? [row.root],
          priceMinor: row.priceMinor,
          town: row.town,
          county: row.county,
          latitude: row.latitude,
          longitude: row.longitude,
          listedAt: row.listedAt ?? null,
          hasImage: row.imageKey !== null,
        },
      };
    });
  });

  app.get('/products/:id/image', async (request, reply) => {
    const id = productId(request.params);
    const key = await state.use((version) => {
      const position = version.positionById.get(id);
      if (position === undefined) throw new HttpError(404, `no product '${id}' in index ${version.indexVersion}`);
      const imageKey = version.index.productRows.imageKey(position);
      if (imageKey === null) throw new HttpError(404, `product '${id}' has no picture`);
      return imageKey;
    });
    let body: Buffer;
    try {
      body = await state.store.get(key);
    } catch (error) {
      if (error instanceof NotFoundError) throw new HttpError(404, `the picture of product '${id}' is gone from the store`);
      throw error;
    }
    reply.header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff');
    // Clean's model-ready copies: JPEG, or PNG for a picture kept at its own small size.
    return reply.type(key.endsWith('.png') ? 'image/png' : 'image/jpeg').send(body);
  });
}
