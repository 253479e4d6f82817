import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { errorMessage } from '../errors.js';
import { maskUrl } from '../secrets.js';
import { parseNumber, PG_TYPES, type Database, type Queryable, type QueryResult } from './database.js';

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === PG_TYPES.INT8 || oid === PG_TYPES.NUMERIC) return parseNumber;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

/** A Postgres server through a `pg` connection pool. */
export async function openPostgres(url: string, options: { maxConnections?: number } = {}): Promise<Database> {
  const description = maskUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 4, types });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);

  const wrap = (error: unknown): Error => {
    const message = errorMessage(error);
    const code = (error as { code?: string }).code;
    // Refused, unreachable, shut down (57P01 admin shutdown, 57P02 crash, 57P03 starting) or dropped mid-query.
    const lost = ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03'].includes(code ?? '');
    if (lost || /Connection terminated|connection is closed/i.test(message)) {
      return new Error(`cannot reach Postgres at ${description}: ${message}`, { cause: error });
    }
    return error instanceof Error ? error : new Error(message);
  };

  const run = async <R extends object>(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    try {
      const result = await client.query(sql, params ? [...params] : undefined);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 } satisfies QueryResult<R>;
    } catch (error) {
      throw wrap(error);
    }
  };

  const copy = async (client: pg.PoolClient, sql: string, chunks: AsyncIterable<string | Uint8Array>): Promise<number> => {
    try {
      const stream = client.query(copyFromStdin(sql));
      await pipeline(Readable.from(chunks), stream);
      return stream.rowCount ?? 0;
    } catch (error) {
      throw wrap(error);
    }
  };

  // Fail now, with the masked address, rather than at the first real query.
  await run(pool, 'SELECT 1');

  return {
    kind: 'postgres',
    description,
    query: (sql, params) => run(pool, sql, params),
    // Without parameters pg uses the simple query protocol, which takes several statements.
    exec: async (sql) => void (await run(pool, sql)),
    async copyFrom(sql, chunks) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw wrap(error);
      }
      let failed = false;
      try {
        return await copy(client, sql, chunks);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        client.release(failed ? true : undefined);
      }
    },
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw wrap(error);
      }
      // A connection that dies between two statements errors on the client, not on a query: without a
      // listener that would crash the process instead of failing this transaction.
      let lostConnection: unknown;
      const onError = (error: unknown) => (lostConnection = error);
      client.on('error', onError);
      const tx: Queryable = {
        query: (sql, params) => run(client, sql, params),
        exec: async (sql) => void (await run(client, sql)),
        copyFrom: (sql, chunks) => copy(client, sql, chunks),
      };
      let failed = false;
      try {
        await client.query('BEGIN');
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        failed = true;
        await client.query('ROLLBACK').catch(() => undefined);
        throw wrap(lostConnection ?? error);
      } finally {
        client.off('error', onError);
        // A client whose connection failed is destroyed, not returned to the pool.
        client.release(failed && lostConnection !== undefined ? true : undefined);
      }
    },
    close: () => pool.end(),
  };
}
