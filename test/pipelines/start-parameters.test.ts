/**
 * `npm start`'s options for a large catalogue (--partitions, --train-sample, --embed-shards,
 * --index-memory-budget-mib) reach the compiled pipeline as its inputs, and reach the task command lines;
 * without them the pipeline's defaults stand. `--help` names them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { pipelineParameters, slices } from '../../pipelines/cli/start-parameters.js';
import { compileToYaml } from '../../pipelines/marketplace/compile.js';
import { marketplaceRanking } from '../../pipelines/marketplace/pipeline.js';
import { REPO_ROOT } from '../helpers.js';

type Obj = Record<string, unknown>;
const at = (value: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v as Obj | undefined)?.[k], value);

describe('npm start options for a large catalogue', () => {
  it('set the pipeline inputs of those names, which the compiled pipeline declares; the rest keep their defaults', async () => {
    assert.deepEqual(slices(3), ['0/3', '1/3', '2/3']);
    const base = { batchSize: 500, cache: true };
    assert.deepEqual(pipelineParameters(base), { deployTarget: 'local', cleanBatchSize: 500, epochs: 30, trainQuick: false });
    const large = pipelineParameters({
      ...base,
      quick: true,
      partitions: 2,
      trainSample: 10_000,
      embedShards: 4,
      indexMemoryBudgetMib: 300,
    });
    assert.deepEqual(large, {
      deployTarget: 'local',
      cleanBatchSize: 500,
      epochs: 2,
      trainQuick: true,
      partitions: ['0/2', '1/2'],
      trainSample: 10_000,
      embedShards: ['0/4', '1/4', '2/4', '3/4'],
      indexMemoryBudgetMib: 300,
    });
    const yaml = await compileToYaml(marketplaceRanking, { imageRegistry: 'registry.example/marketplace' });
    const spec = parseAllDocuments(yaml)[0]!.toJS() as Obj;
    const inputs = at(spec, 'root', 'inputDefinitions', 'parameters') as Obj;
    for (const name of Object.keys(large)) assert.ok(name in inputs, `the pipeline declares ${name}`);
    // 0 is "none" for both: train keeps its configuration's sample, index the exact-up-to rule.
    assert.equal(at(inputs, 'trainSample', 'defaultValue'), 0);
    assert.equal(at(inputs, 'indexMemoryBudgetMib', 'defaultValue'), 0);
    const train = at(spec, 'deploymentSpec', 'executors', 'exec-train', 'container', 'args') as string[];
    assert.deepEqual(train.slice(train.indexOf('--sample'), train.indexOf('--sample') + 2), [
      '--sample',
      "{{$.inputs.parameters['sample']}}",
    ]);
    const index = at(spec, 'deploymentSpec', 'executors', 'exec-index', 'container', 'args') as string[];
    assert.ok(index.includes('--memory-budget-mib'));
  });

  it('--help names them', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'start.ts'), '--help'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(help.status, 0, help.stderr);
    for (const option of ['--partitions <n>', '--train-sample <n>', '--embed-shards <n>', '--index-memory-budget-mib <n>'])
      assert.ok(help.stdout.includes(option), `--help lists ${option}`);
  });
});
