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
import { REPO_ROOT, tempDir } from './helpers.js';

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function fakeKfp() {
  const requests: Recorded[] = [];
  const pipelines = new Map<string, string>(); // name -> id
  let versions = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      const url = new URL(request.url ?? '/', 'http://fake');
      const reply = (status: number, json: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (request.headers['authorization'] !== 'Bearer test-token') return reply(401, { message: 'unauthenticated' });
      if (request.method === 'GET' && url.pathname === '/apis/v2beta1/pipelines') {
        const filter = JSON.parse(url.searchParams.get('filter') ?? '{}') as { predicates: { string_value: string }[] };
        const id = pipelines.get(filter.predicates[0]?.string_value ?? '');
        return reply(200, id ? { pipelines: [{ pipeline_id: id }] } : {});
      }
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/pipelines/upload') {
        if (!body.includes('name="uploadfile"') || !body.includes('schemaVersion: 2.1.0')) return reply(400, { message: 'no uploadfile' });
        const id = `pipe-${pipelines.size + 1}`;
        pipelines.set(url.searchParams.get('name') ?? '', id);
        return reply(200, { pipeline_id: id });
      }
      if (request.method === 'GET' && /^\/apis\/v2beta1\/pipelines\/[^/]+\/versions$/.test(url.pathname)) {
        return reply(200, { pipeline_versions: [{ pipeline_version_id: `ver-${++versions}` }] });
      }
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/pipelines/upload_version') return reply(200, { pipeline_version_id: `ver-${++versions}` });
      if (request.method === 'POST' && url.pathname === '/apis/v2beta1/runs') return reply(200, { run_id: 'run-1' });
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
    await writeFile(spec, '# PIPELINE DEFINITION\npipelineInfo:\n  name: marketplace-ranking\nschemaVersion: 2.1.0\n');
  });
  after(async () => {
    await new Promise((resolve) => fake.server.close(resolve));
    await tmp.remove();
  });

  const kfp = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'kfp.ts'), ...args, '--spec', spec], {
        cwd: REPO_ROOT,
        env: { PATH: process.env['PATH'], KFP_HOST: host, KFP_TOKEN: 'test-token', ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('uploads a new pipeline, then a new version of it', async () => {
    const first = await kfp(['upload']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).pipeline_id, 'pipe-1');
    const upload = fake.requests.find((r) => r.url.startsWith('/apis/v2beta1/pipelines/upload?'));
    assert.match(upload?.url ?? '', /name=marketplace-ranking/);
    assert.match(upload?.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
    const second = await kfp(['upload', '--version-name', 'v2']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(JSON.parse(second.stdout), { pipeline_id: 'pipe-1', pipeline_version_id: 'ver-2', version: 'v2' });
    assert.ok(fake.requests.some((r) => r.url.startsWith('/apis/v2beta1/pipelines/upload_version?pipelineid=pipe-1&name=v2')));
  });

  it('starts a run with parameters, and creates the recurring run of manifests/kubeflow/recurring-run.json', async () => {
    const run = await kfp(['run', '--param', 'epochs=3', '--param', 'deployTarget=local']);
    assert.equal(run.code, 0, run.stderr);
    const runBody = JSON.parse(fake.requests.find((r) => r.url === '/apis/v2beta1/runs')?.body ?? '{}') as Record<string, unknown>;
    assert.deepEqual(runBody['runtime_config'], { parameters: { epochs: 3, deployTarget: 'local' } });
    assert.deepEqual(runBody['pipeline_version_reference'], { pipeline_id: 'pipe-1', pipeline_version_id: 'ver-3' });

    const scheduled = await kfp(['schedule']);
    assert.equal(scheduled.code, 0, scheduled.stderr);
    assert.equal(JSON.parse(scheduled.stdout).recurring_run_id, 'rr-1');
    const body = JSON.parse(fake.requests.find((r) => r.url === '/apis/v2beta1/recurringruns')?.body ?? '{}') as Record<string, unknown>;
    assert.deepEqual(body['trigger'], { cron_schedule: { cron: '0 0 3 * * *' } });
    assert.equal(body['max_concurrency'], '1');
    assert.equal(body['no_catchup'], true);
    assert.equal(body['mode'], 'ENABLE');
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
