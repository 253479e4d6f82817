/**
 * The search service's HTTP app (Fastify): health, search, product and metrics routes over a
 * ServingState, which owns what is served and the hot swap. Building the app starts nothing: main.ts
 * listens on a port, tests call `inject`.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../core/index.js';
import { errorHandler, toErrorAnswer } from './http-errors.js';
import { createMetrics, installMetrics, type ServiceMetrics } from './metrics.js';
import { DEFAULT_LIMITS, type ServiceLimits } from './routes/context.js';
import { healthRoutes } from './routes/health.js';
import { productRoutes } from './routes/products.js';
import { searchRoutes } from './routes/search.js';
import type { ServingState } from './state.js';

export interface AppOptions {
  state: ServingState;
  log: Logger;
  limits?: Partial<ServiceLimits>;
  /** Log every request (off by default: the latency histogram counts them, and a log line per search costs). */
  logRequests?: boolean;
}

export interface SearchApp {
  app: FastifyInstance;
  metrics: ServiceMetrics;
}

export async function buildApp(options: AppOptions): Promise<SearchApp> {
  const limits: ServiceLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const app: FastifyInstance = fastify({
    // Widened to Fastify's logger interface, which pino implements (the plugins are typed against it).
    loggerInstance: options.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    // The image route raises its own limit; everything else is a small query.
    bodyLimit: 64 * 1024,
    // Keep-alive connections end cleanly on close instead of holding a shutdown open.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const metrics = createMetrics(options.state);
  installMetrics(app, metrics);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return toErrorAnswer(Object.assign(new Error(`no route ${request.method} ${request.url.split('?')[0]}`), { statusCode: 404 }));
  });
  const context = { state: options.state, limits };
  await app.register(healthRoutes, context);
  await app.register(searchRoutes, context);
  await app.register(productRoutes, context);
  await app.ready();
  return { app, metrics };
}
