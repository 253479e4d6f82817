/**
 * The staged load of one raw table: every record of the source is streamed into a temporary staging
 * table with `COPY … FROM STDIN` (rows and refused lines alike, in COPY text format), then merged into
 * the raw table in SQL, in the same transaction:
 *   - a repeated id is refused in SQL (the first line wins, as before: "duplicate id X (first on line N)");
 *   - `INSERT … SELECT … ON CONFLICT (id) DO UPDATE … WHERE content_hash IS DISTINCT FROM …` rewrites only
 *     changed rows; the counts come back as one row (inserted, updated), never one row per listing;
 *   - refusals go to `load_refusals` with their raw hash computed in SQL (sha256 of the UTF-8 text, the
 *     same hash the loader computed in JS);
 *   - removals (--full, or the source's marker) are anti-joins against the staging table.
 * A kill at any point leaves the table as it was before the load of this table or after it, never between.
 *
 * Memory is bounded whatever the file size: nothing per row is kept in JS. The one structure that
 * remembers ids across the stream is a Bloom filter of fixed size (16 MiB): a row whose id it may have
 * seen carries its raw line into the staging table, so that SQL can store it as a refusal if it is a
 * real repeat. A false positive costs a few bytes of staging, never a wrong answer; past ~10^7 rows in
 * one load more rows carry their raw text (the filter fills up), still correct and bounded.
 */
import type { Queryable } from '../core/platform/index.js';
import { normalizeRecord, storable, type RawTableShape } from './raw-tables.js';
import { markedRemoved, type RemovalMarker } from './removals.js';
import type { RecordSource } from './sources.js';
import { LIVE_STAGE_ROW, STAGE_TABLE } from './stage-table.js';

/** A fixed-size Bloom filter over strings (k = 3 probes by double hashing). */
export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  constructor(log2Bits = 27) {
    if (!Number.isInteger(log2Bits) || log2Bits < 5 || log2Bits > 32) throw new Error(`a Bloom filter of 2^${log2Bits} bits: give 5..32`);
    this.bits = new Uint32Array(2 ** (log2Bits - 5));
    this.mask = 2 ** log2Bits - 1;
  }

  /** Adds `key`; true when it may have been added before (false: certainly new). */
  addAndCheck(key: string): boolean {
    // FNV-1a and a multiplicative second hash, both 32-bit, over the UTF-16 code units.
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    h2 |= 1;
    let seen = true;
    for (let probe = 0; probe < 3; probe++) {
      const bit = (h1 + Math.imul(probe, h2)) & this.mask;
      const word = bit >>> 5;
      const flag = 1 << (bit & 31);
      if ((this.bits[word]! & flag) === 0) {
        seen = false;
        this.bits[word]! |= flag;
      }
    }
    return seen;
  }

  get bytes(): number {
    return this.bits.byteLength;
  }
}

/** One value in COPY text format. */
export function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return /[\\\t\n\r]/.test(value)
    ? value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : value;
}

const sourceColumns = (shape: RawTableShape) => [...shape.required, ...shape.optional];

/** The staging table's columns: the raw table's source columns, then the loader's own. */
export function stageColumns(shape: RawTableShape): string[] {
  return [...sourceColumns(shape), 'extra', 'content_hash', 'source', 'source_line', 'marked', 'maybe_seen', 'refusal', 'raw'];
}

function stageDdl(shape: RawTableShape): string {
  const columns = sourceColumns(shape).map((c) => `${c} text`);
  return `CREATE TEMP TABLE ${STAGE_TABLE} (${columns.join(', ')}, extra jsonb, content_hash text, source text, source_line integer,
    marked boolean NOT NULL DEFAULT false, maybe_seen boolean NOT NULL DEFAULT false, refusal text, raw text, duplicate_of integer) ON COMMIT DROP`;
}

export interface StagedRefusal {
  source: string;
  line: number;
  reason: string;
}

