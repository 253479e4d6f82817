/**
 * A streaming CSV reader for the AiCore export, several times faster than csv-parse on it (csv-parse
 * walks the file byte by byte through a function call per byte: ~17 MB/s here, a third of the load's
 * time at 10^5 listings). It reads the file as text and finds each field's end with `indexOf`.
 *
 * It reads what csv-parse read with the options the loader gave it (`bom`, `record_delimiter: ['\r\n',
 * '\n']`, `relax_column_count`, `skip_empty_lines`, `skip_records_with_error`), tested against it:
 *   - records end at LF or CRLF only: a bare CR is text (the real Products.csv has thousands of them);
 *   - a field that starts with `"` is quoted: it may hold `,`, CR and LF, `""` is one quote, and it ends
 *     at a quote followed by `,`, LF, CRLF or the end of the file;
 *   - a quote inside an unquoted field, or a closing quote followed by anything else, makes the record
 *     a syntax error, with csv-parse's message for the first such error;
 *   - empty lines are skipped (they still count as lines); a UTF-8 (or UTF-16) byte order mark is dropped.
 * Each record comes with the number of the line it starts on (lines end at LF) and its text without the
 * record delimiter. A record refused for its syntax is reported once, at the line it starts on, with its
 * whole text (csv-parse reported the line of the field in error and that line's text, once per line).
 * A quote left open does not swallow the rest of the file (as it did with csv-parse): the line it opens
 * on is refused and reading goes on at the next line, once the file ends or the open record passes
 * MAX_RECORD_CHARS (so memory stays bounded).
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export type CsvItem = { line: number; fields: string[]; raw: string } | { line: number; error: string; raw: string };

/** Past this many characters a record whose quote never closed is refused line by line. */
export const MAX_RECORD_CHARS = 1 << 20;

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** csv-parse's messages (less their `at line N`, as the loader stored them). */
const closingQuoteError = (next: string) =>
  `Invalid Closing Quote: got "${next}" instead of delimiter, record delimiter, trimable character (if activated) or comment`;
const openingQuoteError = (column: number, value: string) =>
  `Invalid Opening Quote: a quote is found on field ${column}, value is ${JSON.stringify(value)}`;
const QUOTE_NOT_CLOSED = 'Quote Not Closed: the parsing is finished with an opening quote';
const TOO_LONG = `Quote Not Closed: no closing quote within ${MAX_RECORD_CHARS} characters`;

/** csv-parse reports the byte after a closing quote, as a character code: the first UTF-8 byte of it. */
function byteAt(text: string, at: number): string {
  const code = text.codePointAt(at)!;
  return code < 0x80 ? String.fromCharCode(code) : String.fromCharCode(Buffer.from(String.fromCodePoint(code))[0]!);
}

/**
 * The parser over text that arrives in pieces. `push` adds text; `records` returns the records complete
 * so far (with `end`, all of them). Lines are numbered from 1.
 */
export class CsvParser {
  private buf = '';
  private pos = 0;
  private line = 1;
  /** Position of the next quote at or after `pos` in `buf` (-1: none), or -2 when not known. */
  private nextQuote = -2;

  push(text: string): void {
    this.buf = this.pos < this.buf.length ? this.buf.slice(this.pos) + text : text;
    this.pos = 0;
    this.nextQuote = -2;
  }

  /** The records complete in what was pushed; `end`: there is no more text, so the last one is complete too. */
  records(end: boolean): CsvItem[] {
    const out: CsvItem[] = [];
    const buf = this.buf;
    for (;;) {
      const start = this.pos;
      if (start >= buf.length) break;
      let lf = buf.indexOf('\n', start);
      if (lf === -1) {
        if (!end) break;
        lf = buf.length;
      }
      if (this.nextQuote !== -1 && this.nextQuote < start) this.nextQuote = buf.indexOf('"', start);
      if (this.nextQuote === -1 || this.nextQuote > lf) {
        // No quote before the line's end: the record is this line, its fields split on commas.
        const stop = lf < buf.length && lf > start && buf.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
        if (stop > start) {
          const raw = buf.slice(start, stop);
          out.push({ line: this.line, fields: raw.split(','), raw });
        }
        this.pos = lf + 1;
        this.line += 1;
        continue;
      }
      let item: CsvItem | null | undefined | false = this.fast(start, end);
      if (item === false) item = this.quoted(start, end);
      if (item === undefined) break;
      if (item !== null) out.push(item);
    }
    return out;
  }

