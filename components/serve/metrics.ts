/**
 * Prometheus metrics (prom-client), the names the ServiceMonitor and the Grafana dashboard in
 * manifests/ query: request latency by route, the model and index each replica serves, the index size
 * and reload outcomes, plus Node's default process metrics. One registry per app, not the global
 * one, so that several apps in one process (tests) do not share or clash.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServingState } from './state.js';

export interface ServiceMetrics {
  registry: Registry;
  requestDuration: Histogram<'route' | 'method' | 'status_code'>;
  reloads: Counter<'outcome'>;
}

/** Search takes milliseconds; image search and a cold path tens to hundreds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(state: ServingState): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route template, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  // Read from the state at scrape time: always the version actually served, one series per replica.
  new Gauge({
    name: 'search_model_info',
    help: 'The model and index this replica serves (value 1)',
    labelNames: ['model_version', 'index_version'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const version = state.current();
      if (version) this.set({ model_version: version.modelVersion, index_version: version.indexVersion }, 1);
    },
  });
  new Gauge({
    name: 'search_index_vectors',
    help: 'Product vectors in the served index',
    registers: [registry],
    collect() {
      this.set(state.current()?.index.products.ntotal() ?? 0);
    },
  });
  new Gauge({
    name: 'search_index_buyers',
    help: 'Buyer vectors in the served index',
    registers: [registry],
    collect() {
      this.set(state.current()?.index.buyers.ntotal() ?? 0);
    },
  });
  new Gauge({
    name: 'search_index_memory_bytes',
    help: 'Bytes the served version holds, by part: product rows (columns), product vectors, lexical index, product FAISS index (as built)',
    labelNames: ['part'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const version = state.current();
      if (!version) return;
      const { index } = version;
      this.set({ part: 'product_rows' }, index.productRows.memoryBytes());
      this.set({ part: 'product_vectors' }, index.productVectors.byteLength);
      this.set({ part: 'lexical' }, version.search.lexicalBytes);
      if (index.metadata.products.bytes !== undefined) this.set({ part: 'product_index' }, index.metadata.products.bytes);
    },
  });
  const reloads = new Counter({
    name: 'search_reloads_total',
    help: 'Attempts to load a new model and index, by outcome (a failure keeps the previous version serving)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Both series exist from the start, so rate() and alerts see a zero rather than nothing.
  reloads.inc({ outcome: 'success' }, 0);
  reloads.inc({ outcome: 'failure' }, 0);
  state.onReload((event) => reloads.inc({ outcome: event.outcome }));
  return { registry, requestDuration, reloads };
}

/**
 * Times every request under its route template (`/products/:id/similar`, not each id) and exposes
 * GET /metrics. Installed on the root instance, not registered as a plugin: a plugin's hooks would be
 * encapsulated and see only its own routes.
 */
export function installMetrics(app: FastifyInstance, metrics: ServiceMetrics): void {
  const { registry, requestDuration } = metrics;
  app.addHook('onResponse', async (request, reply) => {
    requestDuration.observe(
      { route: request.routeOptions.url ?? 'unmatched', method: request.method, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