export interface StageCounts {
  read: number;
  /** Rows staged as rows (before repeated ids are refused in SQL). */
  rows: number;
  /** Lines refused while reading (syntax, field count, no id). */
  refused: number;
  /** The first refusals while reading, in line order. */
  firstRefusals: StagedRefusal[];
}

export interface StageOptions {
  shape: RawTableShape;
  source: RecordSource;
  marker?: RemovalMarker;
  /** Rows per chunk handed to COPY. */
  chunkRows?: number;
  /** Refusals kept for the summary. */
  keep?: number;
  onRefusal?: (refusal: StagedRefusal) => void;
  onRecord?: () => void;
  /** Size of the Bloom filter of ids, as log2 of its bits (default 27: 16 MiB). */
  bloomLog2Bits?: number;
}

/** Streams the source into the staging table (created here, dropped at commit). */
export async function stageSource(tx: Queryable, options: StageOptions): Promise<StageCounts> {
  const { shape, source, marker } = options;
  const chunkRows = options.chunkRows ?? 2000;
  const keep = options.keep ?? 20;
  const counts: StageCounts = { read: 0, rows: 0, refused: 0, firstRefusals: [] };
  const seen = new BloomFilter(options.bloomLog2Bits);
  const columns = sourceColumns(shape);
  await tx.exec(stageDdl(shape));

  const refusalLine = (line: number, reason: string, raw: string) => {
    counts.refused += 1;
    const refusal = { source: source.label, line, reason };
    if (counts.firstRefusals.length < keep) counts.firstRefusals.push(refusal);
    options.onRefusal?.(refusal);
    const cells = [
      ...columns.map(() => '\\N'),
      '\\N',
      '\\N',
      copyText(source.label),
      String(line),
      'f',
      'f',
      copyText(reason),
      copyText(storable(raw)),
    ];
    return `${cells.join('\t')}\n`;
  };

  async function* chunks(): AsyncGenerator<string> {
    let lines: string[] = [];
    for await (const record of source.records()) {
      counts.read += 1;
      options.onRecord?.();
      if (!record.ok) {
        lines.push(refusalLine(record.line, record.reason, record.raw));
      } else {
        const normalized = normalizeRecord(shape, record.record, source.label, record.line);
        if (!normalized.ok) {
          lines.push(refusalLine(record.line, normalized.reason, record.raw));
        } else {
          const row = normalized.row;
          counts.rows += 1;
          const maybeSeen = seen.addAndCheck(row.id);
          const marked = marker ? markedRemoved(record.record, marker) : false;
          const cells = columns.map((column) => copyText(row.values[column] ?? null));
          cells.push(
            copyText(JSON.stringify(row.extra)),
            row.content_hash,
            copyText(row.source),
            row.source_line === null ? '\\N' : String(row.source_line),
          );
          cells.push(marked ? 't' : 'f', maybeSeen ? 't' : 'f', '\\N', maybeSeen ? copyText(storable(record.raw)) : '\\N');
          lines.push(`${cells.join('\t')}\n`);
        }
      }
      if (lines.length >= chunkRows) {
        yield lines.join('');
        lines = [];
      }
    }
    if (lines.length > 0) yield lines.join('');
  }

  await tx.copyFrom(`COPY ${STAGE_TABLE} (${stageColumns(shape).join(', ')}) FROM STDIN`, chunks());
  // Temporary tables are never analysed by autovacuum: give the planner the row count for the joins below.
  await tx.exec(`ANALYZE ${STAGE_TABLE}`);
  return counts;
}

export interface MergeCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Rows refused in SQL as repeats of an earlier line's id. */
  duplicates: number;
  firstDuplicates: StagedRefusal[];
}

/**
 * Refuses repeated ids, merges the staged rows into the raw table (only changed rows rewritten) and
 * stores the refusals. Run in the transaction that staged them.
 */
