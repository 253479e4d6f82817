/**
 * Where raw records come from: the AiCore CSV files, or the `products`/`images` tables of the seed's
 * own Postgres database. Both yield the same thing: records of column name -> text with their line
 * (or row number), or a record that could not be parsed with the reason.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { parse } from 'csv-parse';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { errorMessage, InputError, maskUrl } from '../core/platform/index.js';
import { isIndexColumn, type RawTableShape } from './raw-tables.js';

export type SourceRecord =
  | { ok: true; line: number; record: Record<string, string | null>; raw: string }
  | { ok: false; line: number; reason: string; raw: string };

export interface RecordSource {
  /** Short name stored with each row and refusal: `Products.csv`, `postgres:products`. */
  label: string;
  records(): AsyncIterable<SourceRecord>;
}

function checkColumns(where: string, shape: RawTableShape, columns: readonly string[]): void {
  const missing = shape.required.filter((column) => !columns.includes(column));
  if (missing.length > 0) {
    const found = columns.filter((c) => !isIndexColumn(c)).join(', ') || '(none)';
    throw new InputError(`${where}: missing column(s) ${missing.join(', ')}; found ${found}`);
  }
}

/**
 * An AiCore CSV file. Records end at LF or CRLF only: the real Products.csv has thousands of bare CRs
 * inside unquoted descriptions (old line breaks) that a default parser would take for row ends.
 * Quoted fields may span lines. A BOM is dropped. A malformed record is reported with its line and
 * the parse goes on with the next one.
 */
export function csvSource(file: string, shape: RawTableShape): RecordSource {
  const label = path.basename(file);
  return {
    label,
    async *records() {
      try {
        await access(file);
      } catch {
        throw new InputError(`${file}: file not found`);
      }
      // csv-parse counts a bare CR as a line break in its own line numbers, so lines are counted here,
      // from the byte offsets of the LF characters in the file as it streams past.
      const lines = new LineIndex();
      // Refused records wait here with their byte offset, to be yielded in file order: the parser
      // reports them while it reads ahead of the records we have yielded so far.
      const skipped: { at: number; reason: string; raw: string }[] = [];
      const parser = createReadStream(file)
        .pipe(lines.observer())
        .pipe(
          parse({
            bom: true,
            record_delimiter: ['\r\n', '\n'],
            relax_column_count: true,
            skip_empty_lines: true,
            skip_records_with_error: true,
            info: true,
            raw: true,
            on_skip: (error, raw) => {
              const at = (error as { bytes?: number } | undefined)?.bytes ?? 0;
              const reason = `CSV syntax: ${error?.message.replace(/ at line \d+/, '') ?? 'unreadable record'}`;
              skipped.push({ at, reason, raw: raw ?? '' });
              return undefined;
            },
          }),
        );
      let lastRefusedLine = 0;
      const skippedBefore = function* (offset: number): Generator<SourceRecord> {
        while (skipped.length > 0 && (skipped[0]?.at ?? Infinity) < offset) {
          const { at, reason, raw } = skipped.shift()!;
          const text = lines.lineText(at) || raw;
          const line = lines.lineOf(at);
          // One broken record can raise several errors as the parser resyncs: report it once.
          if (line !== lastRefusedLine) yield { ok: false, line, reason, raw: text };
          lastRefusedLine = line;
        }
      };
      let header: string[] | undefined;
      for await (const item of parser as AsyncIterable<{ record: string[]; info: { bytes: number }; raw: string }>) {
        yield* skippedBefore(item.info.bytes);
        // raw ends with part or all of the record delimiter, depending on which one matched.
        const raw = item.raw.replace(/(\r\n|\n|\r)$/, '');
        // info.bytes is the offset just past the record's LF; the record starts as many lines above
        // that LF's line as it has line breaks inside quoted fields.
        const line = lines.lineOf(item.info.bytes - 1) - countLf(raw);
        if (!header) {
          header = item.record.map((name) => name.trim());
          checkColumns(file, shape, header);
          continue;
        }
        if (item.record.length !== header.length) {
          yield { ok: false, line, reason: `expected ${header.length} fields, found ${item.record.length}`, raw };
          continue;
        }
        const record: Record<string, string | null> = {};
        header.forEach((name, i) => (record[name] = item.record[i] ?? null));
        yield { ok: true, line, record, raw };
      }
      yield* skippedBefore(Infinity);
      if (!header) throw new InputError(`${file}: empty file (no header line)`);
    },
  };
}

