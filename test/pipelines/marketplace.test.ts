/**
 * The marketplace pipeline as compiled: a snapshot of the whole spec (cdk8s-style: a change to the
 * spec is a reviewed change to this file; `UPDATE_SNAPSHOTS=1` rewrites it), plus the properties that
 * must hold whatever the snapshot says.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { compileToYaml } from '../../pipelines/marketplace/compile.js';
import { marketplaceRanking } from '../../pipelines/marketplace/pipeline.js';
import { REPO_ROOT, tempDir } from '../helpers.js';

const SNAPSHOT = path.join(REPO_ROOT, 'test', 'snapshots', 'marketplace-ranking.yaml');

type Obj = Record<string, unknown>;
const at = (value: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v as Obj | undefined)?.[k], value);

async function compiled(): Promise<{ yaml: string; spec: Obj; platform: Obj }> {
  const yaml = await compileToYaml(marketplaceRanking, { imageRegistry: 'registry.example/marketplace' });
  const [spec, platform] = parseAllDocuments(yaml, { strict: true }).map((doc) => doc.toJS() as Obj);
  return { yaml, spec: spec!, platform: platform! };
}

describe('the marketplace-ranking pipeline spec', () => {
  it('matches the reviewed snapshot', async () => {
    const { yaml } = await compiled();
    if (process.env['UPDATE_SNAPSHOTS']) await writeFile(SNAPSHOT, yaml);
    const expected = await readFile(SNAPSHOT, 'utf8');
    assert.equal(yaml, expected, 'the compiled spec changed: review the diff, then run UPDATE_SNAPSHOTS=1 npm test to accept it');
  });

  it('wires drift -> [drifted] train -> evaluate -> [promote] embed x S -> index -> deploy, otherwise a fresh index with the production model, inside an exit handler', async () => {
    const { spec } = await compiled();
    const rootTasks = at(spec, 'root', 'dag', 'tasks') as Obj;
    assert.deepEqual(Object.keys(rootTasks).sort(), ['exit-handler-1', 'record-run']);
    assert.equal(at(rootTasks, 'record-run', 'triggerPolicy', 'strategy'), 'ALL_UPSTREAM_TASKS_COMPLETED');
    assert.deepEqual(at(rootTasks, 'record-run', 'inputs', 'parameters', 'status'), {
      taskFinalStatus: { producerTask: 'exit-handler-1' },
    });

    const body = at(spec, 'components', 'comp-exit-handler-1', 'dag', 'tasks') as Obj;
    assert.deepEqual(Object.keys(body).sort(), ['condition-branches-3', 'drift', 'for-loop-2', 'snapshot']);
    assert.deepEqual(at(body, 'for-loop-2', 'parameterIterator'), {
      itemInput: 'pipelinechannel--partitions-loop-item',
      items: { inputParameter: 'pipelinechannel--partitions' },
    });
    assert.deepEqual(at(body, 'for-loop-2', 'iteratorPolicy'), { parallelismLimit: 8 });
    assert.deepEqual(at(body, 'snapshot', 'dependentTasks'), ['for-loop-2']);
    assert.deepEqual(at(body, 'drift', 'dependentTasks'), ['snapshot']);

    const drifted = "inputs.parameter_values['pipelinechannel--drift-drifted'] == true";
    const outer = at(spec, 'components', 'comp-condition-branches-3', 'dag', 'tasks') as Obj;
    assert.equal(at(outer, 'condition-9', 'triggerPolicy', 'condition'), drifted);
    assert.equal(at(outer, 'condition-10', 'triggerPolicy', 'condition'), `!(${drifted})`);

    const retrain = at(spec, 'components', 'comp-condition-9', 'dag', 'tasks') as Obj;
    assert.deepEqual(Object.keys(retrain).sort(), ['condition-branches-4', 'evaluate', 'train']);
    assert.deepEqual(at(retrain, 'evaluate', 'dependentTasks'), ['train']);
    const promoted = "inputs.parameter_values['pipelinechannel--evaluate-promote'] == true";
    const inner = at(spec, 'components', 'comp-condition-branches-4', 'dag', 'tasks') as Obj;
    assert.equal(at(inner, 'condition-6', 'triggerPolicy', 'condition'), promoted);
    assert.equal(at(inner, 'condition-7', 'triggerPolicy', 'condition'), `!(${promoted})`);

    // Promoted: the new model embeds the snapshot in shards (a loop over the embedShards input, a task
    // each), the index is built from them after the loop, and deployed.
    const promote = at(spec, 'components', 'comp-condition-6', 'dag', 'tasks') as Obj;
    assert.deepEqual(Object.keys(promote).sort(), ['deploy', 'for-loop-5', 'index']);
    assert.deepEqual(at(promote, 'for-loop-5', 'parameterIterator'), {
      itemInput: 'pipelinechannel--embedShards-loop-item',
      items: { inputParameter: 'pipelinechannel--embedShards' },
    });
    const embed = at(spec, 'components', 'comp-for-loop-5', 'dag', 'tasks', 'index-embed') as Obj;
    assert.deepEqual(at(embed, 'inputs', 'parameters', 'shard'), { componentInputParameter: 'pipelinechannel--embedShards-loop-item' });
    assert.deepEqual(at(embed, 'inputs', 'artifacts', 'model'), { componentInputArtifact: 'pipelinechannel--train-model' });
    assert.deepEqual(at(promote, 'index', 'dependentTasks'), ['for-loop-5']);
    assert.deepEqual(at(promote, 'index', 'inputs', 'parameters', 'shards'), { componentInputParameter: 'pipelinechannel--embedShards' });
    assert.deepEqual(at(promote, 'deploy', 'dependentTasks'), ['index']);
    assert.deepEqual(at(promote, 'deploy', 'inputs', 'artifacts', 'model'), { componentInputArtifact: 'pipelinechannel--train-model' });
    assert.deepEqual(at(spec, 'root', 'inputDefinitions', 'parameters', 'embedShards', 'defaultValue'), ['0/2', '1/2']);
    // Not promoted, or not drifted: the production model indexes the new snapshot, which is deployed.
    const refreshes = [
      ['comp-condition-7', 'production-model', 'for-loop-8', 'index-2', 'deploy-2'],
      ['comp-condition-10', 'production-model-2', 'for-loop-11', 'index-3', 'deploy-3'],
    ] as const;
    for (const [group, pointer, loop, indexTask, deployTask] of refreshes) {
      const refresh = at(spec, 'components', group, 'dag', 'tasks') as Obj;
      const model = { taskOutputArtifact: { outputArtifactKey: 'model', producerTask: pointer } };
      assert.deepEqual(Object.keys(refresh).sort(), [deployTask, loop, indexTask, pointer], group);
      assert.deepEqual(at(refresh, loop, 'inputs', 'artifacts', `pipelinechannel--${pointer}-model`), model);
      assert.deepEqual(at(refresh, indexTask, 'dependentTasks'), [loop, pointer]);
      assert.deepEqual(at(refresh, indexTask, 'inputs', 'artifacts', 'model'), model);
      assert.deepEqual(at(refresh, indexTask, 'inputs', 'artifacts', 'snapshot'), {
        componentInputArtifact: 'pipelinechannel--snapshot-snapshot',
      });
      assert.deepEqual(at(refresh, deployTask, 'inputs', 'artifacts', 'model'), model);
    }
  });

  it('binds every input parameter each executor’s command line reads (KFP 2.17’s driver applies no component default)', async () => {
    const { spec } = await compiled();
    const components = at(spec, 'components') as Obj;
    const executors = at(spec, 'deploymentSpec', 'executors') as Obj;
    let checked = 0;
    for (const component of [...Object.values(components), at(spec, 'root')]) {
      for (const [name, task] of Object.entries((at(component, 'dag', 'tasks') as Obj | undefined) ?? {})) {
        const ref = String(at(task, 'componentRef', 'name'));
        const label = at(components, ref, 'executorLabel');
        if (typeof label !== 'string') continue;
        const container = at(executors, label, 'container') as { command: string[]; args: string[] };
        const read = [...container.command, ...container.args].flatMap((part) =>
          [...part.matchAll(/\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}/g)].map((m) => m[1]!),
        );
        const bound = Object.keys((at(task, 'inputs', 'parameters') as Obj | undefined) ?? {});
        for (const input of read)
          assert.ok(bound.includes(input), `task ${name} reads '${input}' on its command line but does not bind it`);
        checked += read.length;
      }
    }
    assert.ok(checked > 20, `checked ${checked} placeholders`);
    const deployTask = at(components, 'comp-condition-6', 'dag', 'tasks', 'deploy');
    assert.deepEqual(at(deployTask, 'inputs', 'parameters', 'namespace'), { runtimeValue: { constant: 'marketplace' } });
  });

  it('never takes clean, snapshot, drift, production-model or deploy from the cache (their inputs do not change when the data does)', async () => {
    const { spec } = await compiled();
    const tasks = new Map<string, Obj>();
    for (const component of Object.values(at(spec, 'components') as Obj)) {
      for (const [name, task] of Object.entries((at(component, 'dag', 'tasks') as Obj | undefined) ?? {})) tasks.set(name, task as Obj);
    }
    for (const name of ['clean', 'snapshot', 'drift', 'production-model', 'production-model-2', 'deploy', 'deploy-2', 'deploy-3']) {
      assert.deepEqual(at(tasks.get(name), 'cachingOptions'), {}, `${name} must not be cached`);
    }
    for (const name of ['train', 'evaluate', 'index', 'index-embed'])
      assert.deepEqual(at(tasks.get(name), 'cachingOptions'), { enableCache: true }, name);
  });

  it('runs train on a GPU node, takes storage settings from a Secret and a ConfigMap by name, and tags images with the version', async () => {
    const { spec, platform, yaml } = await compiled();
    const version = (JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const executors = at(spec, 'deploymentSpec', 'executors') as Obj;
    assert.deepEqual(at(executors, 'exec-train', 'container', 'resources', 'accelerator'), {
      count: '1',
      resourceCount: '1',
      resourceType: 'nvidia.com/gpu',
      type: 'nvidia.com/gpu',
    });
    for (const [name, executor] of Object.entries(executors)) {
      const image = String(at(executor, 'container', 'image'));
      assert.match(image, new RegExp(`^registry\\.example/marketplace/marketplace-[a-z]+:${version.replace(/\./g, '\\.')}$`), name);
    }
    const k8s = at(platform, 'platforms', 'kubernetes', 'deploymentSpec', 'executors') as Obj;
    assert.deepEqual(at(k8s, 'exec-train', 'nodeSelector'), { labels: { 'marketplace.io/node-group': 'gpu' } });
    assert.deepEqual(Object.keys(k8s).sort(), Object.keys(executors).sort(), 'every executor gets its storage settings');
    assert.deepEqual(at(k8s, 'exec-clean', 'secretAsEnv', '0', 'keyToEnv'), [{ envVar: 'DATABASE_URL', secretKey: 'url' }]);
    assert.doesNotMatch(yaml, /postgres:\/\/|AWS_SECRET|password/i, 'no secret value in the spec');
  });

  it('npm run compile-pipeline writes the spec, and refuses a latest tag', async () => {
    const tmp = await tempDir('compile-');
    try {
      const out = path.join(tmp.dir, 'spec.yaml');
      const run = (args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'compile.ts'), ...args], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
        });
      const ok = run(['--out', out, '--image-registry', 'registry.example/marketplace']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.deepEqual(JSON.parse(ok.stdout), { pipeline: 'marketplace-ranking', out, bytes: (await readFile(out)).length });
      assert.equal(await readFile(out, 'utf8'), (await compiled()).yaml);
      const latest = run(['--out', out, '--image-tag', 'latest']);
      assert.equal(latest.status, 2);
      assert.match(latest.stderr, /--image-tag latest is refused/);
    } finally {
      await tmp.remove();
    }
  });
});
