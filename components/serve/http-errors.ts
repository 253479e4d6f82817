/**
 * How failures become HTTP answers. Anything the caller can fix is a 4xx that says what to fix
 * (the bad parameter by name); a 5xx means the service itself failed, never the input.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InputError } from '../core/platform/index.js';
import { ModalityError } from '../core/ml/index.js';
import { NotReadyError } from './state.js';

/** An answer with a chosen status (an unknown product id: 404). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    /** The request parameter at fault, when there is one. */
    readonly parameter?: string,
  ) {
    super(message);
  }
}

export interface ErrorAnswer {
  statusCode: number;
  error: string;
  message: string;
  /** The request parameter at fault, when schema validation names one. */
  parameter?: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function answer(statusCode: number, message: string, parameter?: string): ErrorAnswer {
  return { statusCode, error: STATUS_TEXT[statusCode] ?? 'Error', message, ...(parameter ? { parameter } : {}) };
}

/** The parameter a schema failure is about: `k` for "querystring/k must be <= 100", `q` when q is missing. */
function parameterOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const params = first.params as { missingProperty?: unknown; additionalProperty?: unknown };
  if (typeof params.missingProperty === 'string') return params.missingProperty;
  // An unknown parameter (the schemas allow none beyond those they list).
  if (typeof params.additionalProperty === 'string') return params.additionalProperty;
  return first.instancePath.replace(/^\//, '').replace(/\//g, '.') || undefined;
}

export function toErrorAnswer(error: FastifyError | Error): ErrorAnswer {
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const parameter = parameterOf(fastifyError);
    const unknown = (fastifyError.validation[0]?.params as { additionalProperty?: unknown } | undefined)?.additionalProperty;
    // Ajv says "must NOT have additional properties"; say which one.
    const message = typeof unknown === 'string' ? `unknown parameter '${unknown}'` : error.message;
    return answer(400, message, parameter);
  }
  if (error instanceof HttpError) return answer(error.statusCode, error.message, error.parameter);
  if (error instanceof NotReadyError) return answer(503, error.message);
  // A model without an image tower asked for an image search: well-formed, but not answerable here.
  if (error instanceof ModalityError) return answer(422, error.message);
  if (error instanceof InputError) return answer(400, error.message);
  // Fastify's own refusals (body too large 413, unsupported media type 415, malformed body 400).
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return answer(status, error.message);
  return answer(500, 'internal error');
}

export async function errorHandler(this: unknown, error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<ErrorAnswer> {
  const body = toErrorAnswer(error);
  if (body.statusCode >= 500 && body.statusCode !== 503) request.log.error({ err: error, url: request.url }, 'request failed');
  reply.code(body.statusCode);
  return body;
}

/**
 * Refuses a query parameter that schema coercion turned into ±Infinity. Fastify's Ajv coerces the
 * string "Infinity", "-Infinity" or "1e309" to a non-finite number and the integer / minimum / maximum
 * checks then let it through: `k=-Infinity` reached faiss as k < 1, which aborts the whole process
 * (a native assertion, not an exception), and `radius_km=1e309` disabled the distance filter.
 */
export async function refuseNonFiniteQuery(request: FastifyRequest): Promise<void> {
  const query = request.query;
  if (typeof query !== 'object' || query === null) return;
  for (const [name, value] of Object.entries(query)) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new HttpError(400, `querystring/${name} must be a finite number`, name);
  }
}
