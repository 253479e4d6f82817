/**
 * Faults, against a PostgreSQL server of the test's own (started here, crashed on purpose with an
 * immediate shutdown, started again): a command that loses its database fails with a clear error,
 * and a rerun ends with exactly the data an uninterrupted run gives, nothing lost or duplicated.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { cleanCatalogue } from '../../components/clean/clean.js';
import { loadGazetteer } from '../../components/core/contracts/index.js';
import { takeSnapshot } from '../../components/clean/snapshot.js';
import { migrate, openFsStore, openPostgres } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { freshPostgresDatabase, REPO_ROOT, REAL_EXPORT_SAMPLE, silentLog, tempDir } from '../helpers.js';

const POSTGRES = path.join(REPO_ROOT, 'test', 'services', 'postgres.sh');

function postgres(command: 'start' | 'stop' | 'crash', state: string): void {
  const result = spawnSync('bash', [POSTGRES, command, state], { encoding: 'utf8' });
  assert.equal(result.status, 0, `postgres.sh ${command}: ${result.stderr}`);
}

async function count(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
  } catch {
    return 0; // the table may not exist yet
  } finally {
    await client.end();
  }
}

/** Whether a COPY's transaction is open: data:load streaming rows into a raw or staging table, not yet committed. */
async function copying(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const open = await client.query(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND query ILIKE 'COPY%'",
    );
    return Number(open.rows[0]?.n ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/** Runs a component CLI, crashes Postgres once `ready` says so (the CLI paused meanwhile), and returns how the CLI ended. */
async function crashMidway(script: string, args: string[], env: NodeJS.ProcessEnv, ready: () => Promise<boolean>, state: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let finished = false;
  void exited.then(() => (finished = true));
  for (let i = 0; i < 1500 && !finished; i++) {
    if (await ready()) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(finished, false, 'the command ended before the crash');
  // Paused while Postgres goes down, so the crash lands where `ready` saw the command, not wherever it
  // got to while the shutdown ran (a table's load can finish in less time than pg_ctl takes).
  child.kill('SIGSTOP');
  postgres('crash', state);
  child.kill('SIGCONT');
  const code = await exited;
  return { code, stderr };
}

/** Content of a table as one digest: ids and hashes in id order. */
async function digest(url: string, table: string, column: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return String(
      (await client.query(`SELECT md5(string_agg(id || ':' || ${column}, ',' ORDER BY id)) AS d, count(*) AS n FROM ${table}`)).rows[0]?.d,
    );
  } finally {
    await client.end();
  }
}

describe('a Postgres crash in the middle of data:load and of clean', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let state: string;
  let url: string;
  let reference: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    tmp = await tempDir('faults-');
    await chmod(tmp.dir, 0o755);
    state = path.join(tmp.dir, 'pg');
    postgres('start', state);
    url = (await readFile(path.join(state, 'env'), 'utf8')).match(/TEST_DATABASE_URL=(\S+)/)?.[1] ?? '';
    env = { DATABASE_URL: url, ARTIFACT_ROOT: `file://${tmp.dir}/artifacts`, LOG_LEVEL: 'warn', MARKETPLACE_HOME: tmp.dir };
    // The reference: the same export loaded and cleaned without interruption, on the shared test server.
    reference = await freshPostgresDatabase();
    const db = await openPostgres(reference.url);
    await migrate(db);
    const store = openFsStore(path.join(tmp.dir, 'reference-artifacts'));
    await loadExportFolder(REAL_EXPORT_SAMPLE, { db, store, log: silentLog });
    await cleanCatalogue({ db, store, log: silentLog, gazetteer: loadGazetteer() });
    await db.close();
  });
  after(async () => {
    postgres('stop', state);
    await reference.drop();
    await tmp.remove();
  });

  it('data:load fails with a clear error, and a rerun loads every row exactly once', async () => {
    // A table's rows commit together (one COPY into an empty table, or a staging table merged in one
    // transaction): the crash comes while the products' COPY is open, with the images still to load.
    const crashed = await crashMidway(
      'components/load/main.ts',
      [REAL_EXPORT_SAMPLE, '--batch-size', '50'],
      env,
      async () => (await count(url, 'products_raw')) === 0 && (await copying(url)),
      state,
    );
    assert.equal(crashed.code, 1, crashed.stderr);
    assert.match(crashed.stderr, /error: cannot reach Postgres at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres/);
    postgres('start', state);
    const rerun = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'load', 'main.ts'), REAL_EXPORT_SAMPLE],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...env } },
    );
    assert.equal(rerun.status, 0, rerun.stderr);
    const summary = JSON.parse(rerun.stdout) as { products: { read: number; loaded: number; refused: number } };
    assert.equal(summary.products.read, summary.products.loaded + summary.products.refused);
    assert.equal(await digest(url, 'products_raw', 'content_hash'), await digest(reference.url, 'products_raw', 'content_hash'));
    assert.equal(await digest(url, 'images_raw', 'content_hash'), await digest(reference.url, 'images_raw', 'content_hash'));
  });

  it('clean fails with a clear error, and a rerun ends with the catalogue of an uninterrupted clean', async () => {
    const crashed = await crashMidway(
      'components/clean/main.ts',
      ['--batch-size', '50'],
      env,
      async () => (await count(url, 'products')) >= 500,
      state,
    );
    assert.equal(crashed.code, 1);
    assert.match(crashed.stderr, /error: cannot reach Postgres at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres/);
    postgres('start', state);
    const rerun = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'clean', 'main.ts')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    assert.equal(rerun.status, 0, rerun.stderr);
    const store = openFsStore(path.join(tmp.dir, 'compare'));
    const crashedDb = await openPostgres(url);
    const referenceDb = await openPostgres(reference.url);
    try {
      assert.equal((await takeSnapshot(crashedDb, store)).hash, (await takeSnapshot(referenceDb, store)).hash);
    } finally {
      await crashedDb.close();
      await referenceDb.close();
    }
  });
});
