/**
 * GET /healthz: the process answers (liveness; never depends on the model, or a slow load would get
 * the pod killed). GET /readyz: a model and an index are loaded (readiness; what a rollout waits for).
 */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context.js';

const readyAnswer = {
  type: 'object',
  properties: {
    ready: { type: 'boolean' },
    model: { type: 'string' },
    index: { type: 'string' },
    loadedAt: { type: 'string' },
    products: { type: 'integer' },
    buyers: { type: 'integer' },
    /** Bytes the lexical index holds in memory (0 for an index built before it). */
    lexicalIndexBytes: { type: 'integer' },
    /** Lexical search threads alive (0: the event loop reads the lexical index; fewer than set: one died). */
    lexicalThreads: { type: 'integer' },
    /** Why not ready, or why the last reload failed while an older version still serves. */
    lastError: { type: ['string', 'null'] },
  },
} as const;

export async function healthRoutes(app: FastifyInstance, { state }: RouteContext): Promise<void> {
  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));

  app.get('/readyz', { schema: { response: { 200: readyAnswer, 503: readyAnswer } } }, async (_request, reply) => {
    const version = state.current();
    if (!version) {
      reply.code(503);
      return { ready: false, lastError: state.lastError() ?? 'loading' };
    }
    return {
      ready: true,
      model: version.modelVersion,
      index: version.indexVersion,
      loadedAt: version.loadedAt.toISOString(),
      products: version.index.productRows.length,
      buyers: version.index.buyerRows.length,
      lexicalIndexBytes: version.search.lexicalBytes,
      lexicalThreads: version.search.lexicalThreads(),
      lastError: state.lastError(),
    };
  });
}
