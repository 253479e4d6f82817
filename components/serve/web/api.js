/**
 * The search service's API as the page calls it: same origin, JSON, errors as ApiError with the
 * service's own message (and the parameter it names, so the page can point at the field).
 */

/** @typedef {import('./api-types.js').SearchAnswer} SearchAnswer */
/** @typedef {import('./api-types.js').ProductAnswer} ProductAnswer */
/** @typedef {import('./api-types.js').PageAnswer} PageAnswer */
/** @typedef {import('./api-types.js').BuyersAnswer} BuyersAnswer */
/** @typedef {import('./api-types.js').About} About */
/** @typedef {import('./api-types.js').ErrorAnswer} ErrorAnswer */
/** @typedef {import('./api-types.js').Outline} Outline */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {string | undefined} parameter
   */
  constructor(status, message, parameter) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.parameter = parameter;
  }
}

/** Listeners told of the versions every answer names (the header follows a hot swap with them). */
/** @type {((versions: { model: string; index: string }) => void)[]} */
const versionListeners = [];

/** @param {(versions: { model: string; index: string }) => void} listener */
export function onVersions(listener) {
  versionListeners.push(listener);
}

/**
 * GETs a path of the service and returns its JSON (typed by the caller: the service's schemas shape it).
 * @template T
 * @param {string} path
 * @param {AbortSignal} [signal]
 * @returns {Promise<T>}
 */
async function get(path, signal) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, signal });
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  if (!response.ok) {
    const error = /** @type {ErrorAnswer | null} */ (body && typeof body === 'object' ? body : null);
    throw new ApiError(response.status, error?.message ?? `${path}: HTTP ${response.status}`, error?.parameter);
  }
  const answer = /** @type {T} */ (body);
  const versions = /** @type {{ model?: unknown; index?: unknown }} */ (body ?? {});
  if (typeof versions.model === 'string' && typeof versions.index === 'string') {
    const seen = { model: versions.model, index: versions.index };
    for (const listener of versionListeners) listener(seen);
  }
  return answer;
}

/**
 * @param {URLSearchParams} params what /search takes (q, mode and the filters)
 * @param {AbortSignal} [signal]
 * @returns {Promise<SearchAnswer>}
 */
export const search = (params, signal) => get(`/search?${params}`, signal);

/**
 * @param {string} id
 * @param {AbortSignal} [signal]
 * @returns {Promise<ProductAnswer>}
 */
export const product = (id, signal) => get(`/products/${encodeURIComponent(id)}`, signal);

/**
 * @param {string} id
 * @param {number} k
 * @param {AbortSignal} [signal]
 * @returns {Promise<PageAnswer>}
 */
export const similar = (id, k, signal) => get(`/products/${encodeURIComponent(id)}/similar?k=${k}`, signal);

/**
 * @param {string} id
 * @param {{ k: number; radiusKm: number }} options
 * @param {AbortSignal} [signal]
 * @returns {Promise<BuyersAnswer>}
 */
export const buyers = (id, options, signal) =>
  get(`/products/${encodeURIComponent(id)}/buyers?k=${options.k}&radius_km=${options.radiusKm}`, signal);

/** @returns {Promise<About>} */
export const about = () => get('/about');

/** @type {Promise<Outline> | null} */
let outline = null;
/** The UK outline (fetched once). @returns {Promise<Outline>} */
export function ukOutline() {
  outline ??= get('/ui/uk-outline.json');
  // A failed fetch is tried again next time.
  outline.catch(() => {
    outline = null;
  });
  return /** @type {Promise<Outline>} */ (outline);
}
