import type { DatabaseConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Database } from './database.js';
import { migrate } from './migrate.js';
import { openPostgres } from './postgres.js';

export type { Database, Queryable, QueryResult, Row } from './database.js';
export { migrate, readMigrations, type Migration } from './migrate.js';
export { upsertRows, upsertSql, type UpsertCounts, type UpsertSpec } from './upsert.js';
export { openPostgres } from './postgres.js';

/**
 * Embedded Postgres (pglite.ts), its module loaded on first use: loading PGlite takes ~0.4 s, which a
 * process on a Postgres server (every step in Kubeflow, data:load into RDS) need not pay at start.
 */
export async function openPglite(...args: Parameters<typeof import('./pglite.js').openPglite>): Promise<Database> {
  const { openPglite: open } = await import('./pglite.js');
  return open(...args);
}

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(config: DatabaseConfig, log: Logger): Promise<Database> {
  const db = config.kind === 'postgres' ? await openPostgres(config.url) : await openPglite(config.dir, log);
  try {
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ database: db.description, applied }, `applied ${applied.length} migration(s)`);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