  /**
   * The record at `start`, which has a quote, when it is well-formed: each field's end found with
   * `indexOf`. False when it is not (or may not be) well-formed: `quoted` reads it character by character
   * as csv-parse did; undefined when its end is not in the text yet.
   */
  private fast(start: number, end: boolean): CsvItem | undefined | false {
    const buf = this.buf;
    const length = buf.length;
    const fields: string[] = [];
    let comma = -2;
    let lf = -2;
    let quote = -2;
    let i = start;
    let stop: number;
    let next: number;
    for (;;) {
      if (i < length && buf.charCodeAt(i) === QUOTE) {
        let from = i + 1;
        let value = '';
        for (;;) {
          const j = buf.indexOf('"', from);
          if (j === -1) return end ? false : undefined;
          if (j + 1 >= length && !end) return undefined;
          if (j + 1 < length && buf.charCodeAt(j + 1) === QUOTE) {
            value += buf.slice(from, j + 1);
            from = j + 2;
            continue;
          }
          value += buf.slice(from, j);
          i = j + 1;
          break;
        }
        fields.push(value);
        if (i >= length) {
          stop = next = i;
          break;
        }
        const c = buf.charCodeAt(i);
        if (c === COMMA) {
          i += 1;
          continue;
        }
        if (c === LF) {
          stop = i;
          next = i + 1;
          break;
        }
        if (c === CR && i + 1 >= length && !end) return undefined;
        if (c === CR && buf.charCodeAt(i + 1) === LF) {
          stop = i;
          next = i + 2;
          break;
        }
        return false;
      }
      if (comma !== -1 && comma < i) comma = buf.indexOf(',', i);
      if (lf !== -1 && lf < i) lf = buf.indexOf('\n', i);
      if (lf === -1 && !end) return undefined;
      const lineEnd = lf === -1 ? length : lf;
      const fieldEnd = comma !== -1 && comma < lineEnd ? comma : lineEnd;
      if (quote !== -1 && quote < i) quote = buf.indexOf('"', i);
      if (quote !== -1 && quote < fieldEnd) return false;
      if (fieldEnd === comma) {
        fields.push(buf.slice(i, fieldEnd));
        i = fieldEnd + 1;
        continue;
      }
      stop = lf !== -1 && fieldEnd > i && buf.charCodeAt(fieldEnd - 1) === CR ? fieldEnd - 1 : fieldEnd;
      fields.push(buf.slice(i, stop));
      next = lf === -1 ? length : lf + 1;
      break;
    }
    const raw = buf.slice(start, stop);
    const line = this.line;
    let lines = 1;
    for (let at = raw.indexOf('\n'); at !== -1; at = raw.indexOf('\n', at + 1)) lines += 1;
    this.pos = next;
    this.line += lines;
    return { line, fields, raw };
  }

