/**
 * Listings that leave the source. A load only ever upserts, so a removal has to be said: either the
 * source is the whole catalogue (`--full`: raw rows it no longer holds are gone), or it carries its own
 * marker (a status or deleted-at column). Both mark the raw row (`removed_at`, `removed_reason`); clean
 * then takes it out of the catalogue. A marked row that a later load sees again, unmarked, comes back.
 */
import { InputError, type Queryable } from '../core/platform/index.js';
import type { RawTable } from './raw-tables.js';

export interface RemovalMarker {
  /** The source column that says a row is gone (`deleted_at`, `status`). */
  column: string;
  /** Values of that column that mean removed; without them, any value but empty, `false` or `0` does. */
  values?: readonly string[];
}

export interface RemovalOptions {
  /** The source is the whole catalogue: raw rows it does not hold are marked removed. */
  full?: boolean;
  marker?: RemovalMarker;
  /**
   * A load that would mark more than this fraction of the live rows as removed is refused (a truncated
   * or wrong file given with --full would otherwise empty the catalogue). Default 0.5.
   */
  maxFraction?: number;
}

export interface RemovalCounts {
  /** Rows this load marked removed (absent with --full, or marked by the source). */
  removed: number;
  /** Rows marked removed before that this load saw again, live: unmarked. */
  restored: number;
}

const NOT_REMOVED = new Set(['', 'false', 'f', '0', 'no', 'n']);

/** Whether a source record carries the removal marker. */
export function markedRemoved(record: Readonly<Record<string, string | null>>, marker: RemovalMarker): boolean {
  const value = record[marker.column];
  if (value === null || value === undefined) return false;
  if (marker.values) return marker.values.includes(value);
  return !NOT_REMOVED.has(value.trim().toLowerCase());
}

/**
 * Marks and unmarks the raw rows of one table after its rows were upserted: `seen` are the ids the
 * source holds live, `marked` those it holds with its removal marker. One statement each, ids as arrays.
 */
export async function applyRemovals(
  q: Queryable,
  table: RawTable,
  source: string,
  seen: ReadonlySet<string>,
  marked: ReadonlySet<string>,
  options: RemovalOptions,
): Promise<RemovalCounts> {
  const live = [...seen];
  const gone = [...marked];
  const restored = await q.query(
    `UPDATE ${table} SET removed_at = NULL, removed_reason = NULL WHERE removed_at IS NOT NULL AND id = ANY($1::text[])`,
    [live],
  );
  let removed = 0;
  if (gone.length > 0) {
    const column = options.marker?.column ?? '';
    const result = await q.query(
      `UPDATE ${table} SET removed_at = now(), removed_reason = $2 WHERE removed_at IS NULL AND id = ANY($1::text[])`,
      [gone, `${source} marks it removed (${column})`],
    );
    removed += result.rowCount ?? 0;
  }
  if (options.full) {
    const count = await q.query<{ absent: number; live: number }>(
      `SELECT count(*) FILTER (WHERE NOT (id = ANY($1::text[])) AND NOT (id = ANY($2::text[]))) AS absent, count(*) AS live
         FROM ${table} WHERE removed_at IS NULL`,
      [live, gone],
    );
    const absent = Number(count.rows[0]?.absent ?? 0);
    const liveRows = Number(count.rows[0]?.live ?? 0);
    const maxFraction = options.maxFraction ?? 0.5;
    if (absent > 0 && absent > maxFraction * liveRows) {
      throw new InputError(
        `${source} is given as the whole catalogue (--full) but lacks ${absent} of the ${liveRows} live rows of ${table}: ` +
          `refusing to mark more than ${Math.round(maxFraction * 100)}% removed at once (a truncated or wrong file?); ` +
          'nothing was marked. Raise --max-removed-fraction if that many listings really left.',
      );
    }
    const result = await q.query(
      `UPDATE ${table} SET removed_at = now(), removed_reason = $3
        WHERE removed_at IS NULL AND NOT (id = ANY($1::text[])) AND NOT (id = ANY($2::text[]))`,
      [live, gone, `absent from ${source} (a full load)`],
    );
    removed += result.rowCount ?? 0;
  }
  return { removed, restored: restored.rowCount ?? 0 };
}
