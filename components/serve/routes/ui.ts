/**
 * The search page (for the people who tune the ranking) and what only it needs:
 *
 * - GET / and GET /listings/:id: the page (one HTML shell; the script renders the search or the listing
 *   from the URL, so a link reproduces a view);
 * - GET /ui/<file>: its static files (components/serve/web/: plain ES modules, a stylesheet, the UK
 *   outline), read once at start-up; nothing comes from a CDN, the page works offline;
 * - GET /about: the version served, its evaluation's headline figures and which reports exist;
 * - GET /reports/<eda|training|evaluation>/<id>: those reports, from the artifact store.
 *
 * Path parameters are checked with zod (a 400 that names the parameter).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../core/platform/index.js';
import { AboutCache, ArtifactId, REPORT_KEYS, REPORT_KINDS } from '../about.js';
import { HttpError } from '../http-errors.js';
import { errors } from '../schemas.js';
import type { RouteContext } from './context.js';

/** Where the page's files are: beside this folder (components/serve/web, or dist/components/serve/web in an image). */
export const WEB_DIR = path.resolve(import.meta.dirname, '..', 'web');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Only the page's own files: no inline script, no other origin (the reports are HTML from our own components). */
const PAGE_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** The served files: every .html, .js, .css, .json and .svg of the folder but tsconfig*.json (the checker's, not the page's). */
export function readWebFiles(dir: string = WEB_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir).sort()) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type || name.startsWith('tsconfig')) continue;
    const body = readFileSync(path.join(dir, name));
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return files;
}

const FileParams = z.object({ file: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,80}$/i, 'a file name of the page') });
const ReportParams = z.object({ kind: z.enum(REPORT_KINDS), id: ArtifactId });

/** Parses path parameters with zod; the first problem becomes a 400 naming its parameter. */
function parseParams<T extends z.ZodType>(schema: T, params: unknown): z.infer<T> {
  const parsed = schema.safeParse(params);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0] ?? 'path');
  throw new HttpError(400, `${name}: ${issue.message}`, name);
}

const aboutAnswer = {
  type: 'object',
  required: ['model', 'index', 'loadedAt', 'snapshots', 'evaluation', 'reports', 'categories'],
  properties: {
    model: { type: 'string' },
    index: { type: 'string' },
    loadedAt: { type: 'string' },
    products: { type: 'integer' },
    buyers: { type: 'integer' },
    snapshots: { type: 'object', properties: { model: { type: 'string' }, index: { type: 'string' } } },
    evaluation: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: {
            snapshot: { type: 'string' },
            testProducts: { type: 'integer' },
            promoted: { type: 'boolean' },
            reason: { type: 'string' },
            figures: {
              type: 'array',
              items: { type: 'object', properties: { metric: { type: 'string' }, label: { type: 'string' }, value: { type: 'number' } } },
            },
          },
        },
      ],
    },
    reports: { type: 'object', properties: Object.fromEntries(REPORT_KINDS.map((kind) => [kind, { type: ['string', 'null'] }])) },
    categories: { type: 'array', items: { type: 'string' } },
  },
} as const;

export async function uiRoutes(app: FastifyInstance, { state }: RouteContext): Promise<void> {
  const files = readWebFiles();
  if (!files.has('index.html')) app.log.warn({ dir: WEB_DIR }, 'the search page files are missing: / answers 503 (the API is unaffected)');
  const about = new AboutCache(state.store, app.log);

  const send = (request: FastifyRequest, reply: FastifyReply, file: StaticFile) => {
    reply.header('cache-control', 'no-cache').header('etag', file.etag).header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.type(file.type).send(file.body);
  };

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const shell = files.get('index.html');
    if (!shell) throw new HttpError(503, `the search page is not installed (no index.html in ${WEB_DIR})`);
    reply.header('content-security-policy', PAGE_POLICY).header('referrer-policy', 'no-referrer');
    return send(request, reply, shell);
  };
  app.get('/', page);
  app.get('/listings/:id', page);

  app.get('/ui/:file', async (request, reply) => {
    const { file } = parseParams(FileParams, request.params);
    const found = files.get(file);
    if (!found) throw new HttpError(404, `no page file '${file}'`);
    return send(request, reply, found);
  });

  app.get('/about', { schema: { response: { 200: aboutAnswer, ...errors(503) } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return state.use((version) => about.get(version));
  });

  app.get('/reports/:kind/:id', async (request, reply) => {
    const { kind, id } = parseParams(ReportParams, request.params);
    let body: Buffer;
    try {
      body = await state.store.get(REPORT_KEYS[kind](id));
    } catch (error) {
      if (error instanceof NotFoundError) throw new HttpError(404, `no ${kind} report for '${id}'`);
      throw error;
    }
    // The reports are our own components' HTML (inline styles and SVG): they may not run scripts or reach out.
    reply
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
      .header('x-content-type-options', 'nosniff');
    return reply.type('text/html; charset=utf-8').send(body);
  });
}
