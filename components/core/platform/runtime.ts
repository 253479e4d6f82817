/**
 * What a component's command opens at start: validated configuration, a logger, the database (with
 * its schema migrated) and the artifact store; `close` releases them. One place, so every component
 * starts the same way and reports where it reads and writes.
 */
import { openArtifactStore, type ArtifactStore } from './artifacts/index.js';
import { describeConfig, loadConfig, type Config } from './config.js';
import { openDatabase, type Database } from './db/index.js';
import { createLogger, type Logger } from './log.js';

export interface Runtime {
  config: Config;
  log: Logger;
  db: Database;
  store: ArtifactStore;
  close(): Promise<void>;
}

export async function openRuntime(component: string, env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const config = loadConfig(env);
  const log = createLogger(component, config.logLevel);
  log.info(describeConfig(config), `${component}: database ${describeConfig(config).database}, artifacts ${config.artifactRoot}`);
  const store = openArtifactStore(config);
  const db = await openDatabase(config.database, log);
  return { config, log, db, store, close: () => db.close() };
}

export interface StoreRuntime {
  config: Config;
  log: Logger;
  store: ArtifactStore;
}

/**
 * Configuration, logger and artifact store, without the database: for components that read and write
 * artifacts only (train, evaluate, deploy). They must not hold the embedded database's lock for
 * minutes of CPU-bound work, which would also block every other step of a local run.
 */
export async function withStore<T>(
  component: string,
  work: (runtime: StoreRuntime) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const config = loadConfig(env);
  const log = createLogger(component, config.logLevel);
  log.info(describeConfig(config), `${component}: artifacts ${config.artifactRoot}`);
  return work({ config, log, store: openArtifactStore(config) });
}

/** Runs `work` with a runtime, closing it whatever happens. */
export async function withRuntime<T>(component: string, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(component);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}
