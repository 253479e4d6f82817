/**
 * The staged load of one raw table: every record of the source is streamed into a temporary staging
 * table with `COPY … FROM STDIN` (rows and refused lines alike, in COPY text format), then merged into
 * the raw table in SQL, in the same transaction:
 *   - a repeated id is refused in SQL (the first line wins, as before: "duplicate id X (first on line N)");
 *   - `INSERT … SELECT … ON CONFLICT (id) DO UPDATE … WHERE content_hash IS DISTINCT FROM …` rewrites only
 *     changed rows (and runs only when some row is new or changed); the counts come from one join before
 *     it, as one row (inserted, updated), never one row per listing;
 *   - refusals go to `load_refusals` with their raw hash computed in SQL (sha256 of the UTF-8 text, the
 *     same hash the loader computed in JS);
 *   - removals (--full, or the source's marker) are anti-joins against the staging table.
 * A first load (the raw table empty, `direct`) copies each row that is certainly the first of its id
 * straight into the raw table, as psql COPY would, and stages only the rest (refusals, possible repeats,
 * rows the source marks removed): one write per row instead of two.
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

/**
 * A chunk of COPY data as UTF-8 bytes, each line encoded as it is added (building one long string and
 * encoding it at the end cost a third of the staging time in flattening it).
 */
class ChunkWriter {
  private buffer = Buffer.allocUnsafe(1 << 18);
  size = 0;

  write(line: string): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes.
    if (this.size + line.length * 3 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.size + line.length * 3));
      this.buffer.copy(bigger, 0, 0, this.size);
      this.buffer = bigger;
    }
    this.size += this.buffer.write(line, this.size);
  }

  /** The bytes written so far (a copy), and a fresh start. */
  take(): Uint8Array {
    const bytes = Buffer.from(this.buffer.subarray(0, this.size));
    this.size = 0;
    return bytes;
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
  /**
   * The raw table was empty when this load took it (and it stays locked until commit): every row that
   * is certainly the first of its id in the source was copied straight into it, the rest staged.
   */
  direct: boolean;
  /** Rows copied straight into the raw table. */
  directRows: number;
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
  /**
   * When the raw table is empty (a first load), copy each row that is certainly the first of its id
   * (the Bloom filter has not seen it) and not marked removed straight into it: one write per row, as
   * COPY itself, instead of staging and merging it. The table is locked against other writers
   * (SHARE ROW EXCLUSIVE: readers go on) for the rest of the transaction. Default false.
   */
  direct?: boolean;
  /** With `direct`: stage lines held back before they are copied, in bytes (default 4 MiB; tests make it small). */
  holdBytes?: number;
}

/**
 * Streams the source into the staging table (created here, dropped at commit), or with `direct` on an
 * empty raw table, its first occurrences straight into the raw table and the rest into the staging table.
 */
