/**
 * What the service serves, and the hot swap between versions.
 *
 * The serving target (normally `serving/current.json`) is polled; when it names another model or
 * index, the new version is loaded beside the old one and swapped in with one assignment, so a
 * request sees the old version or the new one, never a mix. Requests hold a lease on the version
 * they started with: the old version's ONNX sessions are released only when its last request ends,
 * so a swap drops nothing in flight.
 *
 * A version that fails to load (missing, corrupt, incompatible) changes nothing: the old version
 * keeps serving, the failure is logged and reported to listeners (the reload counter), and the same
 * target is retried with a growing back-off rather than re-downloaded on every poll.
 */
import { errorMessage, type ArtifactStore, type Logger } from '../core/platform/index.js';
import { readServingRecord } from '../core/contracts/index.js';
import { describeTarget, loadVersion, sameTarget, type LoadedVersion, type LoadOptions, type ServingTarget } from './loaded.js';

/** Where the target comes from: null means nothing to serve yet. */
export type TargetSource = () => Promise<ServingTarget | null>;

/** Follows `serving/current.json`; a record that names no index is not servable (search needs one). */
export function servingRecordSource(store: ArtifactStore): TargetSource {
  return async () => {
    const record = await readServingRecord(store);
    if (!record) return null;
    if (!record.index) throw new Error(`serving record names model ${record.model.version} but no index: nothing to search`);
    return { modelVersion: record.model.version, indexVersion: record.index.version };
  };
}

/** A fixed target (the MODEL_VERSION / INDEX_VERSION that a Kubernetes rollout patches in). */
export const pinnedSource =
  (target: ServingTarget): TargetSource =>
  async () =>
    target;

export type ReloadOutcome = 'success' | 'failure';

export interface ReloadEvent {
  outcome: ReloadOutcome;
  /** Null when the target itself could not be read. */
  target: ServingTarget | null;
  seconds: number;
  error?: string;
}

/** What refresh() did. */
export type RefreshResult = 'unchanged' | 'swapped' | 'failed' | 'nothing-to-serve' | 'backing-off';

export class NotReadyError extends Error {
  override name = 'NotReadyError';
}

interface Held {
  version: LoadedVersion;
  users: number;
  retired: boolean;
}

export interface ServingStateOptions {
  store: ArtifactStore;
  log: Logger;
  source: TargetSource;
  /** Loads a version; replaceable so that the swap logic can be exercised on its own. */
  load?: (store: ArtifactStore, target: ServingTarget) => Promise<LoadedVersion>;
  /** How loadVersion holds a version (when `load` is not given). */
  loadOptions?: LoadOptions;
  /** Longest wait before a failed target is tried again. */
  maxBackoffSeconds?: number;
}

export class ServingState {
  private held: Held | null = null;
  private refreshing: Promise<RefreshResult> | null = null;
  private failure: { target: ServingTarget | null; message: string; attempts: number; retryAt: number } | null = null;
  private readonly listeners: ((event: ReloadEvent) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: ServingStateOptions) {}

  /** The artifact store versions are loaded from (the page's reports and pictures are read from it too). */
  get store(): ArtifactStore {
    return this.options.store;
  }

  /** The version new requests get, or null before the first successful load. */
  current(): LoadedVersion | null {
    return this.held?.version ?? null;
  }

  /** Why nothing is served (or why the last reload failed), for /readyz. */
  lastError(): string | null {
    return this.failure?.message ?? null;
  }

