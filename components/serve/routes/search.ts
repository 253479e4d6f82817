/** GET /search (text) and POST /search/image (a raw image body). */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-errors.js';
import { errors, kParameter, MAX_QUERY_LENGTH, searchAnswer } from '../schemas.js';
import { searchImage, searchText } from '../search.js';
import { answerWith, type RouteContext } from './context.js';

export async function searchRoutes(app: FastifyInstance, { state, limits }: RouteContext): Promise<void> {
  app.get<{ Querystring: { q: string; k: number } }>(
    '/search',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['q'],
          properties: { q: { type: 'string', minLength: 1, maxLength: MAX_QUERY_LENGTH }, k: kParameter },
          additionalProperties: false,
        },
        response: { 200: searchAnswer, ...errors(400, 503) },
      },
    },
    async (request) => {
      const query = request.query.q.trim();
      if (!query) throw new HttpError(400, 'q must not be blank');
      return answerWith(state, async (version) => ({ results: await searchText(version, query, request.query.k) }));
    },
  );

  // Uploads arrive as the raw bytes of one picture (`Content-Type: image/jpeg`, `image/png`…); any other
  // content type is refused with 415 by Fastify. Kept as a Buffer: sharp decodes it.
  app.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post<{ Querystring: { k: number }; Body: Buffer }>(
    '/search/image',
    {
      bodyLimit: limits.maxUploadBytes,
      schema: {
        querystring: { type: 'object', properties: { k: kParameter }, additionalProperties: false },
        response: { 200: searchAnswer, ...errors(400, 413, 415, 422, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const type = request.headers['content-type'] ?? '';
      // Fastify parses JSON and text bodies itself; only the image parser above yields a Buffer.
      if (!type.startsWith('image/')) throw new HttpError(415, `send the picture's raw bytes with an image/* Content-Type, not ${type || 'none'}`);
      if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'the request body is empty: send the picture’s raw bytes');
      return answerWith(state, async (version) => ({ results: await searchImage(version, body, request.query.k, { maxPixels: limits.maxImagePixels }) }));
    },
  );
}
