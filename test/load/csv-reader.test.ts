/**
 * The loader's CSV reader (components/load/csv-reader.ts) against csv-parse, which the loader used before
 * with the same rules: on any text (well-formed or not, split anywhere into pieces) it yields the records
 * csv-parse yielded, at the lines they start on, with their text; a refused record carries one of the
 * errors csv-parse raised for it. Where they differ by design: a quote left open refuses only its line.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { type CsvItem, CsvParser, MAX_RECORD_CHARS, readCsv } from '../../components/load/csv-reader.js';
import { tempDir } from '../helpers.js';

/** csv-parse with the options the loader gave it: its records and its error messages (less `at line N`). */
function csvParse(text: string): { records: string[][]; errors: { code: string; message: string }[] } {
  const errors: { code: string; message: string }[] = [];
  const records = parse(text, {
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error) => {
      if (error) errors.push({ code: (error as { code: string }).code, message: error.message.replace(/ at line \d+/, '') });
      return undefined;
    },
  }) as string[][];
  return { records, errors };
}

function readAll(pieces: readonly string[]): CsvItem[] {
  const parser = new CsvParser();
  const out: CsvItem[] = [];
  for (const piece of pieces) {
    parser.push(piece);
    for (const item of parser.records(false)) out.push(item);
  }
  parser.push('');
  for (const item of parser.records(true)) out.push(item);
  return out;
}

/** The text cut at `cuts` (never inside a surrogate pair). */
function cut(text: string, cuts: readonly number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))]
    .filter((c) => !(c > 0 && c < text.length && /[\uDC00-\uDFFF]/.test(text[c]!)))
    .sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const c of at) {
    pieces.push(text.slice(from, c));
    from = c;
  }
  pieces.push(text.slice(from));
  return pieces;
}

/** Offset of the start of 1-based line `line` (lines end at LF). */
function lineStart(text: string, line: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) at = text.indexOf('\n', at) + 1;
  return at;
}

const unit = fc.constantFrom('a', 'b', ',', ',', '"', '"', '\n', '\r', '\r\n', ' ', 'é', '😀');
const anyText = fc.string({ unit, maxLength: 60 });

describe('the CSV reader, against csv-parse', () => {
  it('reads the records csv-parse reads, at the lines they start on, whatever the text and wherever it is cut (property)', () => {
    fc.assert(
      fc.property(anyText, fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
        const reference = csvParse(text);
        fc.pre(!reference.errors.some((e) => e.code === 'CSV_QUOTE_NOT_CLOSED'));
        const items = readAll([text]);
        assert.deepEqual(readAll(cut(text, cuts)), items, 'the same records whatever the pieces');
        assert.deepEqual(
          items.flatMap((item) => ('fields' in item ? [item.fields] : [])),
          reference.records,
        );
        const refused = items.filter((item) => 'error' in item);
        assert.equal(refused.length > 0, reference.errors.length > 0);
        for (const item of refused) {
          assert.ok(
            reference.errors.some((e) => e.message === (item as { error: string }).error),
            `${JSON.stringify(item)} vs ${JSON.stringify(reference.errors)}`,
          );
        }
        for (const item of items) assert.ok(text.startsWith(item.raw, lineStart(text, item.line)), JSON.stringify(item));
      }),
      { numRuns: 3000, seed: 7 },
    );
  });

  it('refuses a quote left open on its own line and reads on (csv-parse lost the rest of the file)', () => {
    const text = 'id,name\n1,"open\n2,b\n3,c\n';
    assert.deepEqual(readAll([text]), [
      { line: 1, fields: ['id', 'name'], raw: 'id,name' },
      { line: 2, error: 'Quote Not Closed: the parsing is finished with an opening quote', raw: '1,"open' },
      { line: 3, fields: ['2', 'b'], raw: '2,b' },
      { line: 4, fields: ['3', 'c'], raw: '3,c' },
    ]);
    const long = `id,name\n1,"${'x\n'.repeat(MAX_RECORD_CHARS / 2 + 10)}`;
    const items = readAll(cut(long, [1000, 500_000, 1_500_000]));
    assert.equal(
      items[1] && 'error' in items[1] ? items[1].error : '',
      `Quote Not Closed: no closing quote within ${MAX_RECORD_CHARS} characters`,
    );
    assert.equal(items.length, 1 + MAX_RECORD_CHARS / 2 + 10, 'the header, the refused line, then each line after it');
  });

  it('reads a file with a BOM, CRLF records, a bare CR as text and multi-line quoted fields, in small pieces', async () => {
    const tmp = await tempDir('csv-reader-');
    try {
      const file = path.join(tmp.dir, 'x.csv');
      const text = '\uFEFFid,desc\r\n1,"a\r\nb ""q"""\r\n\r\n2,c\rd\n3,😀\n';
      await writeFile(file, text);
      const items: CsvItem[] = [];
      for await (const batch of readCsv(file, 3)) items.push(...batch);
      assert.deepEqual(items, [
        { line: 1, fields: ['id', 'desc'], raw: 'id,desc' },
        { line: 2, fields: ['1', 'a\r\nb "q"'], raw: '1,"a\r\nb ""q"""' },
        { line: 5, fields: ['2', 'c\rd'], raw: '2,c\rd' },
        { line: 6, fields: ['3', '😀'], raw: '3,😀' },
      ]);
    } finally {
      await tmp.remove();
    }
  });
});