  onReload(listener: (event: ReloadEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Runs `work` on the current version, which stays open until `work` ends even if a swap happens meanwhile. */
  async use<T>(work: (version: LoadedVersion) => Promise<T> | T): Promise<T> {
    const held = this.held;
    if (!held) throw new NotReadyError(`no model and index loaded yet${this.failure ? `: ${this.failure.message}` : ''}`);
    held.users += 1;
    try {
      return await work(held.version);
    } finally {
      held.users -= 1;
      if (held.retired && held.users === 0) await this.release(held);
    }
  }

  /** Reads the target and swaps to it when it changed. Concurrent calls share one refresh. */
  refresh(): Promise<RefreshResult> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Refreshes every `seconds` (each wait starts after the previous refresh ends: no overlap). */
  startPolling(seconds: number): void {
    const schedule = () => {
      if (this.closed) return;
      this.timer = setTimeout(() => {
        // refresh() reports its own failures; this catch is for a listener that throws, which must not stop the polling.
        void this.refresh()
          .catch((error: unknown) => this.options.log.error({ err: error }, 'refresh failed'))
          .finally(schedule);
      }, seconds * 1000);
      // The HTTP server keeps the process alive; the poll alone must not.
      this.timer.unref();
    };
    schedule();
  }

  /** Stops polling and releases the current version once its requests end. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.refreshing?.catch(() => undefined);
    const held = this.held;
    this.held = null;
    if (held) await this.retire(held);
  }

  private async doRefresh(): Promise<RefreshResult> {
    const started = performance.now();
    const { log } = this.options;
    let target: ServingTarget | null;
    try {
      target = await this.options.source();
    } catch (error) {
      this.fail(null, error, started);
      return 'failed';
    }
    if (!target) {
      if (!this.held) this.failure = { target: null, message: 'nothing is in production yet (no serving record)', attempts: 0, retryAt: 0 };
      return this.held ? 'unchanged' : 'nothing-to-serve';
    }
    if (sameTarget(target, this.held?.version)) {
      // The record points back at what is served: an earlier failure no longer matters.
      this.failure = null;
      return 'unchanged';
    }
    if (this.failure && sameTarget(this.failure.target, target) && Date.now() < this.failure.retryAt) return 'backing-off';

    log.info(
      { model: target.modelVersion, index: target.indexVersion, from: this.held ? describeTarget(this.held.version) : null },
      `loading ${describeTarget(target)}`,
    );
    let version: LoadedVersion;
    try {
      version = await (this.options.load ?? ((store, to) => loadVersion(store, to, this.options.loadOptions)))(this.options.store, target);
    } catch (error) {
      this.fail(target, error, started);
      return 'failed';
    }
    if (this.closed) {
      await version.close();
      return 'unchanged';
    }
    const previous = this.held;
    this.held = { version, users: 0, retired: false };
    this.failure = null;
    const seconds = (performance.now() - started) / 1000;
    log.info(
      {
        model: version.modelVersion,
        index: version.indexVersion,
        products: version.index.productRows.length,
        buyers: version.index.buyerRows.length,
        seconds,
      },
      `serving ${describeTarget(version)}`,
    );
    this.emit({ outcome: 'success', target, seconds });
    if (previous) await this.retire(previous);
    return 'swapped';
  }

  private fail(target: ServingTarget | null, error: unknown, started: number): void {
    const attempts = this.failure && sameTarget(this.failure.target, target) ? this.failure.attempts + 1 : 1;
    const backoffSeconds = Math.min(this.options.maxBackoffSeconds ?? 300, 5 * 2 ** (attempts - 1));
    const message = target
      ? `cannot load ${describeTarget(target)}: ${errorMessage(error)}`
      : `cannot read the serving target: ${errorMessage(error)}`;
    this.failure = { target, message, attempts, retryAt: Date.now() + backoffSeconds * 1000 };
    this.options.log.error(
      {
        err: error,
        attempts,
        retryInSeconds: target ? backoffSeconds : undefined,
        serving: this.held ? describeTarget(this.held.version) : null,
      },
      this.held ? `${message}; still serving the previous version` : message,
    );
    this.emit({ outcome: 'failure', target, seconds: (performance.now() - started) / 1000, error: message });
  }

  private emit(event: ReloadEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private async retire(held: Held): Promise<void> {
    held.retired = true;
    if (held.users === 0) await this.release(held);
  }

  private async release(held: Held): Promise<void> {
    try {
      await held.version.close();
    } catch (error) {
      this.options.log.warn({ err: error }, `closing ${describeTarget(held.version)} failed`);
    }
  }
}
