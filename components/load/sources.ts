/**
 * Where raw records come from: the AiCore CSV files, or the `products`/`images` tables of the seed's
 * own Postgres database. Both yield the same thing: records of column name -> text with their line
 * (or row number), or a record that could not be parsed with the reason.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { errorMessage, InputError, maskUrl } from '../core/platform/index.js';
import { readCsv } from './csv-reader.js';
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
 * An AiCore CSV file, read by csv-reader.ts. Records end at LF or CRLF only: the real Products.csv has
 * thousands of bare CRs inside unquoted descriptions (old line breaks) that a default parser would take
 * for row ends. Quoted fields may span lines. A BOM is dropped. A malformed record is reported with its
 * line and the reading goes on with the next one.
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
      let header: string[] | undefined;
      for await (const batch of readCsv(file)) {
        for (const item of batch) {
          if (!('fields' in item)) {
            yield { ok: false, line: item.line, reason: `CSV syntax: ${item.error}`, raw: item.raw };
            continue;
          }
          const fields = item.fields;
          if (!header) {
            header = fields.map((name) => name.trim());
            checkColumns(file, shape, header);
            continue;
          }
          if (fields.length !== header.length) {
            yield { ok: false, line: item.line, reason: `expected ${header.length} fields, found ${fields.length}`, raw: item.raw };
            continue;
          }
          const record: Record<string, string | null> = {};
          for (let i = 0; i < header.length; i++) record[header[i]!] = fields[i]!;
          yield { ok: true, line: item.line, record, raw: item.raw };
        }
      }
      if (!header) throw new InputError(`${file}: empty file (no header line)`);
    },
  };
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
