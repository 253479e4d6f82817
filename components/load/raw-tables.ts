/**
 * The raw tables' shape, and the rules that turn one source record (a CSV line or a row of the
 * seed's database) into a raw row. The loader keeps values as the text they arrived as: parsing
 * prices and categories is the clean step's job. It refuses only what cannot be a row at all.
 */
import crypto, { createHash } from 'node:crypto';
import type { UpsertSpec } from '../core/platform/index.js';

export type RawTable = 'products_raw' | 'images_raw';

export interface RawTableShape {
  table: RawTable;
  /** Columns every source must have (the 7-column AiCore export has these). */
  required: readonly string[];
  /** Columns some versions have (the 8,091-row export adds url, page_id, create_time). */
  optional: readonly string[];
}

export const PRODUCTS: RawTableShape = {
  table: 'products_raw',
  required: ['id', 'product_name', 'category', 'product_description', 'price', 'location'],
  optional: ['url', 'page_id', 'create_time'],
};

export const IMAGES: RawTableShape = {
  table: 'images_raw',
  required: ['id', 'product_id'],
  optional: ['bucket_link', 'image_ref', 'create_time'],
};

/** A pandas index written out as a column: `""` (to_csv's default), `Unnamed: 0` (a re-save), `index`. */
export function isIndexColumn(name: string): boolean {
  return name === '' || /^unnamed: ?\d+$/i.test(name) || name === 'index' || name === 'level_0';
}

export interface RawRow {
  id: string;
  values: Record<string, string | null>;
  extra: Record<string, string | null>;
  content_hash: string;
  source: string;
  source_line: number | null;
}

/** An id becomes a database key and, for images, an object key: keep it to printable, short text. */
const ID = /^[A-Za-z0-9._=+@,-]{1,200}$/;

export type Normalized = { ok: true; row: RawRow } | { ok: false; reason: string };

/** Postgres text cannot hold NUL; it becomes U+FFFD (the replacement character), never a failed load. */
export function storable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** A shape's source columns in order, and as a set (computed once per shape, not per record). */
const shapeColumns = new WeakMap<RawTableShape, { columns: readonly string[]; known: ReadonlySet<string> }>();
function columnsOf(shape: RawTableShape): { columns: readonly string[]; known: ReadonlySet<string> } {
  let found = shapeColumns.get(shape);
  if (!found) {
    const columns = [...shape.required, ...shape.optional];
    found = { columns, known: new Set(columns) };
    shapeColumns.set(shape, found);
  }
  return found;
}

/**
 * One record (column name -> text) to a raw row. Known columns go to their own column, unknown ones
 * to `extra` (kept, never dropped), index columns are dropped. Empty text is NULL, as pandas wrote it.
 */
export function normalizeRecord(
  shape: RawTableShape,
  record: Readonly<Record<string, string | null>>,
  source: string,
  line: number | null,
): Normalized {
  const { columns, known } = columnsOf(shape);
  const values: Record<string, string | null> = {};
  const extra: Record<string, string | null> = {};
  for (const column of columns) values[column] = null;
  let hasExtra = false;
  for (const name in record) {
    if (known.has(name)) {
      const value = record[name];
      values[name] = value === null || value === undefined || value === '' ? null : storable(value);
    } else if (!isIndexColumn(name)) {
      const value = record[name];
      extra[name] = value === null || value === undefined || value === '' ? null : storable(value);
      hasExtra = true;
    }
  }
  const id = values['id']?.trim() ?? '';
  if (id === '') return { ok: false, reason: 'missing id' };
  if (!ID.test(id)) return { ok: false, reason: `id '${id.slice(0, 60)}' is not 1-200 characters of letters, digits and ._=+@,-` };
  values['id'] = id;
  const ordered = columns.map((column) => values[column] ?? null);
  return {
    ok: true,
    row: { id, values, extra, content_hash: contentHash(ordered, hasExtra ? extra : undefined), source, source_line: line },
  };
}

/** sha256 over the source columns in a fixed order: equal content, equal hash, whatever the source. */
function contentHash(ordered: readonly (string | null)[], extra: Record<string, string | null> | undefined): string {
  const sortedExtra = extra
    ? Object.keys(extra)
        .sort()
        .map((key) => [key, extra[key]])
    : [];
  return sha256Hex(JSON.stringify([ordered, sortedExtra]));
}

/** crypto.hash (one call, no Hash object: a third of createHash's cost per row) where Node has it. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
}

/** The upsert of a raw table: rewritten only when the content hash changes. */
export function rawUpsertSpec(shape: RawTableShape): UpsertSpec {
  const columns: Record<string, string> = {};
  for (const column of [...shape.required, ...shape.optional]) columns[column] = 'text';
  Object.assign(columns, { extra: 'jsonb', content_hash: 'text', source: 'text', source_line: 'integer' });
  return { table: shape.table, columns, key: ['id'], changeColumns: ['content_hash'], touch: ['updated_at'] };
}

/** A raw row as the upsert takes it. */
export function toUpsertRow(row: RawRow): Record<string, unknown> {
  return { ...row.values, extra: row.extra, content_hash: row.content_hash, source: row.source, source_line: row.source_line };
}

export const REFUSALS_UPSERT: UpsertSpec = {
  table: 'load_refusals',
  columns: { source: 'text', raw_hash: 'text', line: 'integer', reason: 'text', raw: 'text' },
  key: ['source', 'raw_hash'],
  changeColumns: ['line', 'reason'],
  touch: ['updated_at'],
};

export function rawHash(raw: string): string {
  return sha256Hex(raw);
}
