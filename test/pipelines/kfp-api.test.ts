/**
 * `npm run kfp` against a FAKE Kubeflow Pipelines API server (no Kubeflow can run here): a loopback
 * HTTP server that implements the v2beta1 calls the client makes and records what it was sent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unqualifiedImages } from '../../pipelines/cli/kfp.js';
import { REPO_ROOT, tempDir } from '../helpers.js';

/** A minimal spec whose one executor runs `image`. */
const specWith = (image: string) =>
  `# PIPELINE DEFINITION\ndeploymentSpec:\n  executors:\n    exec-clean:\n      container:\n        image: ${image}\npipelineInfo:\n  name: marketplace-ranking\nschemaVersion: 2.1.0\n`;

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * The FAKE server: pipelines by name, versions by name per pipeline; a duplicate pipeline or version
 * name is answered 409 as KFP answers it (AlreadyExists), and a first upload creates a version named
 * after the pipeline, as KFP does.
 */
function fakeKfp() {
  const requests: Recorded[] = [];
  const pipelines = new Map<string, string>(); // name -> id
  const versions = new Map<string, Map<string, string>>(); // pipeline id -> version name -> id
  let versionCount = 0;
  const addVersion = (pipelineId: string, name: string) => {
    const id = `ver-${++versionCount}`;
    versions.get(pipelineId)?.set(name, id);
    return id;
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      const url = new URL(request.url ?? '/', 'http://fake');
      const reply = (status: number, json: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      const filterName = () =>
        (JSON.parse(url.searchParams.get('filter') ?? '{}') as { predicates?: { string_value: string }[] }).predicates?.[0]?.string_value;
      if (request.headers['authorization'] !== 'Bearer test-token') return reply(401, { message: 'unauthenticated' });
      if (request.method === 'GET' && url.pathname === '/apis/v2beta1/pipelines') {
        const id = pipelines.get(filterName() ?? '');
        return reply(200, id ? { pipelines: [{ pipeline_id: id }] } : {});
      }
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/pipelines/upload') {
        if (!body.includes('name="uploadfile"') || !body.includes('schemaVersion: 2.1.0')) return reply(400, { message: 'no uploadfile' });
        const name = url.searchParams.get('name') ?? '';
        if (pipelines.has(name)) return reply(409, { message: `pipeline ${name} already exists` });
        const id = `pipe-${pipelines.size + 1}`;
        pipelines.set(name, id);
        versions.set(id, new Map());
        addVersion(id, name);
        return reply(200, { pipeline_id: id });
      }
      const listing = /^\/apis\/v2beta1\/pipelines\/([^/]+)\/versions$/.exec(url.pathname);
      if (request.method === 'GET' && listing) {
        const named = versions.get(listing[1] ?? '') ?? new Map<string, string>();
        const wanted = filterName();
        const found = [...named.entries()].filter(([name]) => wanted === undefined || name === wanted);
        return reply(200, found.length > 0 ? { pipeline_versions: found.map(([, id]) => ({ pipeline_version_id: id })) } : {});
      }
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/pipelines/upload_version') {
        const pipelineId = url.searchParams.get('pipelineid') ?? '';
        const name = url.searchParams.get('name') ?? '';
        if (versions.get(pipelineId)?.has(name)) return reply(409, { message: `a version named ${name} already exists` });
        return reply(200, { pipeline_version_id: addVersion(pipelineId, name) });
      }
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/runs') return reply(200, { run_id: `run-${requests.length}` });
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/recurringruns') return reply(200, { recurring_run_id: 'rr-1' });
      return reply(404, { message: `no route ${request.method} ${url.pathname}` });
    });
  });
  return { server, requests };
}

