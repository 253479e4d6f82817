/**
 * The compiler knows which KFP backend release runs which construct (pipelines/dsl/targets.ts): the
 * marketplace pipeline compiles for 2.17.0 (the default, and the spec does not change with it), and is
 * refused for 2.3.0 with every construct 2.3 cannot run named, with where it is used and the first
 * release that runs it. A malformed release is refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compileToYaml } from '../../pipelines/marketplace/compile.js';
import { compilePipeline, component, param, parallelFor, pipeline, PipelineCompileError, when } from '../../pipelines/dsl/index.js';
import { CONSTRUCTS, DEFAULT_KFP_VERSION, parseKfpVersion, unsupportedConstructs } from '../../pipelines/dsl/compiler/targets.js';
import { marketplaceRanking } from '../../pipelines/marketplace/pipeline.js';
import { REPO_ROOT } from '../helpers.js';

const REGISTRY = { imageRegistry: 'registry.example/marketplace' };
const OPTIONS = { ...REGISTRY, imageTag: '0.1.0', compilerVersion: 'test' };

/** The construct ids the marketplace pipeline cannot use on `version`. */
const refusedOn = (version: string): string[] => unsupportedConstructs(marketplaceRanking.build(), version).map((u) => u.construct.id);

describe('KFP release targets', () => {
  it('compiles the marketplace pipeline for 2.17.0 (the default) to the reviewed snapshot, with no trace of the target', async () => {
    assert.equal(DEFAULT_KFP_VERSION, '2.17.0');
    const explicit = await compileToYaml(marketplaceRanking, { ...REGISTRY, kfpVersion: '2.17.0' });
    assert.equal(explicit, await compileToYaml(marketplaceRanking, REGISTRY));
    assert.equal(explicit, await readFile(path.join(REPO_ROOT, 'test', 'snapshots', 'marketplace-ranking.yaml'), 'utf8'));
    assert.doesNotMatch(explicit, /kfpVersion|kfp_version/);
  });

  it('refuses the marketplace pipeline for 2.3.0, naming each construct, where it is used and the release it needs', () => {
    assert.throws(
      () => compilePipeline(marketplaceRanking, { ...OPTIONS, kfpVersion: '2.3.0' }),
      (error: unknown) => {
        assert.ok(error instanceof PipelineCompileError);
        const message = error.message;
        assert.match(message, /^pipeline marketplace-ranking cannot run on KFP 2\.3\.0:/);
        assert.match(
          message,
          /an exit task's taskFinalStatus input \(needs KFP >= 2\.14\.0\): task 'record-run' \(exit task of exit-handler-1\)/,
        );
        assert.match(
          message,
          /the final status of an exit handler whose body holds loops or conditions \(needs KFP >= 2\.17\.0\): exit-handler-1 \(holds for-loop-2/,
        );
        assert.match(
          message,
          /a task that runs \.after\(\) a parallelFor loop \(needs KFP >= 2\.4\.1\): task 'snapshot' \(after for-loop-2\)/,
        );
        assert.match(message, /secretNameParameter\/configMapNameParameter \(needs KFP >= 2\.4\.1\): task 'record-run'; task 'clean'; /);
        assert.match(message, /configMapAsEnv with optional \(needs KFP >= 2\.15\.0\): task 'record-run'; task 'clean'/);
        assert.match(message, /parallelism limit \(iteratorPolicy\) \(needs KFP >= 2\.4\.0\): for-loop-2/);
        assert.match(
          message,
          /retry policy on a task inside a loop, condition or exit handler \(needs KFP >= 2\.14\.0\): task 'clean' \(in for-loop-2\)/,
        );
        assert.match(message, /run placeholder .* \(needs KFP >= 2\.5\.0\): .*task 'deploy' \(input runId\)/);
        // dsl.Else runs on every 2.x backend: not named.
        assert.doesNotMatch(message, /otherwise/);
        return true;
      },
    );
    assert.deepEqual(refusedOn('2.3.0').sort(), [
      'after-loop',
      'final-status-over-sub-dags',
      'k8s-env-optional',
      'k8s-name-parameter',
      'parallelism',
      'retry-nested',
      'run-placeholder',
      'task-final-status',
    ]);
  });

  it('draws the line release by release', () => {
    assert.deepEqual(refusedOn('2.4.0').sort(), [
      'after-loop',
      'final-status-over-sub-dags',
      'k8s-env-optional',
      'k8s-name-parameter',
      'retry-nested',
      'run-placeholder',
      'task-final-status',
    ]);
    assert.deepEqual(refusedOn('2.4.1').sort(), [
      'final-status-over-sub-dags',
      'k8s-env-optional',
      'retry-nested',
      'run-placeholder',
      'task-final-status',
    ]);
    assert.deepEqual(refusedOn('2.5.0').sort(), ['final-status-over-sub-dags', 'k8s-env-optional', 'retry-nested', 'task-final-status']);
    assert.deepEqual(refusedOn('2.14.0').sort(), ['final-status-over-sub-dags', 'k8s-env-optional']);
    assert.deepEqual(refusedOn('2.16.1'), ['final-status-over-sub-dags']);
    assert.deepEqual(refusedOn('2.17.0'), []);
    assert.deepEqual(
      refusedOn('1.8.5'),
      CONSTRUCTS.filter((c) => c.uses(marketplaceRanking.build()).length > 0).map((c) => c.id),
    );
  });

  it('refuses a malformed release', () => {
    for (const version of ['2.17', 'v2.17.0', '2.17.0-rc.1', '02.17.0', '', 'latest']) {
      assert.throws(
        () => compilePipeline(marketplaceRanking, { ...OPTIONS, kfpVersion: version }),
        /is not a KFP release: a KFP release is major\.minor\.patch/,
        version,
      );
    }
    assert.deepEqual(parseKfpVersion('2.17.0'), [2, 17, 0]);
  });

  it('finds each construct in a small pipeline: retries at the root and nested, after() a loop nested in a condition, otherwise', () => {
    const step = component({
      name: 'step',
      image: 'busybox',
      command: ['true'],
      inputs: { x: param.string({ default: 'a' }) },
      outputs: {},
      args: () => [],
    });
    const flag = component({
      name: 'flag',
      image: 'busybox',
      command: ['true'],
      inputs: {},
      outputs: { on: param.boolean() },
      args: () => [],
    });
    const small = pipeline({ name: 'small', inputs: {} }, () => {
      step({}).setRetries(1);
      const f = flag({});
      when(f.outputs.on, () => {
        const loop = parallelFor(['a', 'b'], (x) => void step({ x }).setRetries(3));
        step({}).after(loop);
      }).otherwise(() => void step({}));
    });
    const found = Object.fromEntries(unsupportedConstructs(small.build(), '1.0.0').map((u) => [u.construct.id, u.uses]));
    assert.deepEqual(found, {
      'v2-ir': ['the pipeline'],
      'after-loop': ["task 'step-3' (after for-loop-3)"],
      otherwise: ['condition-5'],
      'retry-root': ["task 'step'"],
      'retry-nested': ["task 'step-2' (in for-loop-3)"],
    });
    assert.doesNotThrow(() => compilePipeline(small, { ...OPTIONS, kfpVersion: '2.14.0' }));
    assert.throws(
      () => compilePipeline(small, { ...OPTIONS, kfpVersion: '2.5.0' }),
      /retry policy on a task inside a loop.*task 'step-2' \(in for-loop-3\)/,
    );
    assert.throws(
      () => compilePipeline(small, { ...OPTIONS, kfpVersion: '2.4.0' }),
      /a task that runs \.after\(\) a parallelFor loop \(needs KFP >= 2\.4\.1\): task 'step-3' \(after for-loop-3\)/,
    );
  });

  it('npm run compile-pipeline takes --kfp-version and refuses what the release cannot run', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'compile.ts'), '--out', '/dev/null', '--kfp-version', '2.4.0'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /cannot run on KFP 2\.4\.0/);
    assert.match(run.stderr, /task 'snapshot' \(after for-loop-2\)/);
  });
});
