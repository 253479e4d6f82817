/**
 * One artifact store interface over a local folder (the embedded default) and S3 (production).
 * Keys are relative, `/`-separated paths under the store's root URI: `models/<version>/model.json`.
 */
import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface PutOptions {
  /**
   * Create only: fail with AlreadyExistsError when the key exists (S3 `If-None-Match: *`; a hard
   * link on a filesystem). Publishing writes its manifest this way, so two writers cannot both win.
   * Only for in-memory bodies.
   */
  ifAbsent?: boolean;
  contentType?: string;
}

export type Body = Buffer | Uint8Array | string | Readable;

export interface ArtifactStore {
  /** The root URI (`file:///…` or `s3://bucket/prefix`). */
  readonly root: string;
  /** The URI of one key. */
  uri(key: string): string;
  /** Writes an object whole or not at all: a reader never sees a partial object. */
  put(key: string, body: Body, options?: PutOptions): Promise<void>;
  /** The object's bytes; NotFoundError when it is absent. */
  get(key: string): Promise<Buffer>;
  /** The object as a stream; NotFoundError when it is absent. */
  getStream(key: string): Promise<Readable>;
  /** Size of the object, or null when it is absent. */
  stat(key: string): Promise<ObjectInfo | null>;
  exists(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** Removes the object; absent is fine. */
  delete(key: string): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9._=+@,-]+$/;

/** Checks a key: relative, `/`-separated, no empty, `.` or `..` segments, no hidden top folder. */
export function checkKey(key: string): string {
  const segments = key.split('/');
  const bad = segments.find((segment) => segment === '' || segment === '.' || segment === '..' || !SEGMENT.test(segment));
  if (bad !== undefined || key.startsWith('.')) {
    throw new InputError(`invalid artifact key '${key}': use relative paths of letters, digits and ._=+@,- separated by /`);
  }
  return key;
}

/** Checks a list prefix: a key, a key ending in `/`, or empty for everything. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}
