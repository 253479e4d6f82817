/** What the route plugins share: the state to serve from and the limits on what callers send. */
import type { LoadedVersion } from '../loaded.js';
import type { ServingState } from '../state.js';

export interface ServiceLimits {
  /** Largest image upload, bytes (413 above it). */
  maxUploadBytes: number;
  /** Largest decoded image, width × height (400 above it: a small file can decode to a huge picture). */
  maxImagePixels: number;
}

export const DEFAULT_LIMITS: ServiceLimits = { maxUploadBytes: 10 * 1024 * 1024, maxImagePixels: 40_000_000 };

export interface RouteContext {
  state: ServingState;
  limits: ServiceLimits;
}

/**
 * Runs `work` on the served version (held open until it ends, whatever swap happens meanwhile) and
 * stamps the answer with that version and the time it took.
 */
export async function answerWith<T extends object>(
  state: ServingState,
  work: (version: LoadedVersion) => Promise<T> | T,
): Promise<T & { model: string; index: string; tookMs: number }> {
  const started = performance.now();
  return state.use(async (version) => {
    const body = await work(version);
    return { model: version.modelVersion, index: version.indexVersion, ...body, tookMs: Number((performance.now() - started).toFixed(3)) };
  });
}
