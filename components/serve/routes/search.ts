/** GET /search (text, with filters, sort, mode and pages) and POST /search/image (a raw image body). */
import type { FastifyInstance } from 'fastify';
import { queryTerms } from '../../core/ml/index.js';
import { parseFilters, type FilterParams } from '../filters.js';
import { HttpError } from '../http-errors.js';
import { pageFields, pageStart, rankingFingerprint, type PageParams } from '../page.js';
import { searchPage, type SearchMode } from '../ranking.js';
import { errors, imageSearchAnswer, kParameter, searchAnswer, searchParameters } from '../schemas.js';
import { searchImage } from '../search.js';
import { answerWith, type RouteContext } from './context.js';

type SearchQuery = FilterParams & PageParams & { q: string; mode: SearchMode };

export async function searchRoutes(app: FastifyInstance, { state, limits }: RouteContext): Promise<void> {
  app.get<{ Querystring: SearchQuery }>(
    '/search',
    {
      schema: {
        querystring: { type: 'object', required: ['q'], properties: searchParameters, additionalProperties: false },
        response: { 200: searchAnswer, ...errors(400, 409, 503) },
      },
    },
    async (request) => {
      const params = request.query;
      const query = params.q.trim();
      if (!query) throw new HttpError(400, 'q must not be blank', 'q');
      return answerWith(state, async (version) => {
        // Parameters are checked before the query is embedded: a bad request costs no model call.
        const filters = parseFilters(params, version);
        const print = rankingFingerprint('/search', { ...params, q: query });
        const offset = pageStart(params, version, print);
        const terms = queryTerms(query);
        // Embedded in every mode (ONNX alone, off the event loop): lexical results report their cosine too.
        const vector = (await version.embedder.embedTexts([{ title: query }])).embeddings.subarray(0, version.dim);
        const plan = { terms, vector, mode: params.mode, sort: params.sort ?? 'relevance', filters, offset, k: params.k };
        const page = await searchPage(version, plan);
        return { query, mode: params.mode, ...pageFields(version, plan, page, print) };
      });
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
        response: { 200: imageSearchAnswer, ...errors(400, 413, 415, 422, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const type = request.headers['content-type'] ?? '';
      // Fastify parses JSON and text bodies itself; only the image parser above yields a Buffer.
      if (!type.startsWith('image/'))
        throw new HttpError(415, `send the picture's raw bytes with an image/* Content-Type, not ${type || 'none'}`);
      if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'the request body is empty: send the picture’s raw bytes');
      return answerWith(state, async (version) => ({
        results: await searchImage(version, body, request.query.k, { maxPixels: limits.maxImagePixels }),
      }));
    },
  );
}