export async function stageSource(tx: Queryable, options: StageOptions): Promise<StageCounts> {
  const { shape, source, marker } = options;
  const chunkRows = options.chunkRows ?? 2000;
  const keep = options.keep ?? 20;
  const counts: StageCounts = { read: 0, rows: 0, refused: 0, firstRefusals: [], direct: false, directRows: 0 };
  const seen = new BloomFilter(options.bloomLog2Bits);
  const columns = sourceColumns(shape);
  await tx.exec(stageDdl(shape));
  if (options.direct) {
    await tx.exec(`LOCK TABLE ${shape.table} IN SHARE ROW EXCLUSIVE MODE`);
    const any = await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${shape.table}) AS any`);
    counts.direct = any.rows[0]?.any === false;
  }

  const sourceCell = copyText(source.label);
  const nullColumns = columns.map(() => '\\N').join('\t');
  const refusalLine = (line: number, reason: string, raw: string) => {
    counts.refused += 1;
    const refusal = { source: source.label, line, reason };
    if (counts.firstRefusals.length < keep) counts.firstRefusals.push(refusal);
    options.onRefusal?.(refusal);
    return `${nullColumns}\t\\N\t\\N\t${sourceCell}\t${line}\tf\tf\t${copyText(reason)}\t${copyText(storable(raw))}\n`;
  };

  // Every record becomes one line in COPY text format, for the staging table or (direct) the raw table.
  // Lines for the staging table wait in `held` while a COPY into the raw table is open (one COPY at a
  // time on a connection); past `holdBytes` that COPY ends, they are copied, and a new one starts. They
  // wait as bytes: a line kept as text would keep alive the whole piece of the file its fields were cut
  // from (V8's sliced strings), 64 KiB a refusal.
  const records = source.records()[Symbol.asyncIterator]();
  let finished = false;
  const held = new ChunkWriter();
  const holdBytes = options.holdBytes ?? 4 << 20;
  async function* chunks(direct: boolean): AsyncGenerator<Uint8Array> {
    const out = new ChunkWriter();
    let rows = 0;
    while (!direct || held.size < holdBytes) {
      const next = await records.next();
      if (next.done) {
        finished = true;
        break;
      }
      const record = next.value;
      counts.read += 1;
      options.onRecord?.();
      let line: string;
      let toTable = false;
      if (!record.ok) {
        line = refusalLine(record.line, record.reason, record.raw);
      } else {
        const normalized = normalizeRecord(shape, record.record, source.label, record.line);
        if (!normalized.ok) {
          line = refusalLine(record.line, normalized.reason, record.raw);
        } else {
          const row = normalized.row;
          counts.rows += 1;
          const maybeSeen = seen.addAndCheck(row.id);
          const marked = marker ? markedRemoved(record.record, marker) : false;
          line = '';
          for (const column of columns) line += `${copyText(row.values[column] ?? null)}\t`;
          line += `${copyText(JSON.stringify(row.extra))}\t${row.content_hash}\t${sourceCell}\t${row.source_line === null ? '\\N' : row.source_line}`;
          toTable = direct && !maybeSeen && !marked;
          if (toTable) {
            line += '\n';
            counts.directRows += 1;
          } else {
            line += `\t${marked ? 't' : 'f'}\t${maybeSeen ? `t\t\\N\t${copyText(storable(record.raw))}` : 'f\t\\N\t\\N'}\n`;
          }
        }
      }
      if (direct && !toTable) held.write(line);
      else out.write(line);
      if (++rows >= chunkRows) {
        if (out.size > 0) yield out.take();
        rows = 0;
      }
    }
    if (out.size > 0) yield out.take();
  }

  const stageCopy = `COPY ${STAGE_TABLE} (${stageColumns(shape).join(', ')}) FROM STDIN`;
  if (!counts.direct) {
    await tx.copyFrom(stageCopy, chunks(false));
  } else {
    const tableCopy = `COPY ${shape.table} (${[...columns, 'extra', 'content_hash', 'source', 'source_line'].join(', ')}) FROM STDIN`;
    while (!finished) {
      await tx.copyFrom(tableCopy, chunks(true));
      if (held.size > 0) {
        const lines = held.take();
        await tx.copyFrom(
          stageCopy,
          (async function* () {
            yield lines;
          })(),
        );
      }
    }
  }
  // Temporary tables are never analysed by autovacuum: give the planner the row count and the statistics
  // of the columns the joins below filter and join on (the text columns' cost more than they help).
  await tx.exec(`ANALYZE ${STAGE_TABLE} (id, refusal, duplicate_of, marked, maybe_seen)`);
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
export async function mergeStage(
  tx: Queryable,
  shape: RawTableShape,
  keep = 20,
  staged: Pick<StageCounts, 'direct' | 'directRows'> = { direct: false, directRows: 0 },
): Promise<MergeCounts> {
  let duplicates = 0;
  if (staged.direct) {
    // Rows copied straight into the (then empty) raw table were each the first of its id in the source:
    // a staged row with one of their ids repeats it.
    const ofTable = await tx.query(
      `UPDATE ${STAGE_TABLE} d SET duplicate_of = t.source_line FROM ${shape.table} t
        WHERE d.maybe_seen AND d.refusal IS NULL AND t.id = d.id`,
    );
    duplicates += ofTable.rowCount;
  }
  // Repeats: only rows the Bloom filter flagged can be one; each is matched against every earlier line.
  const ofStage = await tx.query(
    `UPDATE ${STAGE_TABLE} d SET duplicate_of = f.first_line
       FROM (SELECT r.source_line, min(s.source_line) AS first_line
               FROM ${STAGE_TABLE} r JOIN ${STAGE_TABLE} s ON s.id = r.id AND s.source_line < r.source_line AND s.refusal IS NULL
              WHERE r.maybe_seen AND r.refusal IS NULL
              GROUP BY r.source_line) f
      WHERE d.maybe_seen AND d.refusal IS NULL AND d.duplicate_of IS NULL AND d.source_line = f.source_line`,
  );
  duplicates += ofStage.rowCount;
  const columns = [...sourceColumns(shape), 'extra', 'content_hash', 'source', 'source_line'];
  const updates = [...columns.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`), 'updated_at = now()'];
  // The counts, from one join before the merge (ids are unique among live staged rows, so each row is
  // new, changed or unchanged). Counting from `RETURNING` instead kept a row per listing in the
  // statement's tuplestore: a fifth of the merge's time.
  const counted = await tx.query<{ inserted: number; updated: number; staged: number }>(
    `SELECT count(*) FILTER (WHERE t.id IS NULL) AS inserted,
            count(*) FILTER (WHERE t.id IS NOT NULL AND t.content_hash IS DISTINCT FROM s.content_hash) AS updated,
            count(*) AS staged
       FROM ${STAGE_TABLE} s LEFT JOIN ${shape.table} t ON t.id = s.id
      WHERE ${LIVE_STAGE_ROW.replace(/\b(refusal|duplicate_of)\b/g, 's.$1')}`,
  );
  const row = counted.rows[0] ?? { inserted: 0, updated: 0, staged: 0 };
  const inserted = Number(row.inserted);
  const updated = Number(row.updated);
  const directRows = staged.direct ? staged.directRows : 0;
  // Only rows that are new or changed are written; a reload that changes nothing writes nothing.
  if (inserted + updated > 0) {
    await tx.query(
      `INSERT INTO ${shape.table} (${columns.join(', ')})
       SELECT ${columns.join(', ')} FROM ${STAGE_TABLE} WHERE ${LIVE_STAGE_ROW}
       ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}
       WHERE ${shape.table}.content_hash IS DISTINCT FROM EXCLUDED.content_hash`,
    );
  }
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
  return {
    inserted: inserted + directRows,
    updated,
    unchanged: Number(row.staged) - inserted - updated,
    duplicates,
    firstDuplicates: first.rows.map((r) => ({ source: r.source, line: Number(r.line), reason: r.reason })),
  };
}

