/**
 * JSON schemas of the requests (Fastify validates with them and answers 400 naming the parameter)
 * and of the answers (Fastify serialises with them, and nothing undeclared leaks out).
 */
export const MAX_K = 100;
export const DEFAULT_K = 10;
export const MAX_QUERY_LENGTH = 500;

export const kParameter = { type: 'integer', minimum: 1, maximum: MAX_K, default: DEFAULT_K } as const;

const nullableString = { type: ['string', 'null'] } as const;

export const productHit = {
  type: 'object',
  required: ['id', 'title', 'root', 'priceMinor', 'town', 'score'],
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    root: { type: 'string' },
    priceMinor: { type: 'number' },
    town: nullableString,
    score: { type: 'number' },
  },
} as const;

/** Every search answer names the model and the index that produced it. */
const versions = {
  model: { type: 'string' },
  index: { type: 'string' },
  tookMs: { type: 'number' },
} as const;

export const searchAnswer = {
  type: 'object',
  required: ['model', 'index', 'results', 'tookMs'],
  properties: { ...versions, results: { type: 'array', items: productHit } },
} as const;

export const productSummary = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    root: { type: 'string' },
    priceMinor: { type: 'number' },
    town: nullableString,
    county: nullableString,
    latitude: { type: ['number', 'null'] },
    longitude: { type: ['number', 'null'] },
  },
} as const;

export const similarAnswer = {
  type: 'object',
  required: ['model', 'index', 'product', 'results', 'tookMs'],
  properties: { ...versions, product: productSummary, results: { type: 'array', items: productHit } },
} as const;

const buyerMatch = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    ageBand: { type: 'string' },
    gender: { type: 'string' },
    town: nullableString,
    score: { type: 'number' },
    interestSimilarity: { type: 'number' },
    distanceKm: { type: ['number', 'null'] },
    interest: {
      anyOf: [
        { type: 'null' },
        { type: 'object', properties: { category: { type: 'string' }, weight: { type: 'number' }, matchesProductCategory: { type: 'boolean' } } },
      ],
    },
    priceBand: { type: 'object', properties: { minMinor: { type: 'number' }, maxMinor: { type: 'number' } } },
    reasons: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const buyersAnswer = {
  type: 'object',
  required: ['model', 'index', 'product', 'radiusKm', 'distanceFilter', 'results', 'tookMs'],
  properties: {
    ...versions,
    product: productSummary,
    radiusKm: { type: 'number' },
    distanceFilter: { type: 'boolean' },
    candidates: { type: 'integer' },
    notes: { type: 'array', items: { type: 'string' } },
    results: { type: 'array', items: buyerMatch },
  },
} as const;

export const errorAnswer = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' }, parameter: { type: 'string' } },
} as const;

/** The error answers a route can give, so they are serialised by schema as well. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, errorAnswer]));
