import { randomUUID } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { AlreadyExistsError, errorMessage, NotFoundError } from '../errors.js';
import { checkKey, checkPrefix, type ArtifactStore, type Body, type ObjectInfo, type PutOptions } from './store.js';

/** Temporary files live in one hidden folder of the root, so `list` never sees a half-written object. */
const TMP_DIR = '.tmp';

/**
 * `mkdir -p` whose error tells the real cause. Node 20's recursive mkdir reports ENOENT ("no such file
 * or directory") when the filesystem is read-only, which sent a user hunting for a missing folder
 * (found by the read-only artifact root fault test): on ENOENT, the first missing level is created
 * on its own, and its error (EROFS, EACCES, ENOSPC…) is the one thrown.
 */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    let missing = dir;
    while (
      path.dirname(missing) !== missing &&
      !(await stat(path.dirname(missing)).then(
        () => true,
        () => false,
      ))
    )
      missing = path.dirname(missing);
    await mkdir(missing); // throws the true cause; if it succeeds, the folder appeared meanwhile
    await mkdir(dir, { recursive: true });
  }
}

/**
 * A folder as an artifact store. Writes go to a temporary file in the same filesystem, are flushed
 * to disk, then renamed into place: rename is atomic, so an object is either absent or whole, even
 * after a crash or a full disk.
 */
export function openFsStore(rootDir: string): ArtifactStore {
  const root = path.resolve(rootDir);
  const rootUri = pathToFileURL(root).href;
  const fileOf = (key: string) => path.join(root, ...checkKey(key).split('/'));

  const fail = (action: string, key: string, error: unknown): never => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && action !== 'write') throw new NotFoundError(`no artifact at ${rootUri}/${key}`);
    throw new Error(`cannot ${action} artifact ${rootUri}/${key}: ${errorMessage(error)}`, { cause: error });
  };

  async function writeTemp(body: Body): Promise<string> {
    const tmpDir = path.join(root, TMP_DIR);
    await makeDir(tmpDir);
    const tmp = path.join(tmpDir, `${randomUUID()}`);
    try {
      if (body instanceof Readable) {
        await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
      } else {
        const handle = await open(tmp, 'wx');
        try {
          await handle.writeFile(body);
        } finally {
          await handle.close();
        }
      }
      // Flush before the rename, so a crash cannot publish a file whose blocks never reached disk.
      const handle = await open(tmp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      return tmp;
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  return {
    root: rootUri,
    uri: (key) => `${rootUri}/${checkKey(key)}`,

    async put(key: string, body: Body, options: PutOptions = {}) {
      const file = fileOf(key);
      if (options.ifAbsent && body instanceof Readable) throw new Error('put ifAbsent takes an in-memory body');
      let tmp: string | undefined;
      try {
        tmp = await writeTemp(body);
        await makeDir(path.dirname(file));
        if (options.ifAbsent) {
          // link() fails with EEXIST when the target exists: an atomic create-if-absent.
          await link(tmp, file);
          await unlink(tmp);
        } else {
          await rename(tmp, file);
        }
        tmp = undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`artifact ${rootUri}/${key} already exists`);
        fail('write', key, error);
      } finally {
        if (tmp) await unlink(tmp).catch(() => undefined);
      }
    },

    async get(key) {
      try {
        return await readFile(fileOf(key));
      } catch (error) {
        return fail('read', key, error);
      }
    },

    async getStream(key) {
      const file = fileOf(key);
      // Open first so that a missing object fails here, not on the first read.
      try {
        const handle = await open(file, 'r');
        return handle.createReadStream(); // the stream owns the handle and closes it
      } catch (error) {
        return fail('read', key, error);
      }
    },

    async stat(key) {
      try {
        const info = await stat(fileOf(key));
        return info.isFile() ? { key, size: info.size } : null;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        return fail('stat', key, error);
      }
    },

    async exists(key) {
      return (await this.stat(key)) !== null;
    },

    async *list(prefix = '') {
      checkPrefix(prefix);
      const found: ObjectInfo[] = [];
      // Walk only the folder the prefix points into, then filter by the full prefix.
      const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const walk = async (relative: string): Promise<void> => {
        let entries: Dirent[];
        try {
          entries = await readdir(path.join(root, ...relative.split('/').filter(Boolean)), { withFileTypes: true });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw error;
        }
        for (const entry of entries) {
          const key = relative ? `${relative}/${entry.name}` : entry.name;
          if (!relative && entry.name === TMP_DIR) continue;
          if (entry.isDirectory()) {
            if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
          } else if (entry.isFile() && key.startsWith(prefix)) {
            found.push({ key, size: (await stat(path.join(root, ...key.split('/')))).size });
          }
        }
      };
      await walk(base);
      found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      yield* found;
    },

    async delete(key) {
      try {
        await unlink(fileOf(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail('delete', key, error);
      }
    },
  };
}
