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

/** POST /search/image: nearest listings to a picture. */
export const imageSearchAnswer = {
  type: 'object',
  required: ['model', 'index', 'results', 'tookMs'],
  properties: { ...versions, results: { type: 'array', items: productHit } },
} as const;

/** The deepest offset a page may start at (ranking.ts MAX_RESULTS bounds offset + k). */
export const MAX_OFFSET = 1000;

/**
 * The filters, sort and pagination shared by GET /search and GET /products/:id/similar. Prices in
 * pounds; near as "<lat>,<lon>" (ranges checked by the handler, which names the parameter too).
 */
export const filterParameters = {
  category: { type: 'string', minLength: 1, maxLength: 300 },
  min_price: { type: 'number', minimum: 0, maximum: 1e9 },
  max_price: { type: 'number', minimum: 0, maximum: 1e9 },
  near: { type: 'string', pattern: '^\\s*-?\\d+(\\.\\d+)?\\s*,\\s*-?\\d+(\\.\\d+)?\\s*$', maxLength: 60 },
  town: { type: 'string', minLength: 1, maxLength: 100 },
  radius_km: { type: 'number', exclusiveMinimum: 0, maximum: 1500 },
  sort: { type: 'string', enum: ['relevance', 'price_asc', 'price_desc', 'distance', 'newest'], default: 'relevance' },
  offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET },
  cursor: { type: 'string', minLength: 1, maxLength: 400 },
  k: kParameter,
} as const;

export const searchParameters = {
  q: { type: 'string', minLength: 1, maxLength: MAX_QUERY_LENGTH },
  mode: { type: 'string', enum: ['hybrid', 'lexical', 'dense'], default: 'hybrid' },
  ...filterParameters,
} as const;

const why = {
  type: 'object',
  properties: {
    matchedTerms: { type: 'array', items: { type: 'string' } },
    titleTerms: { type: 'array', items: { type: 'string' } },
    lexicalScore: { type: ['number', 'null'] },
    denseSimilarity: { type: 'number' },
    distanceKm: { type: ['number', 'null'] },
  },
} as const;

export const resultRow = {
  type: 'object',
  required: ['id', 'title', 'root', 'category', 'priceMinor', 'town', 'score', 'why'],
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    root: { type: 'string' },
    category: { type: 'string' },
    priceMinor: { type: 'number' },
    town: nullableString,
    listedAt: nullableString,
    score: { type: 'number' },
    why,
  },
} as const;

/** What a page says about itself: the parameters that shaped it, where the next page starts, notes. */
const pageFields = {
  sort: { type: 'string' },
  k: { type: 'integer' },
  offset: { type: 'integer' },
  next: nullableString,
  filters: {
    type: 'object',
    properties: {
      category: nullableString,
      minPriceMinor: { type: ['number', 'null'] },
      maxPriceMinor: { type: ['number', 'null'] },
      place: nullableString,
      radiusKm: { type: ['number', 'null'] },
    },
  },
  notes: { type: 'array', items: { type: 'string' } },
  results: { type: 'array', items: resultRow },
} as const;

export const searchAnswer = {
  type: 'object',
  required: ['model', 'index', 'query', 'mode', 'sort', 'results', 'next', 'notes', 'tookMs'],
  properties: { ...versions, query: { type: 'string' }, mode: { type: 'string' }, ...pageFields },
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
  required: ['model', 'index', 'product', 'results', 'next', 'notes', 'tookMs'],
  properties: { ...versions, product: productSummary, ...pageFields },
} as const;

const buyerMatch = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    ageBand: { type: 'string' },
    gender: { type: 'string' },
    town: nullableString,
    latitude: { type: 'number' },
    longitude: { type: 'number' },
    score: { type: 'number' },
    interestSimilarity: { type: 'number' },
    distanceKm: { type: ['number', 'null'] },
    interest: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: { category: { type: 'string' }, weight: { type: 'number' }, matchesProductCategory: { type: 'boolean' } },
        },
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
