import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import lockfile from 'proper-lockfile';
import type { Logger } from '../log.js';
import { parseNumber, PG_TYPES, type Database, type Queryable, type QueryResult } from './database.js';

const parsers = { [PG_TYPES.INT8]: parseNumber, [PG_TYPES.NUMERIC]: parseNumber };

/**
 * Embedded Postgres (PGlite) persisted in `dir`. PGlite is single-process: two processes opening one
 * data directory would corrupt it, so the directory is locked for the life of the handle. A second
 * process waits for the lock (the local runner may start tasks side by side); a lock whose owner died
 * goes stale after 30 s and is taken over.
 */
export async function openPglite(dir: string, log: Logger, options: { lockWaitSeconds?: number } = {}): Promise<Database> {
  await mkdir(dir, { recursive: true });
  const waitSeconds = options.lockWaitSeconds ?? 600;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      realpath: false,
      stale: 30_000,
      update: 10_000,
      retries: { retries: waitSeconds, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
      onCompromised: (error) => log.error({ err: error }, `lost the lock on the embedded database ${dir}`),
    });
  } catch (error) {
    throw new Error(
      `the embedded database ${dir} stayed in use by another process for ${waitSeconds} s ` +
        '(set DATABASE_URL to a Postgres server to run steps side by side)',
      { cause: error },
    );
  }

  let db: PGlite;
  try {
    db = await PGlite.create(dir, { parsers });
  } catch (error) {
    await release();
    throw error;
  }

  const run = async <R extends object>(target: Pick<PGlite, 'query'>, sql: string, params?: readonly unknown[]) => {
    const result = await target.query<R>(sql, params ? [...params] : undefined);
    return { rows: result.rows, rowCount: result.affectedRows || result.rows.length } satisfies QueryResult<R>;
  };

  // PGlite has no COPY FROM STDIN; it reads COPY data from a blob it is handed with the query. The chunks
  // are gathered into blobs of about 8 MB, each copied in turn: memory stays bounded.
  const copy = async (target: Pick<PGlite, 'query'>, sql: string, chunks: AsyncIterable<string | Uint8Array>): Promise<number> => {
    const fromBlob = sql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'");
    if (fromBlob === sql) throw new Error(`copyFrom takes COPY … FROM STDIN, not: ${sql.slice(0, 80)}`);
    let parts: (string | Uint8Array)[] = [];
    let size = 0;
    let rows = 0;
    const flush = async () => {
      if (parts.length === 0) return;
      const blob = new Blob(parts);
      parts = [];
      size = 0;
      const result = await target.query(fromBlob, [], { blob });
      rows += result.affectedRows ?? 0;
    };
    for await (const chunk of chunks) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= 8 << 20) await flush();
    }
    await flush();
    return rows;
  };

  return {
    kind: 'pglite',
    description: `pglite:${dir}`,
    query: (sql, params) => run(db, sql, params),
    exec: async (sql) => void (await db.exec(sql)),
    copyFrom: (sql, chunks) => copy(db, sql, chunks),
    transaction: <T>(work: (tx: Queryable) => Promise<T>) =>
      db.transaction((tx) =>
        work({
          query: (sql, params) => run(tx, sql, params),
          exec: async (sql) => void (await tx.exec(sql)),
          copyFrom: (sql, chunks) => copy(tx, sql, chunks),
        }),
      ),
    async close() {
      try {
        await db.close();
      } finally {
        // A lock that went stale (the event loop was blocked past the update interval) was reported
        // by onCompromised already; releasing it again must not turn a finished step into a failure.
        await release().catch((error: unknown) => log.warn({ err: error }, `could not release the lock on ${dir}`));
      }
    },
  };
}
