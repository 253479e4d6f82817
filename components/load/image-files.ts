/**
 * Where image files come from: the `images/` folder of an export, or the seed's image archive (a zip,
 * local or over HTTP). Both index their files by image id (`<id>.jpg`, in any sub-folder) and open one
 * file at a time as a stream: an archive of 12,604 photos is never held in memory.
 */
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { errorMessage, InputError, Progress, type Logger } from '../core/platform/index.js';

export interface ImageFile {
  size: number;
  open(): Promise<Readable>;
}

export interface ImageFiles {
  /** Where the files are, for messages. */
  label: string;
  files: Map<string, ImageFile>;
  close(): Promise<void>;
}

// JPEG as the export has them; PNG as the Fashion-MNIST pictures catalogue writes them (lossless grey).
// Either is stored under raw-images/<id>.jpg: clean decodes by content, not by name.
const IMAGE_NAME = /^(.+)\.(?:jpe?g|png)$/i;

/** Files `<id>.jpg` under `dir` (recursively); an absent folder has no files. */
export async function folderImages(dir: string): Promise<ImageFiles> {
  const files = new Map<string, ImageFile>();
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { label: dir, files, close: async () => undefined };
    throw error;
  }
  for (const entry of entries) {
    const match = entry.isFile() ? IMAGE_NAME.exec(entry.name) : null;
    if (!match?.[1]) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(match[1], { size: (await stat(file)).size, open: async () => createReadStream(file) });
  }
  return { label: dir, files, close: async () => undefined };
}

/** The images inside a zip archive, given as a path or an http(s) URL (downloaded to a temp file first). */
export async function zipImages(source: string, log: Logger): Promise<ImageFiles> {
  let file = source;
  let tempDir: string | undefined;
  if (/^https?:\/\//i.test(source)) {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'images-zip-'));
    file = path.join(tempDir, 'images.zip');
    try {
      await download(source, file, log);
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true });
      throw error;
    }
  }
  const cleanup = async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  };
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, autoClose: false }, (error, opened) => (error ? reject(error) : resolve(opened))),
    );
  } catch (error) {
    await cleanup();
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new InputError(`--images-zip ${source}: ${missing ? 'file not found' : `not a readable zip archive (${errorMessage(error)})`}`);
  }
  const files = new Map<string, ImageFile>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      const match = IMAGE_NAME.exec(path.posix.basename(entry.fileName));
      if (match?.[1] && !entry.fileName.endsWith('/')) {
        files.set(match[1], {
          size: entry.uncompressedSize,
          open: () =>
            new Promise<Readable>((done, fail) => zip.openReadStream(entry, (error, stream) => (error ? fail(error) : done(stream)))),
        });
      }
      zip.readEntry();
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return {
    label: source,
    files,
    async close() {
      zip.close();
      await cleanup();
    },
  };
}

/** Streams a URL to a file, with progress by bytes. */
async function download(url: string, file: string, log: Logger): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`cannot download ${url}: ${errorMessage(error)}`, { cause: error });
  }
  if (!response.ok || !response.body) throw new InputError(`cannot download ${url}: HTTP ${response.status}`);
  const length = Number(response.headers.get('content-length') ?? NaN);
  const progress = new Progress(log, `download ${url} (bytes)`, Number.isFinite(length) ? length : undefined);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress.tick(chunk.length);
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), counter, createWriteStream(file));
  progress.finish();
}
