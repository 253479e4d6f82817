/**
 * The deploy component against a FAKE Kubernetes API server (test/fake-kube-api.ts: no kube-apiserver
 * can run here) and a folder artifact store: a rollout that completes writes the serving record; one
 * whose pods never become ready is rolled back, fails the command and leaves the record alone; a 409
 * is retried on a fresh read; refused calls (404, 401, 403) and a hung server become named errors that
 * never carry the token; the same release twice is a no-op; the local target switches the record.
 * The client is @kubernetes/client-node (AppsV1Api over the fake's kubeconfig).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InputError, openFsStore, type ArtifactStore } from '../../components/core/platform/index.js';
import { Pointer, publish, readServingRecord, SERVING_KEY } from '../../components/core/contracts/index.js';
import { deploy, type Target } from '../../components/deploy/deploy.js';
import {
  deploymentApi,
  KubeForbiddenError,
  KubeNotFoundError,
  KubeUnauthorizedError,
  loadKubeConfig,
} from '../../components/deploy/kube-api.js';
import { RolloutFailedError } from '../../components/deploy/kubernetes.js';
import { parseFinalStatus, recordDeployed, recordRun } from '../../components/deploy/record-run.js';
import { resolveRelease, type Release } from '../../components/deploy/release.js';
import { writeServingRecord } from '../../components/deploy/serving-record.js';
import { FakeKubeApi } from '../fake-kube-api.js';
import { REPO_ROOT, silentLog, tempDir } from '../helpers.js';

const V1: Release = { model: { version: 'm1', key: 'models/m1' }, index: { version: 'i1', key: 'indexes/i1' }, snapshotId: 'snap-1' };
const V2: Release = { model: { version: 'm2', key: 'models/m2' }, index: { version: 'i2', key: 'indexes/i2' }, snapshotId: 'snap-2' };

async function publishRelease(store: ArtifactStore, release: Release): Promise<void> {
  await publish(store, release.model.key, [{ name: 'model.json', body: Buffer.from('{}') }], {
    kind: 'model',
    version: release.model.version,
    metadata: { snapshotId: release.snapshotId },
  });
  if (release.index)
    await publish(store, release.index.key, [{ name: 'products.faiss', body: Buffer.from('x') }], {
      kind: 'index',
      version: release.index.version,
      metadata: { model: release.model.version },
    });
}

/** The deploy CLI in a child process (async: the fake server lives in this process's event loop). */
function runDeploy(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'deploy', 'main.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'], LOG_JSON: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('deploy', () => {
  let fake: FakeKubeApi;
  let tmp: { dir: string; remove(): Promise<void> };
  let store: ArtifactStore;
  let kubeconfig: string;
  let artifactRoot: string;
  const kubeTarget = (): Target => ({
    kind: 'kubernetes',
    api: deploymentApi(loadKubeConfig(kubeconfig)),
    namespace: 'marketplace',
    deployment: 'search',
    timeoutMs: 5000,
    pollMs: 10,
  });

  beforeEach(async () => {
    fake = await FakeKubeApi.start();
    fake.addDeployment({
      env: [
        { name: 'PORT', value: '8080' },
        { name: 'MODEL_VERSION', value: 'm1' },
        { name: 'INDEX_VERSION', value: 'i1' },
      ],
    });
    tmp = await tempDir('deploy-');
    store = openFsStore(path.join(tmp.dir, 'artifacts'));
    artifactRoot = pathToFileURL(path.join(tmp.dir, 'artifacts')).href;
    kubeconfig = path.join(tmp.dir, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfig());
    await publishRelease(store, V1);
    await publishRelease(store, V2);
    await writeServingRecord(store, V1, new Date('2024-01-01T00:00:00Z'));
  });

  afterEach(async () => {
    await fake.close();
    await tmp.remove();
  });

  it('rolls out on the fake Kubernetes API server, then writes the serving record', async () => {
    const summary = await deploy({
      store,
      log: silentLog,
      release: await resolveRelease(store, { modelVersion: 'm2', indexVersion: 'i2' }),
      target: kubeTarget(),
    });
    assert.equal(summary.outcome, 'deployed');
    assert.equal(summary.deployment?.patched, true);
    assert.deepEqual(summary.deployment?.previous, { modelVersion: 'm1', indexVersion: 'i1' });
    assert.deepEqual(summary.servingRecord.previous, { model: 'm1', index: 'i1' });
    // Other variables stay, in order; the versions change in place.
    assert.deepEqual(fake.env(), { PORT: '8080', MODEL_VERSION: 'm2', INDEX_VERSION: 'i2' });
    const template = fake.deployment()['spec'] as { template: { metadata: { annotations: Record<string, string> } } };
    assert.equal(template.template.metadata.annotations['marketplace.io/snapshot-id'], 'snap-2');
    const record = await readServingRecord(store);
    assert.deepEqual(
      { model: record?.model, index: record?.index, snapshotId: record?.snapshotId },
      { model: V2.model, index: V2.index, snapshotId: 'snap-2' },
    );
    const patches = fake.requests.filter((request) => request.method === 'PATCH');
    assert.equal(patches.length, 1);
    assert.equal(patches[0]?.contentType, 'application/json-patch+json');
    assert.equal(patches[0]?.authorization, `Bearer ${fake.token}`);
    // It waited: status was read until the fake controller reported every replica updated and available.
    assert.ok(fake.requests.filter((request) => request.path.endsWith('/status')).length >= fake.readsToComplete);
  });

  it('rolls back a rollout that never becomes ready on the fake Kubernetes API server, exits non-zero, keeps the serving record', async () => {
    const templateBefore = (fake.deployment()['spec'] as { template: unknown }).template;
    const recordBefore = await readFile(path.join(tmp.dir, 'artifacts', ...SERVING_KEY.split('/')), 'utf8');
    // Pods of the new release never pass readiness.
    fake.podsBecomeReady = (template) => !JSON.stringify(template).includes('"m2"');
    const result = await runDeploy(
      ['--model-version', 'm2', '--index-version', 'i2', '--timeout-seconds', '1', '--poll-seconds', '0.05', '--kubeconfig', kubeconfig],
      { ARTIFACT_ROOT: artifactRoot },
    );
    assert.equal(result.code, 1, result.stderr);
    const summary = JSON.parse(result.stdout.trim()) as { outcome: string; rollback: { attempted: boolean; complete: boolean } };
    assert.equal(summary.outcome, 'rolled-back');
    assert.deepEqual({ attempted: summary.rollback.attempted, complete: summary.rollback.complete }, { attempted: true, complete: true });
    assert.match(result.stderr, /rolled back/);
    // The same template (the client library orders object keys its own way; the API server compares values).
    assert.deepEqual((fake.deployment()['spec'] as { template: unknown }).template, templateBefore);
    assert.deepEqual(fake.env(), { PORT: '8080', MODEL_VERSION: 'm1', INDEX_VERSION: 'i1' });
    assert.equal(await readFile(path.join(tmp.dir, 'artifacts', ...SERVING_KEY.split('/')), 'utf8'), recordBefore);
    // The service account token the client sent never reaches a log line or the summary.
    assert.ok(!result.stdout.includes(fake.token) && !result.stderr.includes(fake.token));
  });

  it('rolls a resumed rollout back to the previous ReplicaSet revision on the fake Kubernetes API server', async () => {
    // An earlier run patched the Deployment to m2 and died; its pods never become ready.
    const template = (fake.deployment()['spec'] as { template: Record<string, unknown> }).template;
    fake.setTemplate(
      JSON.parse(
        JSON.stringify(template)
          .replace('"m1"', '"m2"')
          .replace('"i1"', '"i2"')
          .replace('"annotations":{}', '"annotations":{"marketplace.io/snapshot-id":"snap-2"}'),
      ),
    );
    fake.podsBecomeReady = (t) => !JSON.stringify(t).includes('"m2"');
    await assert.rejects(
      deploy({ store, log: silentLog, release: V2, target: { ...kubeTarget(), timeoutMs: 300 } as Target }),
      (error: unknown) => error instanceof RolloutFailedError && error.rollback.revision === '1' && error.rollback.complete,
    );
    assert.equal(fake.requests.filter((request) => request.path.endsWith('/replicasets')).length, 1);
    assert.equal(fake.env()['MODEL_VERSION'], 'm1');
    assert.equal((await readServingRecord(store))?.model.version, 'm1');
  });

  it('retries a patch answered 409 Conflict by the fake Kubernetes API server, on a fresh read', async () => {
    fake.concurrentWrites = 2;
    const summary = await deploy({ store, log: silentLog, release: V2, target: kubeTarget() });
    assert.equal(summary.outcome, 'deployed');
    const patches = fake.requests.filter((request) => request.method === 'PATCH').map((request) => request.status);
    assert.deepEqual(patches, [409, 409, 200]);
    assert.equal(fake.env()['MODEL_VERSION'], 'm2');
    // Re-reading before each attempt kept the other writer's change (no lost update).
    const annotations = (fake.deployment()['metadata'] as { annotations: Record<string, string> }).annotations;
    assert.ok(annotations['example.com/other-writer']);
    assert.equal((await readServingRecord(store))?.model.version, 'm2');
  });

  it('deploying the same release twice on the fake Kubernetes API server is a no-op the second time', async () => {
    await deploy({ store, log: silentLog, release: V2, target: kubeTarget() });
    const firstRecord = await readServingRecord(store);
    const patchesBefore = fake.requests.filter((request) => request.method === 'PATCH').length;
    const generation = (fake.deployment()['metadata'] as { generation: number }).generation;
    const result = await runDeploy(
      ['--model-version', 'm2', '--index-version', 'i2', '--poll-seconds', '0.05', '--kubeconfig', kubeconfig],
      { ARTIFACT_ROOT: artifactRoot },
    );
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout.trim()) as {
      outcome: string;
      message: string;
      deployment: { patched: boolean };
      servingRecord: { changed: boolean };
    };
    assert.equal(summary.outcome, 'unchanged');
    assert.match(summary.message, /^no-op/);
    assert.equal(summary.deployment.patched, false);
    assert.equal(summary.servingRecord.changed, false);
    assert.equal(fake.requests.filter((request) => request.method === 'PATCH').length, patchesBefore);
    assert.equal((fake.deployment()['metadata'] as { generation: number }).generation, generation);
    assert.deepEqual(await readServingRecord(store), firstRecord);
  });

  it('names the calls the fake Kubernetes API server refuses (404, 401, 403) or never answers, without the token', async () => {
    const api = deploymentApi(loadKubeConfig(kubeconfig));
    await assert.rejects(
      api.read('marketplace', 'nope'),
      (error: unknown) =>
        error instanceof KubeNotFoundError &&
        error.message === 'read Deployment marketplace/nope: not found (404): deployments.apps "nope" not found',
    );
    fake.forbid.add('PATCH');
    await assert.rejects(
      api.patch('marketplace', 'search', []),
      (error: unknown) =>
        error instanceof KubeForbiddenError &&
        error.code === 403 &&
        /^patch Deployment marketplace\/search: forbidden \(403\).*cannot patch resource "deployments"/.test(error.message),
    );
    const stale = path.join(tmp.dir, 'stale-kubeconfig');
    await writeFile(stale, fake.kubeconfig().replace(fake.token, 'stale-token'));
    await assert.rejects(
      deploymentApi(loadKubeConfig(stale)).read('marketplace', 'search'),
      (error: unknown) =>
        error instanceof KubeUnauthorizedError &&
        /refused the credentials \(401 Unauthorized\)/.test(error.message) &&
        !error.message.includes('stale-token'),
    );
    fake.stall = true;
    await assert.rejects(
      deploymentApi(loadKubeConfig(kubeconfig), 100).readStatus('marketplace', 'search'),
      /no answer from http:\/\/127\.0\.0\.1:\d+ in 0\.1 s/,
    );
    fake.stall = false;
    // The CLI: exit 1, the named error on stderr, the token nowhere.
    const result = await runDeploy(['--model-version', 'm2', '--index-version', 'i2', '--deployment', 'nope', '--kubeconfig', kubeconfig], {
      ARTIFACT_ROOT: artifactRoot,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /read Deployment marketplace\/nope: not found \(404\)/);
    assert.ok(!result.stdout.includes(fake.token) && !result.stderr.includes(fake.token));
    assert.throws(
      () => loadKubeConfig(path.join(tmp.dir, 'missing')),
      (error: unknown) => error instanceof InputError && /cannot load the kubeconfig/.test(error.message),
    );
  });

  it('the local target switches the serving record from the pipeline artifacts, and only once', async () => {
    // The artifacts the pipeline hands over: train's model folder pointer and index's manifest.
    const modelArtifact = path.join(tmp.dir, 'model.json');
    await writeFile(modelArtifact, JSON.stringify({ version: 'm2', uri: store.uri('models/m2') }));
    const indexArtifact = path.join(tmp.dir, 'index-manifest.json');
    await writeFile(indexArtifact, (await store.get('indexes/i2/manifest.json')).toString());
    const versionOut = path.join(tmp.dir, 'out', 'version');
    const args = ['--target', 'local', '--model', modelArtifact, '--index', indexArtifact, '--version-out', versionOut];
    const first = await runDeploy(args, { ARTIFACT_ROOT: artifactRoot });
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout.trim()).servingRecord.previous, { model: 'm1', index: 'i1' });
    const record = await readServingRecord(store);
    assert.deepEqual(
      { model: record?.model, index: record?.index, snapshotId: record?.snapshotId },
      { model: V2.model, index: V2.index, snapshotId: 'snap-2' },
    );
    assert.equal(await readFile(versionOut, 'utf8'), 'm2');
    const second = await runDeploy(args, { ARTIFACT_ROOT: artifactRoot });
    assert.equal(JSON.parse(second.stdout.trim()).outcome, 'unchanged');
    assert.deepEqual(await readServingRecord(store), record);
    assert.equal(fake.requests.length, 0);
  });

  it('production-model writes a pointer to the model in production that deploy and index read; none in production exits 2', async () => {
    const out = path.join(tmp.dir, 'out', 'production-model.json');
    const result = await runDeploy(['production-model', '--model-out', out], { ARTIFACT_ROOT: artifactRoot });
    assert.equal(result.code, 0, result.stderr);
    const pointer = JSON.parse(await readFile(out, 'utf8')) as { version: string; key: string; uri: string };
    assert.deepEqual(pointer, { version: 'm1', key: 'models/m1', uri: store.uri('models/m1') });
    assert.ok(Pointer.safeParse(pointer).success, 'the pointer is what index and deploy read as --model');
    await store.delete(SERVING_KEY);
    const none = await runDeploy(['production-model', '--model-out', path.join(tmp.dir, 'out', 'none.json')], {
      ARTIFACT_ROOT: artifactRoot,
    });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /nothing is in production/);
  });

  it('refuses a model that is not published (exit 2), and --help documents the options', async () => {
    await assert.rejects(resolveRelease(store, { modelVersion: 'm9' }), /model m9 is not published/);
    const bad = await runDeploy(['--target', 'local', '--model-version', 'm9'], { ARTIFACT_ROOT: artifactRoot });
    assert.equal(bad.code, 2);
    const help = await runDeploy(['--help'], {});
    assert.equal(help.code, 0);
    for (const option of [
      '--model',
      '--index',
      '--snapshot-id',
      '--namespace',
      '--deployment',
      '--container',
      '--timeout-seconds',
      '--target',
    ])
      assert.ok(help.stdout.includes(option), option);
  });

  it('record-run states the outcome it can verify: the run’s deploy record, not the final state 2.17 leaves RUNNING', async () => {
    // What KFP 2.17 passes: the exit handler DAG's ML Metadata state, its name, an empty error.
    const status = (state: string) =>
      parseFinalStatus(JSON.stringify({ state, pipelineJobResourceName: 'run-42', pipelineTaskName: 'exit-handler-1', error: {} }));
    const at = new Date('2024-02-02T00:00:00Z');
    const deployed = (runId: string, outcome: 'deployed' | 'unchanged') =>
      recordDeployed(store, { runId, model: 'm2', index: 'i2', snapshotId: 'snap-2', outcome, deployedAt: at.toISOString() });

    // Retrained and promoted, or not retrained and the new snapshot indexed: a branch was skipped, so RUNNING.
    await deployed('run-retrained', 'deployed');
    const retrained = await recordRun(store, 'run-retrained', status('RUNNING'), at);
    assert.deepEqual([retrained.outcome, retrained.key], ['succeeded', 'runs/run-retrained/status.json']);
    assert.match(retrained.reason, /put in service: model m2, index i2 of snapshot snap-2/);
    await deployed('run-quiet', 'unchanged');
    assert.equal((await recordRun(store, 'run-quiet', status('COMPLETE'), at)).outcome, 'succeeded');
    // A run that never deployed did not succeed, whatever the state says; FAILED is a failure.
    const silent = await recordRun(store, 'run-silent', status('RUNNING'), at);
    assert.equal(silent.outcome, 'failed');
    assert.match(silent.reason, /no deploy recorded for run run-silent/);
    await deployed('run-broken', 'deployed');
    assert.equal((await recordRun(store, 'run-broken', status('FAILED'), at)).outcome, 'failed');
    const kept = JSON.parse((await store.get('runs/run-silent/status.json')).toString()) as {
      outcome: string;
      finalStatus: { state: string };
    };
    assert.deepEqual([kept.outcome, kept.finalStatus.state], ['failed', 'RUNNING']);
    assert.throws(() => parseFinalStatus('{"nope":1}'), /not a task final status/);
  });

  it('deploy --run-id records the release for its run, which record-run reads', async () => {
    const modelArtifact = path.join(tmp.dir, 'model.json');
    await writeFile(modelArtifact, JSON.stringify({ version: 'm2', uri: store.uri('models/m2') }));
    const indexArtifact = path.join(tmp.dir, 'index-manifest.json');
    await writeFile(indexArtifact, (await store.get('indexes/i2/manifest.json')).toString());
    const result = await runDeploy(['--target', 'local', '--model', modelArtifact, '--index', indexArtifact, '--run-id', 'run-7'], {
      ARTIFACT_ROOT: artifactRoot,
    });
    assert.equal(result.code, 0, result.stderr);
    const record = JSON.parse((await store.get('runs/run-7/deployed.json')).toString()) as {
      model: string;
      index: string;
      outcome: string;
    };
    assert.deepEqual([record.model, record.index, record.outcome], ['m2', 'i2', 'deployed']);
    const recorded = await runDeploy(
      ['record-run', '--run-id', 'run-7', '--status', JSON.stringify({ state: 'RUNNING', pipelineTaskName: 'exit-handler-1', error: {} })],
      { ARTIFACT_ROOT: artifactRoot },
    );
    assert.equal(recorded.code, 0, recorded.stderr);
    assert.equal(JSON.parse(recorded.stdout).outcome, 'succeeded');
  });
});
