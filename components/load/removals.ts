/**
 * Listings that leave the source. A load only ever upserts, so a removal has to be said: either the
 * source is the whole catalogue (`--full`: raw rows it no longer holds are gone), or it carries its own
 * marker (a status or deleted-at column). Both mark the raw row (`removed_at`, `removed_reason`); clean
 * then takes it out of the catalogue. A marked row that a later load sees again, unmarked, comes back.
 */
import { InputError, type Queryable } from '../core/platform/index.js';
import type { RawTable } from './raw-tables.js';
import { LIVE_STAGE_ROW, STAGE_TABLE } from './stage-table.js';

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
 * Marks and unmarks the raw rows of one table after its rows were merged, from the staging table of the
 * same transaction (see staged.ts): a staged live row unmarks its raw row, a staged row the source marks
 * removed marks it, and with --full a raw row the stage lacks is marked absent. Anti-joins in SQL: no
 * id list is held in memory, whatever the table's size.
 */
export async function applyRemovals(q: Queryable, table: RawTable, source: string, options: RemovalOptions): Promise<RemovalCounts> {
  const stage = `${STAGE_TABLE} s`;
  const live = `s.id = t.id AND ${LIVE_STAGE_ROW.replace(/\b(refusal|duplicate_of)\b/g, 's.$1')}`;
  const restored = await q.query(
    `UPDATE ${table} t SET removed_at = NULL, removed_reason = NULL FROM ${stage} WHERE t.removed_at IS NOT NULL AND ${live} AND NOT s.marked`,
  );
  let removed = 0;
  if (options.marker) {
    const result = await q.query(
      `UPDATE ${table} t SET removed_at = now(), removed_reason = $1 FROM ${stage} WHERE t.removed_at IS NULL AND ${live} AND s.marked`,
      [`${source} marks it removed (${options.marker.column})`],
    );
    removed += result.rowCount ?? 0;
  }
  if (options.full) {
    const absentRows = `NOT EXISTS (SELECT 1 FROM ${stage} WHERE ${live})`;
    const count = await q.query<{ absent: number; live: number }>(
      `SELECT count(*) FILTER (WHERE ${absentRows}) AS absent, count(*) AS live FROM ${table} t WHERE t.removed_at IS NULL`,
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
      `UPDATE ${table} t SET removed_at = now(), removed_reason = $1 WHERE t.removed_at IS NULL AND ${absentRows}`,
      [`absent from ${source} (a full load)`],
    );
    removed += result.rowCount ?? 0;
  }
  return { removed, restored: restored.rowCount ?? 0 };
}
