/**
 * The search service's HTTP app (Fastify): health, search, product and metrics routes over a
 * ServingState, which owns what is served and the hot swap. Building the app starts nothing: main.ts
 * listens on a port, tests call `inject`.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../core/platform/index.js';
import { errorHandler, refuseNonFiniteQuery, toErrorAnswer } from './http-errors.js';
import { createMetrics, installMetrics, type ServiceMetrics } from './metrics.js';
import { DEFAULT_LIMITS, type ServiceLimits } from './routes/context.js';
import { healthRoutes } from './routes/health.js';
import { listingRoutes } from './routes/listing.js';
import { productRoutes } from './routes/products.js';
import { searchRoutes } from './routes/search.js';
import { uiRoutes } from './routes/ui.js';
import type { ServingState } from './state.js';

export interface AppOptions {
  state: ServingState;
  log: Logger;
  limits?: Partial<ServiceLimits>;
  /** Log every request (off by default: the latency histogram counts them, and a log line per search costs). */
  logRequests?: boolean;
  timeouts?: Partial<ServiceTimeouts>;
}

/**
 * How long a client may hold a connection. Without these a slow client (headers sent, then the body
 * trickled a byte at a time, or nothing at all) holds its socket and its buffers for ever: Fastify
 * turns Node's request timeout off by default.
 */
export interface ServiceTimeouts {
  /** A socket with no traffic either way for this long is closed (a stalled client). */
  connectionTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this; 408 and closed otherwise (a trickling client). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: ServiceTimeouts = { connectionTimeoutMs: 30_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 };

export interface SearchApp {
  app: FastifyInstance;
  metrics: ServiceMetrics;
}

export async function buildApp(options: AppOptions): Promise<SearchApp> {
  const limits: ServiceLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const timeouts: ServiceTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const app: FastifyInstance = fastify({
    connectionTimeout: timeouts.connectionTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    http: {
      // Node checks for requests past their timeout only this often (30 s by default, which would let
      // a trickling client run to twice the limit); the headers must arrive within the request limit too.
      connectionsCheckingInterval: Math.max(100, Math.min(2_000, Math.round(timeouts.requestTimeoutMs / 4))),
      headersTimeout: Math.min(60_000, timeouts.requestTimeoutMs),
    },
    // Widened to Fastify's logger interface, which pino implements (the plugins are typed against it).
    loggerInstance: options.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    // The image route raises its own limit; everything else is a small query.
    bodyLimit: 64 * 1024,
    // Keep-alive connections end cleanly on close instead of holding a shutdown open.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Fastify's Ajv drops parameters a schema does not list (removeAdditional); every route lists all
    // it takes, so an unknown parameter is a 400 that names it instead of a silently unfiltered answer.
    ajv: { customOptions: { removeAdditional: false } },
  });
  const metrics = createMetrics(options.state);
  installMetrics(app, metrics);
  app.setErrorHandler(errorHandler);
  // After schema validation, which coerces the querystring: see refuseNonFiniteQuery.
  app.addHook('preHandler', refuseNonFiniteQuery);
  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return toErrorAnswer(Object.assign(new Error(`no route ${request.method} ${request.url.split('?')[0]}`), { statusCode: 404 }));
  });
  const context = { state: options.state, limits };
  await app.register(healthRoutes, context);
  await app.register(searchRoutes, context);
  await app.register(productRoutes, context);
  await app.register(listingRoutes, context);
  // The search page (/, /listings/:id, /ui/*, /about, /reports/*): components/serve/web.
  await app.register(uiRoutes, context);
  await app.ready();
  return { app, metrics };
}
