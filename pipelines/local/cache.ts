/**
 * The task cache: KFP's cache key, and entries under `<runsDir>/cache/<key>.json` naming the outputs
 * of the run that produced them.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from './files.js';
import type { Scope } from './run-record.js';
import type { ComponentSpec, Executor } from './spec.js';

/**
 * The cache key as KFP's driver computes it (backend/src/v2/cacheutils GenerateCacheKey, called from
 * driver/cache.go getFingerPrint): input artifacts by identity, not by content (on a cluster the
 * artifact's name in ML Metadata, here the run folder path it was written to), input parameter
 * values, the output artifacts' types and output parameters' types, and the container's image and
 * unresolved command + args. So a task downstream of one that reran (a new artifact) never hits the
 * cache, and what freezes on the cluster freezes here too.
 */
export function cacheKey(executor: Executor, component: ComponentSpec, inputs: Scope): string {
  const key = {
    inputArtifactNames: Object.fromEntries(
      Object.entries(inputs.artifacts).map(([name, location]) => [name, { artifactNames: [location] }]),
    ),
    inputParameterValues: inputs.parameters,
    outputArtifactsSpec: Object.fromEntries(
      Object.entries(component.outputDefinitions?.artifacts ?? {}).map(([name, definition]) => [name, { type: definition.artifactType }]),
    ),
    outputParametersSpec: Object.fromEntries(
      Object.entries(component.outputDefinitions?.parameters ?? {}).map(([name, definition]) => [name, definition.parameterType]),
    ),
    containerSpec: {
      image: executor.container.image,
      cmdArgs: [...(executor.container.command ?? []), ...(executor.container.args ?? [])],
    },
  };
  return createHash('sha256').update(canonicalJson(key)).digest('hex');
}

export interface CacheEntry {
  runId: string;
  parameters: Record<string, unknown>;
  artifacts: Record<string, string>;
  metadata?: Record<string, Record<string, unknown>>;
}

export async function readCache(file: string): Promise<CacheEntry | null> {
  try {
    const hit = JSON.parse(await readFile(file, 'utf8')) as CacheEntry;
    // An artifact deleted since is no cache hit.
    for (const location of Object.values(hit.artifacts)) await stat(location);
    return hit;
  } catch {
    return null;
  }
}

export async function writeCache(file: string, entry: CacheEntry & { task: string }): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeJsonAtomic(file, entry);
}

/** JSON with object keys sorted at every level (Go's encoding/json orders map keys the same way). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
