/**
 * Faults of the artifact disk: a read-only artifact root and a full one. The tests run as root, so
 * chmod cannot make a folder read-only; a read-only bind mount (`mount --bind -o ro`) and a 2 MiB
 * tmpfs (`mount -t tmpfs -o size=2m`) can, both checked to work here as root (they need
 * CAP_SYS_ADMIN). Either way the command fails with an error that names the path, and nothing
 * half-written is published or visible.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, NotFoundError, openFsStore, openPostgres } from '../../components/core/platform/index.js';
import { openPublished, publish } from '../../components/core/contracts/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { collect, freshPostgresDatabase, REPO_ROOT, silentLog, tempDir } from '../helpers.js';

function mount(args: string[]): void {
  const result = spawnSync('mount', args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `mount ${args.join(' ')} failed (the disk fault tests need root: CAP_SYS_ADMIN): ${result.stderr}`);
}
const umount = (target: string) => spawnSync('umount', [target]);

describe('read-only artifact root', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let readOnly: string;
  before(async () => {
    tmp = await tempDir('faults-ro-');
    database = await freshPostgresDatabase();
    const db = await openPostgres(database.url);
    await migrate(db);
    // The export is loaded while the root is writable; then the same folder is mounted read-only.
    await loadExportFolder(path.join(REPO_ROOT, 'test', 'fixtures', 'export-7col'), {
      db,
      store: openFsStore(path.join(tmp.dir, 'rw', 'artifacts')),
      log: silentLog,
    });
    await db.close();
    readOnly = path.join(tmp.dir, 'ro');
    await mkdir(path.join(tmp.dir, 'rw', 'artifacts'), { recursive: true });
    await mkdir(readOnly);
    mount(['--bind', '-o', 'ro', path.join(tmp.dir, 'rw'), readOnly]);
  });
  after(async () => {
    umount(readOnly);
    await database.drop();
    await tmp.remove();
  });

  it('npm run clean fails naming the root, and the store is left as it was', async () => {
    const store = openFsStore(path.join(readOnly, 'artifacts'));
    const before = await collect(store.list());
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'clean', 'main.ts')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        ARTIFACT_ROOT: `file://${readOnly}/artifacts`,
        MARKETPLACE_HOME: tmp.dir,
        LOG_LEVEL: 'warn',
      },
    });
    assert.equal(run.status, 1, run.stderr);
    const error = run.stderr.split('\n').find((line) => line.startsWith('error: ')) ?? run.stderr;
    assert.match(error, new RegExp(`cannot write artifact file://${readOnly}/artifacts/snapshots/.*EROFS: read-only file system`));
    assert.deepEqual(await collect(store.list()), before, 'the read-only root changed');
    assert.deepEqual(await collect(store.list('snapshots/')), []);
  });
});

describe('disk full', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let full: string;
  before(async () => {
    tmp = await tempDir('faults-full-');
    full = path.join(tmp.dir, 'full');
    await mkdir(full);
    mount(['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', full]);
  });
  after(async () => {
    umount(full);
    await tmp.remove();
  });

  it('publish fails naming the file, publishes nothing, leaves no partial file, and succeeds once there is room', async () => {
    const store = openFsStore(path.join(full, 'artifacts'));
    await writeFile(path.join(full, 'filler'), Buffer.alloc(900 * 1024)); // someone else's data on the disk
    const files = [
      { name: 'metadata.json', body: Buffer.from('{"dims":256}') },
      { name: 'model.weights.bin', body: randomBytes(500 * 1024) },
      { name: 'products.faiss', body: randomBytes(700 * 1024) }, // no longer fits
    ];
    const manifest = { kind: 'index', version: 'v1', metadata: {} };
    await assert.rejects(publish(store, 'indexes/v1', files, manifest), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(
        error.message,
        new RegExp(`cannot write artifact file://${full}/artifacts/indexes/v1/products\\.faiss: ENOSPC: no space left on device`),
      );
      return true;
    });
    await assert.rejects(openPublished(store, 'indexes/v1'), NotFoundError);
    // Whatever is visible is whole: the files that landed at their full size, nothing of the one that did not fit.
    const visible = await collect(store.list('indexes/v1/'));
    assert.deepEqual(visible, [
      { key: 'indexes/v1/metadata.json', size: files[0]!.body.length },
      { key: 'indexes/v1/model.weights.bin', size: files[1]!.body.length },
    ]);
    assert.deepEqual(await readdir(path.join(full, 'artifacts', '.tmp')), [], 'a temporary file was left behind, taking the room');

    await rm(path.join(full, 'filler'));
    await publish(store, 'indexes/v1', files, manifest);
    const reader = await openPublished(store, 'indexes/v1');
    for (const file of files) assert.ok((await reader.read(file.name)).equals(file.body));
  });
});
