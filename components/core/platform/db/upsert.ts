/**
 * Batched, idempotent upserts. One statement per batch: the rows travel as one array parameter per
 * column (`unnest($1::text[], …)`), so a batch of any size is a handful of parameters, and
 * `ON CONFLICT … DO UPDATE … WHERE (<change columns>) IS DISTINCT FROM` rewrites a row only when its
 * content changed: loading the same data twice changes nothing, not even `updated_at`.
 */
import type { Queryable } from './database.js';

export interface UpsertSpec {
  table: string;
  /** Column name -> Postgres type used to cast its array (`text`, `integer`, `jsonb`, …). */
  columns: Readonly<Record<string, string>>;
  /** The conflict target (primary key or a unique constraint's columns). */
  key: readonly string[];
  /** Columns whose change means the row changed (a content hash). Unset: always update. */
  changeColumns?: readonly string[];
  /** Columns set to now() when a row is inserted or changed. */
  touch?: readonly string[];
}

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const TYPE = /^[a-z][a-z0-9_ ]*(\[\])?$/;

function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a plain SQL identifier: '${name}'`);
  return name;
}

/** Builds the statement once per spec; exported for tests and for reading the SQL. */
export function upsertSql(spec: UpsertSpec): string {
  const table = identifier(spec.table);
  const names = Object.keys(spec.columns).map(identifier);
  const casts = names.map((name, i) => {
    const type = spec.columns[name] ?? '';
    if (!TYPE.test(type)) throw new Error(`not a plain SQL type for ${table}.${name}: '${type}'`);
    return `$${i + 1}::${type}[]`;
  });
  const key = spec.key.map(identifier);
  const touch = (spec.touch ?? []).map(identifier);
  const updates = [
    ...names.filter((name) => !key.includes(name)).map((name) => `${name} = EXCLUDED.${name}`),
    ...touch.map((name) => `${name} = now()`),
  ];
  const change = (spec.changeColumns ?? []).map(identifier);
  const changed = `(${change.map((c) => `${table}.${c}`).join(', ')}) IS DISTINCT FROM (${change.map((c) => `EXCLUDED.${c}`).join(', ')})`;
  return [
    `INSERT INTO ${table} (${names.join(', ')})`,
    `SELECT * FROM unnest(${casts.join(', ')})`,
    updates.length > 0
      ? `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updates.join(', ')}`
      : `ON CONFLICT (${key.join(', ')}) DO NOTHING`,
    change.length > 0 && updates.length > 0 ? `WHERE ${changed}` : '',
    // xmax = 0 only for a freshly inserted row version: tells inserts from updates.
    'RETURNING (xmax = 0) AS inserted',
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * Upserts `rows` (objects keyed by column name; missing values are NULL). Rows sharing a key within
 * one call are an error: Postgres cannot update one row twice in a statement, and which should win
 * is the caller's decision.
 */
export async function upsertRows(
  q: Queryable,
  spec: UpsertSpec,
  rows: readonly Readonly<Record<string, unknown>>[],
): Promise<UpsertCounts> {
  if (rows.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  const names = Object.keys(spec.columns);
  const seen = new Set<string>();
  for (const row of rows) {
    const key = JSON.stringify(spec.key.map((k) => row[k]));
    if (seen.has(key)) throw new Error(`upsert into ${spec.table}: key ${key} appears twice in one batch`);
    seen.add(key);
  }
  const params = names.map((name) => rows.map((row) => toParam(row[name], spec.columns[name] ?? '')));
  const result = await q.query<{ inserted: boolean }>(upsertSql(spec), params);
  const inserted = result.rows.filter((row) => row.inserted).length;
  const updated = result.rows.length - inserted;
  return { inserted, updated, unchanged: rows.length - result.rows.length };
}

function toParam(value: unknown, type: string): unknown {
  if (value === undefined || value === null) return null;
  // Arrays of jsonb travel as JSON text; the cast parses them server-side.
  if (type === 'jsonb' || type === 'json') return JSON.stringify(value);
  return value;
}
