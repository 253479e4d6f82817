/**
 * One database interface over two engines that speak the same SQL: a Postgres server through `pg`
 * (RDS in production, the test server in CI) and PGlite, Postgres compiled to WebAssembly, embedded
 * in the process for the one-machine defaults. Components write plain SQL against `Queryable`.
 */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends object = Row> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  /** One statement, with `$1…` parameters. */
  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A script of several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * `COPY <table> (<columns>) FROM STDIN` fed from `chunks` (COPY text format: tab-separated, `\N` for
   * NULL, backslash escapes; text or its UTF-8 bytes), streamed with backpressure, so memory stays bounded whatever the size.
   * Resolves to the rows copied. Postgres: pg-copy-streams on the connection; PGlite: the chunks
   * gathered into blobs of a few MB, each one `COPY … FROM '/dev/blob'`.
   */
  copyFrom(sql: string, chunks: AsyncIterable<string | Uint8Array>): Promise<number>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Where it is, safe to log (password masked). */
  readonly description: string;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Postgres type OIDs parsed the same way by both engines, so results have one shape. */
export const PG_TYPES = { INT8: 20, NUMERIC: 1700 } as const;

/**
 * int8 (count(*), bigserial) and numeric come back as JS numbers on both engines. Values here are
 * counts, prices and ids far below 2^53; a column that could exceed that must be selected as text.
 */
export function parseNumber(value: string): number {
  return Number(value);
}
