/**
 * Pagination cursors. A ranking is a pure function of the query, its filters, sort and mode, and the
 * index version, so "the next page" is an offset into it; the cursor carries that offset together
 * with the index version and a fingerprint of the query, so that a cursor is refused (rather than
 * silently answering a different list) when it is sent with another query (400) or after the service
 * swapped to another index version (409: start again from the first page).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { HttpError } from './http-errors.js';

const Cursor = z.object({ v: z.string(), o: z.number().int().min(0), f: z.string() });
export type Cursor = z.infer<typeof Cursor>;

/** A short hash of what defines the ranking (not k: pages may change size). */
export function fingerprint(parts: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(parts)
      .sort()
      .map((key) => [key, parts[key] ?? null]),
  );
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

export const encodeCursor = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

/** The offset a cursor stands for, checked against the query it came with and the index now served. */
export function offsetOfCursor(text: string, expected: { index: string; fingerprint: string }): number {
  let cursor: Cursor;
  try {
    cursor = Cursor.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new HttpError(400, 'cursor is not a cursor this service issued (send back the `next` of an answer unchanged)', 'cursor');
  }
  if (cursor.f !== expected.fingerprint)
    throw new HttpError(
      400,
      'cursor belongs to another query (q, mode, sort or a filter differ): send the same parameters with it',
      'cursor',
    );
  if (cursor.v !== expected.index)
    throw new HttpError(
      409,
      `cursor was issued by index ${cursor.v}; the service now serves ${expected.index}: start again from the first page`,
      'cursor',
    );
  return cursor.o;
}