  /**
   * The record at `start`, which has a quote: its fields, or the first syntax error; null for an empty
   * line; undefined when its end is not in the text yet.
   */
  private quoted(start: number, end: boolean): CsvItem | null | undefined {
    const buf = this.buf;
    const length = buf.length;
    const fields: string[] = [];
    let field = '';
    let quoting = false;
    let wasQuoting = false;
    let error: string | undefined;
    let lines = 0;
    let i = start;
    let runStart = i; // the run of plain characters not yet appended to `field`
    const finish = (stop: number, next: number, openAtEnd = false): CsvItem | null => {
      const raw = buf.slice(start, stop);
      const line = this.line;
      this.pos = next;
      this.line += lines + 1;
      if (openAtEnd) return { line, error: QUOTE_NOT_CLOSED, raw };
      if (!error && !wasQuoting && fields.length === 0 && field.length === 0) return null;
      fields.push(field);
      return error ? { line, error, raw } : { line, fields, raw };
    };
    for (;;) {
      if (i - start > MAX_RECORD_CHARS && quoting) return this.refuseOpenLine(start, TOO_LONG);
      if (i >= length) {
        if (!end) return undefined;
        field += buf.slice(runStart, i);
        if (quoting) return this.refuseOpenLine(start, QUOTE_NOT_CLOSED);
        return finish(i, i);
      }
      const c = buf.charCodeAt(i);
      if (quoting) {
        if (c === LF) lines += 1;
        if (c !== QUOTE) {
          i += 1;
          continue;
        }
        if (i + 1 >= length && !end) return undefined;
        const next = i + 1 < length ? buf.charCodeAt(i + 1) : -1;
        if (next === QUOTE) {
          // "" inside quotes: one quote.
          field += buf.slice(runStart, i + 1);
          i += 2;
          runStart = i;
          continue;
        }
        if (next === CR && i + 2 >= length && !end) return undefined;
        if (next === -1 || next === COMMA || next === LF || (next === CR && buf.charCodeAt(i + 2) === LF)) {
          field += buf.slice(runStart, i);
          quoting = false;
          wasQuoting = true;
          i += 1;
          runStart = i;
          continue;
        }
        // A closing quote followed by something else: an error, and the quote is text.
        error ??= closingQuoteError(byteAt(buf, i + 1));
        i += 1;
        continue;
      }
      if (c === QUOTE) {
        field += buf.slice(runStart, i);
        runStart = i;
        if (field.length === 0) {
          quoting = true;
          i += 1;
          runStart = i;
          continue;
        }
        // A quote inside an unquoted field: an error, and the quote is text.
        error ??= openingQuoteError(fields.length, field);
        i += 1;
        continue;
      }
      if (c === CR) {
        if (i + 1 >= length && !end) return undefined;
        if (buf.charCodeAt(i + 1) === LF) {
          field += buf.slice(runStart, i);
          return finish(i, i + 2);
        }
        i += 1;
        continue;
      }
      if (c === LF) {
        field += buf.slice(runStart, i);
        return finish(i, i + 1);
      }
      if (c === COMMA) {
        fields.push(field + buf.slice(runStart, i));
        field = '';
        wasQuoting = false;
        i += 1;
        runStart = i;
        continue;
      }
      i += 1;
    }
  }

  /** A quote that never closes: the line it opens on is refused, and reading goes on at the next line. */
  private refuseOpenLine(start: number, reason: string): CsvItem {
    const lf = this.buf.indexOf('\n', start);
    const stop = lf === -1 ? this.buf.length : lf;
    const raw = this.buf.slice(start, lf !== -1 && stop > start && this.buf.charCodeAt(stop - 1) === CR ? stop - 1 : stop);
    const line = this.line;
    this.pos = lf === -1 ? this.buf.length : lf + 1;
    this.line += 1;
    return { line, error: reason, raw };
  }
}

/** The records of a CSV file, a batch of them per piece of the file read. */
export async function* readCsv(file: string, chunkBytes = 1 << 16): AsyncGenerator<CsvItem[]> {
  const parser = new CsvParser();
  let decoder: StringDecoder | undefined;
  for await (const chunk of createReadStream(file, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    let bytes = chunk;
    if (!decoder) {
      // A byte order mark says the encoding (UTF-8 without one) and is not text.
      if (bytes[0] === 0xff && bytes[1] === 0xfe) {
        decoder = new StringDecoder('utf16le');
        bytes = bytes.subarray(2);
      } else {
        decoder = new StringDecoder('utf8');
        if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      }
    }
    parser.push(decoder.write(bytes));
    const records = parser.records(false);
    if (records.length > 0) yield records;
  }
  parser.push(decoder?.end() ?? '');
  const records = parser.records(true);
  if (records.length > 0) yield records;
}