export async function mergeStage(tx: Queryable, shape: RawTableShape, keep = 20): Promise<MergeCounts> {
  // Repeats: only rows the Bloom filter flagged can be one; each is matched against every earlier line.
  const duplicates = await tx.query(
    `UPDATE ${STAGE_TABLE} d SET duplicate_of = f.first_line
       FROM (SELECT r.source_line, min(s.source_line) AS first_line
               FROM ${STAGE_TABLE} r JOIN ${STAGE_TABLE} s ON s.id = r.id AND s.source_line < r.source_line AND s.refusal IS NULL
              WHERE r.maybe_seen AND r.refusal IS NULL
              GROUP BY r.source_line) f
      WHERE d.maybe_seen AND d.refusal IS NULL AND d.source_line = f.source_line`,
  );
  const columns = [...sourceColumns(shape), 'extra', 'content_hash', 'source', 'source_line'];
  const updates = [...columns.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`), 'updated_at = now()'];
  const merged = await tx.query<{ inserted: number; updated: number; staged: number }>(
    `WITH merged AS (
       INSERT INTO ${shape.table} (${columns.join(', ')})
       SELECT ${columns.join(', ')} FROM ${STAGE_TABLE} WHERE ${LIVE_STAGE_ROW}
       ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}
       WHERE ${shape.table}.content_hash IS DISTINCT FROM EXCLUDED.content_hash
       RETURNING (xmax = 0) AS inserted
     )
     SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated,
            (SELECT count(*) FROM ${STAGE_TABLE} WHERE ${LIVE_STAGE_ROW}) AS staged
       FROM merged`,
  );
  // Refusals, one per distinct raw text (the last line that had it, as a reload would leave it).
  await tx.query(
    `INSERT INTO load_refusals (source, raw_hash, line, reason, raw)
     SELECT DISTINCT ON (raw_hash) source, raw_hash, line, reason, raw FROM (
       SELECT source, encode(sha256(convert_to(raw, 'UTF8')), 'hex') AS raw_hash, source_line AS line,
              coalesce(refusal, 'duplicate id ' || id || ' (first on line ' || duplicate_of || ')') AS reason, raw
         FROM ${STAGE_TABLE} WHERE refusal IS NOT NULL OR duplicate_of IS NOT NULL) refused
     ORDER BY raw_hash, line DESC
     ON CONFLICT (source, raw_hash) DO UPDATE SET line = EXCLUDED.line, reason = EXCLUDED.reason, updated_at = now()
     WHERE (load_refusals.line, load_refusals.reason) IS DISTINCT FROM (EXCLUDED.line, EXCLUDED.reason)`,
  );
  const first = await tx.query<{ source: string; line: number; reason: string }>(
    `SELECT source, source_line AS line, 'duplicate id ' || id || ' (first on line ' || duplicate_of || ')' AS reason
       FROM ${STAGE_TABLE} WHERE duplicate_of IS NOT NULL ORDER BY source_line LIMIT $1`,
    [keep],
  );
  const row = merged.rows[0] ?? { inserted: 0, updated: 0, staged: 0 };
  const inserted = Number(row.inserted);
  const updated = Number(row.updated);
  return {
    inserted,
    updated,
    unchanged: Number(row.staged) - inserted - updated,
    duplicates: duplicates.rowCount,
    firstDuplicates: first.rows.map((r) => ({ source: r.source, line: Number(r.line), reason: r.reason })),
  };
}

/** Of `ids`, those the staging table holds as loaded, live rows (pages of 10,000 ids). */
export async function liveStagedAmong(tx: Queryable, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let start = 0; start < ids.length; start += 10_000) {
    const page = await tx.query<{ id: string }>(
      `SELECT id FROM ${STAGE_TABLE} WHERE ${LIVE_STAGE_ROW} AND NOT marked AND id = ANY($1::text[])`,
      [ids.slice(start, start + 10_000)],
    );
    for (const row of page.rows) out.add(row.id);
  }
  return out;
}

/** How many staged rows are loaded and live (not marked removed by the source). */
export async function liveStagedCount(tx: Queryable): Promise<number> {
  const result = await tx.query<{ n: number }>(`SELECT count(*) AS n FROM ${STAGE_TABLE} WHERE ${LIVE_STAGE_ROW} AND NOT marked`);
  return Number(result.rows[0]?.n ?? 0);
}
