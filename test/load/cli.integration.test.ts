/**
 * The commands as a user and a pipeline run them: separate processes, real exit codes, one JSON line
 * on stdout, and the real Gumtree export (its committed sample, test/fixtures/gumtree-sample) loaded end to end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshBucket, freshPostgresDatabase, REPO_ROOT, s3ProcessEnv, REAL_EXPORT_SAMPLE, tempDir } from '../helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, script), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const LOAD = 'components/load/main.ts';
const START = 'pipelines/cli/start.ts';
const fixture = (name: string) => path.join(REPO_ROOT, 'test', 'fixtures', name);

/** The summary: exactly one line on stdout, JSON. */
function summaryOf(result: Run): Record<string, Record<string, number>> {
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one summary line on stdout, got: ${result.stdout}`);
  return JSON.parse(lines[0]!) as Record<string, Record<string, number>>;
}

/** Data records in a file whose records end in LF only (the real Products.csv): LF bytes minus the header. */
async function lfRecords(file: string): Promise<number> {
  const bytes = await readFile(file);
  let count = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) count += 1;
  return count - 1;
}

describe('data:load on the command line', () => {
  let home: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (home = await tempDir('home-')));
  after(() => home.remove());

  it('--help describes the command and exits 0', async () => {
    const result = await run(LOAD, ['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Usage: data:load \[options\] \[dir\]/);
    assert.match(result.stdout, /--images-zip <path-or-url>/);
    const start = await run(START, ['--help']);
    assert.equal(start.code, 0);
    assert.match(start.stdout, /--data <dir>/);
  });

  it('bad usage and bad input exit 2 with a message that says what is wrong', async () => {
    const env = { MARKETPLACE_HOME: home.dir };
    const cases: [string, string[], RegExp, NodeJS.ProcessEnv?][] = [
      [LOAD, [], /give either a data folder or --from/],
      [LOAD, [fixture('export-7col'), '--from', 'postgres://x@127.0.0.1/db'], /not both or neither/],
      [LOAD, ['/no/such/folder'], /data folder \/no\/such\/folder not found/],
      [LOAD, [path.join(REPO_ROOT, 'test')], /missing Products\.csv and Images\.csv/],
      [LOAD, ['--batch-size', 'many', fixture('export-7col')], /'many' is not a positive integer/],
      [LOAD, ['--no-such-option'], /unknown option/],
      [LOAD, [fixture('export-7col')], /DATABASE_URL must be a postgres/, { DATABASE_URL: 'mysql://x' }],
      ['components/clean/main.ts', ['--partition', '3/2'], /'3\/2' is not a partition k\/N/],
    ];
    for (const [script, args, message, extra] of cases) {
      const result = await run(script, args, { ...env, ...extra });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '', 'no summary on failure');
    }
  });

  it('an unreachable database fails with exit 1, and the password never reaches the output', async () => {
    const result = await run(LOAD, [fixture('export-7col')], {
      MARKETPLACE_HOME: home.dir,
      DATABASE_URL: 'postgres://loader:VerySecretPw9@127.0.0.1:1/market',
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot reach Postgres at postgres:\/\/loader:\*\*\*@127\.0\.0\.1:1\/market/);
    assert.doesNotMatch(result.stderr + result.stdout, /VerySecretPw9/);
  });

  it('loads into Postgres and S3 when DATABASE_URL and ARTIFACT_ROOT say so', async () => {
    const database = await freshPostgresDatabase();
    try {
      const bucket = await freshBucket();
      const result = await run(LOAD, [fixture('export-7col')], { DATABASE_URL: database.url, ...s3ProcessEnv(bucket) });
      assert.equal(result.code, 0, result.stderr);
      const summary = summaryOf(result);
      assert.deepEqual(summary['products'], {
        read: 8,
        loaded: 4,
        refused: 4,
        inserted: 4,
        updated: 0,
        unchanged: 0,
        removed: 0,
        restored: 0,
      });
      assert.deepEqual(summary['imageFiles'], { stored: 0, uploaded: 0, missing: 5, unreferenced: 0 });
      assert.doesNotMatch(result.stderr, new RegExp(s3ProcessEnv(bucket)['AWS_SECRET_ACCESS_KEY']!.replace(/[/+]/g, '.')));
    } finally {
      await database.drop();
    }
  });

  // npm start on the demo catalogue, and the runs after it: test/pipelines/fresh-listings.test.ts.

  it('npm start on the real export: every row accounted for by load and clean, and a second run changes nothing', async () => {
    const products = await lfRecords(path.join(REAL_EXPORT_SAMPLE, 'Products.csv'));
    const env = { MARKETPLACE_HOME: home.dir };
    const first = await run(START, ['--data', REAL_EXPORT_SAMPLE, '--quick'], env);
    assert.equal(first.code, 0, first.stderr);
    type Counts = Record<string, number>;
    const { load, clean, snapshot } = summaryOf(first) as unknown as {
      load: Record<string, Counts>;
      clean: Record<string, Counts>;
      snapshot: { id: string; hash: string; products: number };
    };
    assert.equal(load['products']?.['read'], products, 'one record per LF-terminated line, bare CRs notwithstanding');
    for (const table of ['products', 'images']) {
      const loaded = load[table]!;
      assert.equal(loaded['read'], (loaded['loaded'] ?? 0) + (loaded['refused'] ?? 0), `${table}: read = loaded + refused`);
      const cleaned = clean[table]!;
      assert.equal(cleaned['read'], loaded['loaded'], `${table}: clean reads every loaded row`);
      assert.equal(
        cleaned['read'],
        (cleaned['upserted'] ?? 0) + (cleaned['quarantined'] ?? 0) + (cleaned['removed'] ?? 0),
        `${table}: read = upserted + quarantined + removed`,
      );
      assert.equal(cleaned['removed'], 0, `${table}: an incremental load removes nothing`);
    }
    assert.ok((clean['products']?.['upserted'] ?? 0) > 0.9 * products, 'most listings are clean');
    assert.equal(clean['images']?.['upserted'], 0, 'the public export has no image files: every image row is quarantined');
    assert.equal(snapshot.products, clean['products']?.['upserted']);
    assert.match(first.stderr, /root category\s+products/);
    assert.match(first.stderr, /image_object_missing/);

    const reload = await run(LOAD, [REAL_EXPORT_SAMPLE], env);
    assert.equal(reload.code, 0, reload.stderr);
    const again = summaryOf(reload);
    assert.equal(again['products']?.['unchanged'], load['products']?.['loaded']);
    assert.equal(again['products']?.['inserted'], 0);
    assert.equal(again['images']?.['unchanged'], load['images']?.['loaded']);
    const reclean = await run('components/clean/main.ts', [], env);
    assert.equal(reclean.code, 0, reclean.stderr);
    const recleaned = summaryOf(reclean) as unknown as { products: Counts; images: Counts; snapshot: { id: string; hash: string } };
    assert.deepEqual(recleaned.products, { read: 0, upserted: 0, quarantined: 0, removed: 0 });
    assert.deepEqual(recleaned.images, { read: 0, upserted: 0, quarantined: 0, removed: 0 });
    assert.equal(recleaned.snapshot.hash, snapshot.hash, 'the same catalogue, the same snapshot');
  });
});
