/** Small file helpers of the local runner: content hashes of artifacts, atomic JSON writes. */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** sha256 of a file, or of a folder's files (relative names and contents, in name order); null when absent. */
export async function contentHash(target: string): Promise<string | null> {
  let info;
  try {
    info = await stat(target);
  } catch {
    return null;
  }
  const hash = createHash('sha256');
  if (info.isFile()) {
    for await (const chunk of createReadStream(target)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }
  const entries = (await readdir(target, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(target, path.join(entry.parentPath, entry.name)))
    .sort();
  for (const name of entries) hash.update(`${name}\0${await contentHash(path.join(target, name))}\0`);
  return hash.digest('hex');
}

/** Writes JSON whole or not at all (temp file, then rename). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}
