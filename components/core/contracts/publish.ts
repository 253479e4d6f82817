/**
 * Publishing a set of files (a model, an index) so that no reader ever takes a partial set for a
 * complete one: the files go first, each written whole; the manifest, listing every file with its
 * size and sha256, goes last and only if absent (`If-None-Match: *` on S3, a hard link on a disk).
 * A reader trusts only what the manifest lists and checks each file's size and hash as it reads it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ArtifactStore } from '../platform/artifacts/index.js';
import { AlreadyExistsError, NotFoundError } from '../platform/errors.js';

export const PublishedFile = z.object({ name: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string().length(64) });
export type PublishedFile = z.infer<typeof PublishedFile>;

export const Manifest = z.object({
  kind: z.string(),
  version: z.string(),
  createdAt: z.string(),
  files: z.array(PublishedFile),
  metadata: z.record(z.string(), z.unknown()),
});
export type Manifest = z.infer<typeof Manifest>;

/** A published file whose bytes are not the ones its manifest lists. */
export class CorruptArtifactError extends Error {
  override name = 'CorruptArtifactError';
}

export const MANIFEST_FILE = 'manifest.json';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Publishes `files` under `prefix` (e.g. `indexes/<version>`). Publishing a version that exists fails
 * with AlreadyExistsError and changes nothing a reader would see: versions are immutable.
 */
export async function publish(
  store: ArtifactStore,
  prefix: string,
  files: readonly { name: string; body: Buffer }[],
  manifest: { kind: string; version: string; metadata: Record<string, unknown> },
): Promise<Manifest> {
  const manifestKey = `${prefix}/${MANIFEST_FILE}`;
  if (await store.exists(manifestKey)) throw new AlreadyExistsError(`${store.uri(manifestKey)} is already published`);
  const listed: PublishedFile[] = [];
  for (const file of files) {
    await store.put(`${prefix}/${file.name}`, file.body);
    listed.push({ name: file.name, bytes: file.body.length, sha256: sha256(file.body) });
  }
  const complete: Manifest = { ...manifest, createdAt: new Date().toISOString(), files: listed };
  await store.put(manifestKey, JSON.stringify(complete, null, 2), { ifAbsent: true, contentType: 'application/json' });
  return complete;
}

export interface Published {
  manifest: Manifest;
  /** A listed file's bytes, checked against the manifest. */
  read(name: string): Promise<Buffer>;
}

/** Opens what was published under `prefix`; NotFoundError when nothing was (or not completely). */
export async function openPublished(store: ArtifactStore, prefix: string): Promise<Published> {
  const manifestKey = `${prefix}/${MANIFEST_FILE}`;
  let text: string;
  try {
    text = (await store.get(manifestKey)).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`nothing is published at ${store.uri(prefix)} (no ${MANIFEST_FILE})`);
    throw error;
  }
  let parsed: ReturnType<typeof Manifest.safeParse>;
  try {
    parsed = Manifest.safeParse(JSON.parse(text));
  } catch {
    throw new CorruptArtifactError(`${store.uri(manifestKey)} is not JSON`);
  }
  if (!parsed.success) throw new CorruptArtifactError(`${store.uri(manifestKey)} is not a manifest: ${parsed.error.issues[0]?.message}`);
  const manifest = parsed.data;
  return {
    manifest,
    async read(name) {
      const listed = manifest.files.find((file) => file.name === name);
      if (!listed) throw new NotFoundError(`${store.uri(manifestKey)} lists no file '${name}'`);
      const key = `${prefix}/${name}`;
      const body = await store.get(key);
      const digest = sha256(body);
      if (body.length !== listed.bytes || digest !== listed.sha256) {
        throw new CorruptArtifactError(
          `${store.uri(key)} does not match its manifest: ${body.length} bytes, sha256 ${digest.slice(0, 12)}…; ` +
            `the manifest lists ${listed.bytes} bytes, sha256 ${listed.sha256.slice(0, 12)}…`,
        );
      }
      return body;
    },
  };
}
