/**
 * The IDX file format of MNIST and Fashion-MNIST (optionally gzipped), read as a stream: a header of
 * two zero bytes, a type byte (0x08: unsigned bytes, the only type these datasets use), a dimension
 * count, one big-endian uint32 per dimension, then the items (the first dimension) one after another.
 * `idxRecords` yields one item at a time, so 60,000 pictures never sit in memory at once;
 * `readIdx` collects a whole file when a caller wants the array (training reads 47 MB of pixels).
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { InputError } from './errors.js';

export interface IdxHeader {
  /** The dimensions, items first: [60000, 28, 28] for images, [60000] for labels. */
  dims: number[];
  /** Bytes in one item: the product of the dimensions after the first (1 for a label file). */
  itemSize: number;
}

const UNSIGNED_BYTE = 0x08;

function openIdx(file: string): Readable {
  const raw = createReadStream(file);
  if (!file.endsWith('.gz')) return raw;
  const gunzip = createGunzip();
  raw.on('error', (error) => gunzip.destroy(error));
  return raw.pipe(gunzip);
}

function parseHeader(bytes: Buffer, file: string): IdxHeader | null {
  if (bytes.length < 4) return null;
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new InputError(`${file}: not an IDX file (magic ${bytes.subarray(0, 4).toString('hex')})`);
  if (bytes[2] !== UNSIGNED_BYTE) throw new InputError(`${file}: IDX element type 0x${bytes[2]!.toString(16)} is not unsigned byte (0x08)`);
  const count = bytes[3]!;
  if (count < 1 || count > 4) throw new InputError(`${file}: IDX with ${count} dimensions`);
  if (bytes.length < 4 + 4 * count) return null;
  const dims = Array.from({ length: count }, (_, k) => bytes.readUInt32BE(4 + 4 * k));
  return { dims, itemSize: dims.slice(1).reduce((a, b) => a * b, 1) };
}

/**
 * Yields the header first, then each item as its own Buffer (a copy, safe to keep). Fails when the
 * file ends before the header's item count or holds bytes after it.
 */
export async function* idxRecords(file: string): AsyncGenerator<IdxHeader | Buffer, void, undefined> {
  let pending: Buffer = Buffer.alloc(0);
  let header: IdxHeader | null = null;
  let seen = 0;
  let stream: Readable;
  try {
    stream = openIdx(file);
  } catch (error) {
    throw new InputError(`${file}: ${(error as Error).message}`);
  }
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      if (!header) {
        header = parseHeader(pending, file);
        if (!header) continue;
        pending = pending.subarray(4 + 4 * header.dims.length);
        yield header;
      }
      let offset = 0;
      while (pending.length - offset >= header.itemSize) {
        if (seen === header.dims[0]) throw new InputError(`${file}: more data than the ${header.dims[0]} items its header declares`);
        yield Buffer.from(pending.subarray(offset, offset + header.itemSize));
        offset += header.itemSize;
        seen++;
      }
      pending = pending.subarray(offset);
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `${file}: not found` : `${file}: ${(error as Error).message}`);
  }
  if (!header) throw new InputError(`${file}: ends inside the IDX header`);
  if (seen !== header.dims[0] || pending.length) throw new InputError(`${file}: truncated: ${seen} of ${header.dims[0]} items`);
}

/** A whole IDX file: its header and all items as one byte array, items in order. */
export async function readIdx(file: string, limit = Infinity): Promise<{ header: IdxHeader; count: number; data: Uint8Array }> {
  let header: IdxHeader | undefined;
  let data = new Uint8Array(0);
  let count = 0;
  for await (const item of idxRecords(file)) {
    if (!Buffer.isBuffer(item)) {
      header = item;
      data = new Uint8Array(Math.min(item.dims[0]!, limit) * item.itemSize);
      continue;
    }
    if (count >= limit) break;
    data.set(item, count * header!.itemSize);
    count++;
  }
  return { header: header!, count, data };
}