function countLf(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

/**
 * The file's lines as it streams past the parser: byte offsets of its LF characters, and the bytes
 * themselves for as long as a query may still need them. Queries come in file order (records, and
 * refused records, are yielded in order), so what lies before the last query is dropped as it goes.
 */
class LineIndex {
  private offsets: number[] = []; // LF offsets not yet dropped
  private droppedLf = 0; // LFs dropped from the front of `offsets`
  private lastDroppedLf = -1; // offset of the last dropped LF
  private chunks: { start: number; data: Buffer }[] = [];
  private seen = 0; // bytes observed
  private cursor = 0; // index in `offsets` of the first LF at or after the last offset asked for

  observer(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.offsets.push(this.seen + i);
        this.chunks.push({ start: this.seen, data: chunk });
        this.seen += chunk.length;
        done(null, chunk);
      },
    });
  }

  /** 1-based number of the line holding byte `offset` (offsets asked for never decrease). */
  lineOf(offset: number): number {
    while (this.cursor < this.offsets.length && (this.offsets[this.cursor] ?? Infinity) < offset) this.cursor += 1;
    const line = this.droppedLf + this.cursor + 1;
    this.dropBefore(this.cursor);
    return line;
  }

  /** The text of the line holding byte `offset` (call before lineOf moves past it). */
  lineText(offset: number): string {
    const previous = [this.lastDroppedLf, ...this.offsets].filter((lf) => lf < offset).at(-1) ?? -1;
    const next = this.offsets.find((lf) => lf >= offset) ?? this.seen;
    const parts = this.chunks
      .filter((chunk) => chunk.start + chunk.data.length > previous + 1 && chunk.start < next)
      .map((chunk) => chunk.data.subarray(Math.max(0, previous + 1 - chunk.start), Math.max(0, next - chunk.start)));
    return Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
  }

  /** Forgets LFs before index `count` (keeping the one just before) and the bytes before them. */
  private dropBefore(count: number): void {
    if (count < 1024) return;
    const keep = count - 1;
    this.lastDroppedLf = this.offsets[keep - 1] ?? this.lastDroppedLf;
    this.offsets = this.offsets.slice(keep);
    this.droppedLf += keep;
    this.cursor -= keep;
    const from = this.lastDroppedLf + 1;
    this.chunks = this.chunks.filter((chunk) => chunk.start + chunk.data.length > from);
  }
}

const TABLE_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** Text of one JSON value as a raw column holds it. */
function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * A table of the seed's source database, read through a server-side cursor: one consistent snapshot,
 * a batch of rows in memory at a time. Rows come as JSON (`to_jsonb`), so any column set works.
 */
export function postgresTableSource(url: string, table: string, shape: RawTableShape, batchSize = 1000): RecordSource {
  if (!TABLE_NAME.test(table)) throw new InputError(`--from: '${table}' is not a plain table name`);
  const where = `${maskUrl(url)} table ${table}`;
  return {
    label: `postgres:${table}`,
    async *records() {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => undefined);
      try {
        await client.connect();
      } catch (error) {
        throw new Error(`cannot reach the source database ${maskUrl(url)}: ${errorMessage(error)}`, { cause: error });
      }
      try {
        const [schema, name] = table.includes('.') ? table.split('.') : ['public', table];
        const columns = await client.query<{ column_name: string }>(
          'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
          [schema, name],
        );
        if (columns.rows.length === 0) throw new InputError(`${where}: no such table in the source database`);
        checkColumns(
          where,
          shape,
          columns.rows.map((row) => row.column_name),
        );
        const cursor = client.query(new Cursor<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) AS row FROM ${table} t`));
        let number = 0;
        for (;;) {
          const rows = await cursor.read(batchSize);
          if (rows.length === 0) break;
          for (const { row } of rows) {
            number += 1;
            const record: Record<string, string | null> = {};
            for (const [column, value] of Object.entries(row)) record[column] = asText(value);
            yield { ok: true, line: number, record, raw: JSON.stringify(row) };
          }
        }
        await cursor.close();
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
