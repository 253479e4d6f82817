/**
 * What deploy puts in service: a model and (usually) an index, each a version and the key of its
 * published folder, and the snapshot the model was trained on. It comes from the pipeline's input
 * artifacts (the JSON file or folder train and index wrote: a publish manifest or a pointer with a
 * version), from explicit options, or both (options win). Nothing unpublished is ever deployed.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { InputError, NotFoundError, type ArtifactStore } from '../core/platform/index.js';
import { MANIFEST_FILE, openPublished, type ServingRecord } from '../core/contracts/index.js';

export interface Published {
  version: string;
  /** Folder of the published files in the artifact store: `models/<version>`, `indexes/<version>`. */
  key: string;
}

export interface Release {
  model: Published;
  index?: Published;
  snapshotId: string;
}

export interface ReleaseOptions {
  /** Pipeline input artifact: a JSON file, or a folder holding manifest.json. */
  model?: string;
  index?: string;
  modelVersion?: string;
  modelKey?: string;
  indexVersion?: string;
  indexKey?: string;
  snapshotId?: string;
}

/** What deploy reads of an artifact file: a publish manifest, or any pointer with a version. */
const ArtifactPointer = z.object({
  version: z.string().min(1),
  key: z.string().min(1).optional(),
  uri: z.string().min(1).optional(),
  snapshotId: z.string().min(1).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
type ArtifactPointer = z.infer<typeof ArtifactPointer>;

async function readPointer(file: string, what: string): Promise<ArtifactPointer> {
  let location = file;
  try {
    if ((await stat(file)).isDirectory()) location = path.join(file, MANIFEST_FILE);
  } catch {
    throw new InputError(`the ${what} artifact ${file} does not exist`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(location, 'utf8'));
  } catch (error) {
    throw new InputError(`the ${what} artifact ${location} is not readable JSON (${(error as Error).message})`);
  }
  const parsed = ArtifactPointer.safeParse(json);
  if (!parsed.success) throw new InputError(`the ${what} artifact ${location} names no version: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** The store key a pointer names: its key, its URI inside this store, or the conventional folder. */
function keyOf(pointer: ArtifactPointer, store: ArtifactStore, folder: string): string {
  if (pointer.key) return pointer.key.replace(/\/manifest\.json$/, '');
  if (pointer.uri?.startsWith(`${store.root}/`)) return pointer.uri.slice(store.root.length + 1).replace(/\/manifest\.json$/, '');
  return `${folder}/${pointer.version}`;
}

const snapshotOf = (metadata: Record<string, unknown> | undefined): string | undefined => {
  const value = metadata?.['snapshotId'];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

async function resolveOne(
  store: ArtifactStore,
  what: 'model' | 'index',
  folder: string,
  file: string | undefined,
  version: string | undefined,
  key: string | undefined,
): Promise<{ published: Published; snapshotId?: string } | undefined> {
  const pointer = file ? await readPointer(file, what) : undefined;
  const chosenVersion = version ?? pointer?.version;
  if (!chosenVersion) return undefined;
  const chosenKey = key ?? (pointer && pointer.version === chosenVersion ? keyOf(pointer, store, folder) : `${folder}/${chosenVersion}`);
  // Only a complete publication (its manifest written last) may go into service.
  let metadata: Record<string, unknown>;
  try {
    metadata = (await openPublished(store, chosenKey)).manifest.metadata;
  } catch (error) {
    if (error instanceof NotFoundError) throw new InputError(`${what} ${chosenVersion} is not published: ${error.message}`);
    throw error;
  }
  return {
    published: { version: chosenVersion, key: chosenKey },
    snapshotId: pointer?.snapshotId ?? snapshotOf(pointer?.metadata) ?? snapshotOf(metadata),
  };
}

export async function resolveRelease(store: ArtifactStore, options: ReleaseOptions): Promise<Release> {
  const model = await resolveOne(store, 'model', 'models', options.model, options.modelVersion, options.modelKey);
  if (!model) throw new InputError('no model to deploy: give --model <artifact> or --model-version <version>');
  const index = await resolveOne(store, 'index', 'indexes', options.index, options.indexVersion, options.indexKey);
  const snapshotId = options.snapshotId ?? model.snapshotId ?? index?.snapshotId;
  if (!snapshotId) throw new InputError(`model ${model.published.version} names no training snapshot: give --snapshot-id`);
  return { model: model.published, ...(index ? { index: index.published } : {}), snapshotId };
}

/** Whether the record already serves this release (deployedAt aside): deploying it again changes nothing. */
export function servesRelease(record: ServingRecord | null, release: Release): boolean {
  if (!record) return false;
  return (
    record.model.version === release.model.version &&
    record.model.key === release.model.key &&
    record.index?.version === release.index?.version &&
    record.index?.key === release.index?.key &&
    record.snapshotId === release.snapshotId
  );
}

/** `model v1, index i1` for messages. */
export function describeRelease(release: Pick<Release, 'model' | 'index'>): string {
  return `model ${release.model.version}${release.index ? `, index ${release.index.version}` : ''}`;
}
