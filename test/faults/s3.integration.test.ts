/**
 * Fault: the S3 server stopped in the middle of an artifact upload. The gateway (radosgw) of a Ceph
 * cluster of the test's own is killed with SIGKILL while `publish` is sending a multipart file, after
 * the first file of the set landed; the OSD keeps its objects (memstore, in RAM), so once the gateway
 * is started again a reader sees exactly what reached the store: the files that landed, no manifest,
 * hence nothing published. The rerun publishes the whole set, and bytes altered afterwards are refused.
 */
import assert from 'node:assert/strict';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { appendFile, chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NotFoundError, openS3Store } from '../../components/core/platform/index.js';
import { CorruptArtifactError, openPublished, publish } from '../../components/core/contracts/index.js';
import { collect, REPO_ROOT, tempDir } from '../helpers.js';

const CEPH_RGW = path.join(REPO_ROOT, 'test', 'services', 'ceph-rgw.sh');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cephRgw(command: 'start' | 'stop', state: string): void {
  const result = spawnSync('bash', [CEPH_RGW, command, state], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `ceph-rgw.sh ${command}: ${result.stderr}`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The gateway's pid, from the pid list ceph-rgw.sh keeps (the last radosgw line: a restart appends). */
async function gatewayPid(state: string): Promise<number> {
  const lines = (await readFile(path.join(state, 'pids'), 'utf8')).split('\n').filter((line) => line.endsWith(' radosgw'));
  const pid = Number(lines.at(-1)?.split(' ')[0]);
  assert.ok(pid > 0, 'no radosgw in the pid list');
  return pid;
}

describe('S3 server stopped mid-upload', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let state: string;
  let endpoint: string;
  let client: S3Client;
  const bucket = 'faults';
  // A model-sized set: a small file first, then two files above the store's multipart threshold (16 MiB).
  const files = [
    { name: 'metadata.json', body: Buffer.from(JSON.stringify({ dims: 256, note: 'lands before the fault' })) },
    { name: 'model.weights.bin', body: randomBytes(20 * 1024 * 1024) },
    { name: 'products.faiss', body: randomBytes(18 * 1024 * 1024) },
  ];
  const manifest = { kind: 'model', version: 'v1', metadata: { fault: 'gateway killed' } };

  before(async () => {
    tmp = await tempDir('faults-s3-');
    await chmod(tmp.dir, 0o755);
    state = path.join(tmp.dir, 'rgw');
    cephRgw('start', state);
    const env = await readFile(path.join(state, 'env'), 'utf8');
    const value = (name: string) => env.match(new RegExp(`${name}=(\\S+)`))?.[1] ?? '';
    endpoint = value('S3_ENDPOINT');
    client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: value('AWS_ACCESS_KEY_ID'), secretAccessKey: value('AWS_SECRET_ACCESS_KEY') },
      // As production's client (createS3Client): retries with backoff, so the fault is not a mere blip.
      maxAttempts: 3,
      retryMode: 'standard',
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    client?.destroy();
    cephRgw('stop', state);
    await tmp.remove();
  });

  /** Kills the gateway right before the second part of the big file is sent: part one is on its way. */
  function killGatewayOnSecondPart(): { fired: () => boolean } {
    let fired = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string; PartNumber?: number };
        if (!fired && context.commandName === 'UploadPartCommand' && input.Key?.endsWith('model.weights.bin') && input.PartNumber === 2) {
          fired = true;
          const pid = spawnSync('awk', ['$2 == "radosgw" { p = $1 } END { print p }', path.join(state, 'pids')], {
            encoding: 'utf8',
          }).stdout.trim();
          process.kill(Number(pid), 'SIGKILL');
          while (alive(Number(pid))) await sleep(20);
        }
        return next(args);
      },
      { step: 'initialize', name: 'killGatewayOnSecondPart' },
    );
    return { fired: () => fired };
  }

  /** Starts the gateway again on the same cluster (same port, users and objects), as ceph-rgw.sh does. */
  async function restartGateway(): Promise<void> {
    const log = openSync(path.join(state, 'log', 'radosgw.out'), 'a');
    const child = spawn('radosgw', ['-c', path.join(state, 'ceph.conf'), '-n', 'client.rgw.local', '-f'], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    await appendFile(path.join(state, 'pids'), `${child.pid} radosgw\n`); // so that ceph-rgw.sh stop stops it
    for (let i = 0; i < 300; i++) {
      const status = await fetch(endpoint)
        .then((r) => r.status)
        .catch(() => 0);
      if (status === 200) return;
      await sleep(100);
    }
    assert.fail('the gateway did not come back in 30 s');
  }

  it('fails with a clear error, publishes nothing, and the rerun publishes the whole verified set', async () => {
    const store = openS3Store(`s3://${bucket}/models`, client);
    const trigger = killGatewayOnSecondPart();
    const started = Date.now();
    await assert.rejects(publish(store, 'v1', files, manifest), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /S3 request for s3:\/\/faults\/models\/v1\/model\.weights\.bin failed/);
      return true;
    });
    assert.ok(trigger.fired(), 'the gateway was never killed: the big file did not go up in parts');
    assert.ok(Date.now() - started < 30_000, 'publish hung instead of failing');
    const killed = await gatewayPid(state);
    assert.equal(alive(killed), false);

    // While the server is down a reader gets an error, never a model.
    await assert.rejects(openPublished(store, 'v1'), /S3 request for s3:\/\/faults\/models\/v1\/manifest\.json failed/);

    await restartGateway();
    // What a reader sees after the fault: the first file landed, the multipart file never completed
    // (S3 shows it only on completion), and without a manifest nothing counts as published.
    const visible = (await collect(store.list('v1/'))).map((o) => o.key);
    assert.ok(visible.includes('v1/metadata.json'), `the first file should have landed before the fault: ${visible.join(', ')}`);
    assert.ok(!visible.includes('v1/model.weights.bin'), 'a half-uploaded multipart object is visible');
    assert.ok(!visible.includes('v1/manifest.json'));
    await assert.rejects(
      openPublished(store, 'v1'),
      (error: unknown) =>
        error instanceof NotFoundError && /nothing is published at s3:\/\/faults\/models\/v1 \(no manifest\.json\)/.test(error.message),
    );

    // The rerun, on the recovered server: every file, sizes and hashes checked on the way back.
    const published = await publish(store, 'v1', files, manifest);
    assert.deepEqual(
      published.files.map((f) => [f.name, f.bytes]),
      files.map((f) => [f.name, f.body.length]),
    );
    const reader = await openPublished(store, 'v1');
    for (const file of files) assert.ok((await reader.read(file.name)).equals(file.body), `${file.name} read back differs`);
  });

  it('refuses a published file whose bytes were altered afterwards', async () => {
    const store = openS3Store(`s3://${bucket}/models`, client);
    const altered = Buffer.from(files[2]!.body);
    altered[altered.length >> 1]! ^= 0xff; // one bit flip, same size: only the hash can tell
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'models/v1/products.faiss', Body: altered }));
    const reader = await openPublished(store, 'v1');
    await assert.rejects(
      reader.read('products.faiss'),
      (error: unknown) => error instanceof CorruptArtifactError && /products\.faiss does not match its manifest/.test(error.message),
    );
    assert.ok((await reader.read('metadata.json')).equals(files[0]!.body), 'an untouched file still reads');
  });
});