describe('npm run kfp against a fake Kubeflow Pipelines API server', () => {
  const fake = fakeKfp();
  let host: string;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let spec: string;
  before(async () => {
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    host = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    tmp = await tempDir('kfp-');
    spec = path.join(tmp.dir, 'spec.yaml');
    await writeFile(spec, specWith('registry.example.com/marketplace/marketplace-clean:0.1.0'));
  });
  after(async () => {
    await new Promise((resolve) => fake.server.close(resolve));
    await tmp.remove();
  });

  const kfp = (args: string[], env: NodeJS.ProcessEnv = {}, specFile = spec) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'kfp.ts'), ...args, '--spec', specFile],
        {
          cwd: REPO_ROOT,
          env: { PATH: process.env['PATH'], KFP_HOST: host, KFP_TOKEN: 'test-token', ...env },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('uploads a new pipeline, then a new version of it; the same version again is reused, not refused', async () => {
    const first = await kfp(['upload']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).pipeline_id, 'pipe-1');
    const upload = fake.requests.find((r) => r.url.startsWith('/apis/v2beta1/pipelines/upload?'));
    assert.match(upload?.url ?? '', /name=marketplace-ranking/);
    assert.match(upload?.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
    const second = await kfp(['upload', '--version-name', 'v2']);
    assert.equal(second.code, 0, second.stderr);
    const v2 = JSON.parse(second.stdout) as { pipeline_version_id: string };
    assert.equal(v2.pipeline_version_id, 'ver-3', 'the first upload made the pipeline’s own version and the digest-named one');
    assert.ok(fake.requests.some((r) => r.url.startsWith('/apis/v2beta1/pipelines/upload_version?pipelineid=pipe-1&name=v2')));
    const again = await kfp(['upload', '--version-name', 'v2']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), JSON.parse(second.stdout), 'the same version, found by name');
  });

  it('runs the same spec any number of times (KFP answers 409 to a duplicate version name), and creates the recurring run of manifests/kubeflow/recurring-run.json', async () => {
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const run = await kfp(['run', '--param', 'epochs=3', '--param', 'deployTarget=local']);
      assert.equal(run.code, 0, run.stderr);
      runs.push(JSON.parse(run.stdout) as { pipeline_version_id: string; run_id: string });
    }
    assert.equal(new Set(runs.map((r) => r.pipeline_version_id)).size, 1, 'one version for one spec');
    assert.equal(new Set(runs.map((r) => r.run_id)).size, 3, 'three runs');
    const runBody = JSON.parse(fake.requests.find((r) => r.url === '/apis/v2beta1/runs')?.body ?? '{}') as Record<string, unknown>;
    assert.deepEqual(runBody['runtime_config'], { parameters: { epochs: 3, deployTarget: 'local' } });
    assert.deepEqual(runBody['pipeline_version_reference'], { pipeline_id: 'pipe-1', pipeline_version_id: runs[0]?.pipeline_version_id });

    for (let i = 0; i < 2; i++) {
      const scheduled = await kfp(['schedule']);
      assert.equal(scheduled.code, 0, scheduled.stderr);
      assert.equal(JSON.parse(scheduled.stdout).recurring_run_id, 'rr-1');
    }
    const body = JSON.parse(fake.requests.find((r) => r.url === '/apis/v2beta1/recurringruns')?.body ?? '{}') as Record<string, unknown>;
    assert.deepEqual(body['trigger'], { cron_schedule: { cron: '0 0 3 * * *' } });
    assert.equal(body['max_concurrency'], '1');
    assert.equal(body['no_catchup'], true);
    assert.equal(body['mode'], 'ENABLE');
  });

  it('refuses a spec whose images name no registry, or the compiler’s unpullable placeholder, before calling the server', async () => {
    const calls = fake.requests.length;
    for (const image of ['marketplace/marketplace-clean:0.1.0', 'registry.invalid/marketplace/marketplace-clean:0.1.0']) {
      const file = path.join(tmp.dir, 'unqualified.yaml');
      await writeFile(file, specWith(image));
      const refused = await kfp(['upload'], {}, file);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /cannot pull from your registry: .*marketplace-clean:0\.1\.0.*--image-registry/);
    }
    assert.equal(fake.requests.length, calls);
    assert.deepEqual(unqualifiedImages(specWith('localhost:5000/m/clean:1')), []);
  });

  it('fails clearly: no KFP_HOST (exit 2), a refused token (exit 1, the token not shown)', async () => {
    const noHost = await kfp(['upload'], { KFP_HOST: '' });
    assert.equal(noHost.code, 2);
    assert.match(noHost.stderr, /KFP_HOST is not set/);
    const refused = await kfp(['upload'], { KFP_TOKEN: 'wrong-token-value' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /answered 401: unauthenticated/);
    assert.doesNotMatch(refused.stderr, /wrong-token-value/);
  });
});
