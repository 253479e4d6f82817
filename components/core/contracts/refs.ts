/**
 * How components name what they pass along a pipeline. In Kubeflow an output artifact is a file: the
 * snapshot step writes `snapshot.json` there, train writes a small model pointer, index an index
 * pointer. On a command line a person would rather type the id. Each `--snapshot` / `--model` /
 * `--index` option takes either: an id (`snap-…`, `m-…`, `ix-…`) or the path of such a file.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../platform/errors.js';

const SNAPSHOT_ID = /^snap-[0-9a-f]{8,64}$/;
const MODEL_VERSION = /^m-[0-9a-f]{8,64}$/;
const INDEX_VERSION = /^ix-[0-9a-f]{8,64}$/;

/** The pointer file train and index write as their output artifact. */
export const Pointer = z.object({ version: z.string(), key: z.string(), uri: z.string() });
export type Pointer = z.infer<typeof Pointer>;

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(
      `${what} '${file}' is neither an id nor a readable file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`${what} file ${file} is not JSON`);
  }
}

export async function snapshotIdFrom(arg: string): Promise<string> {
  if (SNAPSHOT_ID.test(arg)) return arg;
  const parsed = z.object({ id: z.string().regex(SNAPSHOT_ID) }).safeParse(await readJson(arg, 'snapshot'));
  if (!parsed.success) throw new InputError(`snapshot file ${arg} has no snapshot id (expected {"id": "snap-…"})`);
  return parsed.data.id;
}

async function versionFrom(arg: string, what: string, pattern: RegExp, prefix: string): Promise<string> {
  if (pattern.test(arg)) return arg;
  const parsed = Pointer.safeParse(await readJson(arg, what));
  if (!parsed.success || !pattern.test(parsed.data.version))
    throw new InputError(`${what} file ${arg} is not a ${what} pointer (expected {"version": "${prefix}…", "key", "uri"})`);
  return parsed.data.version;
}

export const modelVersionFrom = (arg: string) => versionFrom(arg, 'model', MODEL_VERSION, 'm-');
export const indexVersionFrom = (arg: string) => versionFrom(arg, 'index', INDEX_VERSION, 'ix-');
