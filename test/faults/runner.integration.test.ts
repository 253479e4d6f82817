/**
 * Fault: kill -9 of the local runner in the middle of a task. The front of the marketplace pipeline
 * (clean in two partitions, snapshot, drift) runs under `npm run pipeline:run-local` as a child
 * process against the Postgres server (the embedded PGlite is not crash-safe: a task killed in the
 * middle of a write can leave its data folder unreadable, which the README says); the runner is sent
 * SIGKILL while a clean partition is running,
 * after the other one finished. Run again on the same home (same runs folder and task cache), it ends
 * with the outputs of an uninterrupted run of a copy; the finished partition runs again (clean is never
 * cached) and finds nothing left to clean.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openFsStore, openPostgres } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { clean, drift, snapshot } from '../../pipelines/marketplace/components.js';
import { compilePipeline, param, parallelFor, pipeline, toYaml } from '../../pipelines/dsl/index.js';
import type { RunRecord } from '../../pipelines/local/runner.js';
import { freshPostgresDatabase, REPO_ROOT, silentLog, tempDir } from '../helpers.js';

const front = pipeline({ name: 'marketplace-front', inputs: { partitions: param.list({ default: ['0/2', '1/2'] }) } }, (inputs) => {
  // One partition at a time: then there is always a moment when one is done and the other's process
  // runs (two at once can end within one poll of each other, and the test would see no such moment).
  const cleaning = parallelFor(inputs.partitions, (partition) => void clean({ partition, batchSize: 1 }), { parallelism: 1 });
  const pinned = snapshot({}).after(cleaning);
  drift({ snapshot: pinned.outputs.snapshot });
});
const CLEANS = ['for-loop-1/0/clean', 'for-loop-1/1/clean'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A live process (a zombie waiting for its reaper counts as gone). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function runRecords(home: string): Promise<RunRecord[]> {
  const runs = path.join(home, 'runs');
  const ids = (await readdir(runs).catch(() => [] as string[])).filter((name) => name !== 'cache').sort();
  const records: RunRecord[] = [];
  for (const id of ids) {
    const text = await readFile(path.join(runs, id, 'run.json'), 'utf8').catch(() => '');
    if (text) records.push(JSON.parse(text) as RunRecord);
  }
  return records;
}

describe('kill -9 of the local runner mid-task', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let spec: string;
  const databases: Record<string, Awaited<ReturnType<typeof freshPostgresDatabase>>> = {};
  const env = (home: string): NodeJS.ProcessEnv => ({
    ...process.env,
    MARKETPLACE_HOME: home,
    LOG_LEVEL: 'warn',
    DATABASE_URL: databases[home]!.url,
    ARTIFACT_ROOT: '',
  });
  const runLocal = ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'run-local.ts')];

  before(async () => {
    tmp = await tempDir('faults-runner-');
    // The same loaded state twice: one run gets killed, the other (the reference) runs uninterrupted.
    for (const home of [path.join(tmp.dir, 'home'), path.join(tmp.dir, 'reference')]) {
      databases[home] = await freshPostgresDatabase();
      const db = await openPostgres(databases[home].url);
      await migrate(db);
      await loadExportFolder(path.join(REPO_ROOT, 'test', 'fixtures', 'export-7col'), {
        db,
        store: openFsStore(path.join(home, 'artifacts')),
        log: silentLog,
      });
      await db.close();
    }
    spec = path.join(tmp.dir, 'front.yaml');
    await writeFile(spec, toYaml(front, compilePipeline(front, { imageRegistry: 'local', imageTag: 'test', compilerVersion: 'test' })));
  });
  after(async () => {
    for (const database of Object.values(databases)) await database.drop();
    await tmp.remove();
  });

  it('resumes: the finished partition has nothing left to clean, and the run ends with the outputs of an uninterrupted run', async () => {
    const home = path.join(tmp.dir, 'home');
    const reference = path.join(tmp.dir, 'reference');
    // The uninterrupted run, side by side with the one that gets killed.
    const uninterrupted = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [...runLocal, spec], { cwd: REPO_ROOT, env: env(reference) });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

    const runner = spawn(process.execPath, [...runLocal, spec], { cwd: REPO_ROOT, env: env(home), stdio: 'ignore' });
    let exited = false;
    runner.on('exit', () => (exited = true));
    // Wait until one partition has finished and the other one's process runs.
    let killed: RunRecord | undefined;
    let victim: { path: string; pid: number } | undefined;
    for (let i = 0; i < 1200 && !exited && !killed; i++) {
      await sleep(50);
      const record = (await runRecords(home))[0];
      const done = CLEANS.filter((name) => record?.tasks[name]?.status === 'SUCCEEDED');
      const running = CLEANS.map((name) => record?.tasks[name]).find((task) => task?.status === 'RUNNING' && task.pid);
      if (record && done.length === 1 && running?.pid) {
        runner.kill('SIGKILL');
        killed = record;
        victim = { path: running.path, pid: running.pid };
      }
    }
    assert.ok(killed && victim, 'never saw one partition done while the other ran: the run ended or stalled first');
    await new Promise((resolve) => (exited ? resolve(undefined) : runner.on('exit', resolve)));

    // The task's process dies with the runner: no orphan goes on writing with nobody to record it.
    for (let i = 0; i < 40 && (await alive(victim.pid)); i++) await sleep(50);
    assert.equal(await alive(victim.pid), false, `${victim.path} (pid ${victim.pid}) outlived the killed runner`);

    const rerun = spawnSync(process.execPath, [...runLocal, spec], { cwd: REPO_ROOT, env: env(home), encoding: 'utf8' });
    assert.equal(rerun.status, 0, rerun.stderr);
    const resumed = JSON.parse(rerun.stdout.trim().split('\n').at(-1) ?? '{}') as { run: string; tasks: Record<string, string> };
    const finished = CLEANS.find((name) => name !== victim?.path) ?? '';
    // clean never comes from the cache (its inputs do not change when the raw tables do), so the partition
    // that finished before the kill runs again, and finds nothing left to clean: its upserts are idempotent.
    assert.equal(resumed.tasks[finished], 'SUCCEEDED');
    const resumedRecord = (await runRecords(home)).find((r) => r.id === resumed.run);
    assert.equal(resumedRecord?.tasks[finished]?.parameters?.['cleaned'], 0, 'the finished partition had nothing left to clean');
    assert.equal(resumed.tasks[victim.path], 'SUCCEEDED', 'the killed partition was not rerun');
    assert.equal(resumed.tasks['snapshot'], 'SUCCEEDED');
    assert.equal(resumed.tasks['drift'], 'SUCCEEDED');

    const done = await uninterrupted;
    assert.equal(done.status, 0, done.stderr);
    const outputs = async (home: string, runId: string) => {
      const record = (await runRecords(home)).find((r) => r.id === runId);
      const described = JSON.parse(await readFile(record?.tasks['snapshot']?.artifacts?.['snapshot'] ?? '', 'utf8')) as Record<
        string,
        unknown
      >;
      return {
        snapshot: {
          id: described['id'],
          hash: described['hash'],
          products: described['products'],
          newListings: described['newListings'],
          counts: described['counts'],
        },
        newListings: record?.tasks['snapshot']?.parameters?.['newListings'],
        drifted: record?.tasks['drift']?.parameters?.['drifted'],
      };
    };
    const referenceRun = (JSON.parse(done.stdout.trim().split('\n').at(-1) ?? '{}') as { run: string }).run;
    assert.deepEqual(await outputs(home, resumed.run), await outputs(reference, referenceRun));
  });
});