/**
 * Where this load's live rows are, after the merge and removals: the staging table's loaded rows not
 * marked removed, or when the raw table was empty before the load (direct), its rows not removed.
 */
const liveRows = (staged: Pick<StageCounts, 'direct'>, table: string) =>
  staged.direct ? `${table} WHERE removed_at IS NULL` : `${STAGE_TABLE} WHERE ${LIVE_STAGE_ROW} AND NOT marked`;

/** Of `ids`, those this load holds as loaded, live rows (pages of 10,000 ids). */
export async function liveStagedAmong(
  tx: Queryable,
  ids: readonly string[],
  staged: Pick<StageCounts, 'direct'> = { direct: false },
  table = '',
): Promise<Set<string>> {
  const out = new Set<string>();
  for (let start = 0; start < ids.length; start += 10_000) {
    const page = await tx.query<{ id: string }>(`SELECT id FROM ${liveRows(staged, table)} AND id = ANY($1::text[])`, [
      ids.slice(start, start + 10_000),
    ]);
    for (const row of page.rows) out.add(row.id);
  }
  return out;
}

/** How many rows this load holds as loaded and live (not marked removed by the source). */
export async function liveStagedCount(tx: Queryable, staged: Pick<StageCounts, 'direct'> = { direct: false }, table = ''): Promise<number> {
  const result = await tx.query<{ n: number }>(`SELECT count(*) AS n FROM ${liveRows(staged, table)}`);
  return Number(result.rows[0]?.n ?? 0);
}
