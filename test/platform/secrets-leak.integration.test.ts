/**
 * Hostile input: no secret in what the project writes. The pipeline's front (clean in two
 * partitions, snapshot, drift) runs under the local runner (`npm run pipeline:run-local`) against the
 * real servers, with a database password (the test Postgres trusts every login, so any password
 * works, and this one is distinctive) and the S3 secret key in its environment, at debug log level;
 * the marketplace pipeline is compiled with the same environment. Then every byte the project wrote
 * is searched for both: the compiled specs, the commands' output, run.json, every task log, output and
 * artifact, the cache, and every object in the bucket (gzipped ones unpacked).
 */
import assert from 'node:assert/strict';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { migrate, openPostgres, openS3Store } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { clean, drift, snapshot } from '../../pipelines/marketplace/components.js';
import { compilePipeline, param, parallelFor, pipeline, toYaml } from '../../pipelines/dsl/index.js';
import { freshBucket, freshPostgresDatabase, REPO_ROOT, s3ProcessEnv, silentLog, tempDir, testEnv, testS3Client } from '../helpers.js';

const front = pipeline({ name: 'marketplace-front', inputs: { partitions: param.list({ default: ['0/2', '1/2'] }) } }, (inputs) => {
  const cleaning = parallelFor(inputs.partitions, (partition) => void clean({ partition, batchSize: 2 }), { parallelism: 2 });
  const pinned = snapshot({}).after(cleaning);
  drift({ snapshot: pinned.outputs.snapshot });
});

/** The bytes as text, unpacked first when they are gzip. */
const textOf = (bytes: Buffer) => (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('latin1');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('no secret in what the project writes', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let bucket: string;
  const password = `pw-${randomBytes(9).toString('hex')}-canary`;
  const secretKey = testEnv('TEST_AWS_SECRET_ACCESS_KEY');
  let env: NodeJS.ProcessEnv;

  before(async () => {
    tmp = await tempDir('secrets-');
    database = await freshPostgresDatabase();
    const url = new URL(database.url);
    url.password = password;
    bucket = await freshBucket();
    env = {
      ...process.env,
      ...s3ProcessEnv(bucket),
      DATABASE_URL: url.href,
      MARKETPLACE_HOME: path.join(tmp.dir, 'home'),
      LOG_LEVEL: 'debug',
    };
    const db = await openPostgres(url.href);
    await migrate(db);
    await loadExportFolder(path.join(REPO_ROOT, 'test', 'fixtures', 'export-7col'), {
      db,
      store: openS3Store(`s3://${bucket}/artifacts`, testS3Client()),
      log: silentLog,
    });
    await db.close();
  });
  after(async () => {
    await database.drop();
    await tmp.remove();
  });

  it('the specs, logs, run records, reports and artifacts hold neither the database password nor the S3 secret key', async () => {
    const spec = path.join(tmp.dir, 'front.yaml');
    await writeFile(spec, toYaml(front, compilePipeline(front, { imageRegistry: 'local', imageTag: 'test', compilerVersion: 'test' })));
    const compiled = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'compile.ts'), '--out', path.join(tmp.dir, 'marketplace-ranking.yaml')],
      { cwd: REPO_ROOT, env, encoding: 'utf8' },
    );
    assert.equal(compiled.status, 0, compiled.stderr);
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'run-local.ts'), spec], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { status: string; tasks: Record<string, string> };
    assert.equal(summary.status, 'SUCCEEDED');

    const written: { where: string; text: string }[] = [
      { where: 'compile-pipeline output', text: compiled.stdout + compiled.stderr },
      { where: 'pipeline:run-local output', text: run.stdout + run.stderr },
    ];
    for (const file of await filesUnder(tmp.dir)) written.push({ where: file, text: textOf(await readFile(file)) });
    const client = testS3Client();
    const objects = (await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
    for (const object of objects) {
      const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      written.push({ where: `s3://${bucket}/${object.Key}`, text: textOf(Buffer.from(await body.Body!.transformToByteArray())) });
    }

    // The search covers what matters: the run wrote its record, a log per task, the snapshot and the
    // reports to the bucket (so the tasks did use both credentials).
    const where = written.map((w) => w.where);
    assert.ok(where.some((w) => w.endsWith('run.json')));
    assert.ok(
      ['for-loop-1.0.clean.log', 'for-loop-1.1.clean.log', 'snapshot.log', 'drift.log'].every((log) =>
        where.some((w) => w.endsWith(`/logs/${log}`)),
      ),
      where.join('\n'),
    );
    assert.ok(
      where.some((w) => /^s3:\/\/.*\/snapshots\/.*products\.jsonl\.gz$/.test(w)),
      `no snapshot in the bucket: ${where.join(', ')}`,
    );
    assert.ok(
      where.some((w) => w.startsWith('s3://') && /report|eda|\.html$/.test(w)),
      `no report in the bucket: ${where.join(', ')}`,
    );
    assert.ok(where.some((w) => w.endsWith('marketplace-ranking.yaml')));

    const leaks = written
      .filter((w) => w.text.includes(password) || w.text.includes(secretKey))
      .map((w) => `${w.where}: ${w.text.includes(password) ? 'database password' : 'S3 secret key'}`);
    assert.deepEqual(leaks, [], `secrets were written:\n${leaks.join('\n')}`);
  });
});
