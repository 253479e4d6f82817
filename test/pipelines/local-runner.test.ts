/**
 * The local runner executing compiled specs on this machine: dependency order, conditions, loops, exit
 * handlers with the final status, retries, the cache that makes a rerun skip finished work, and
 * failures that name the task and show its log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { KFP_EXECUTOR_OUTPUT } from '../../components/core/contracts/kfp-outputs.js';
import { evaluateCondition } from '../../pipelines/local/cel.js';
import { mapCommandToCheckout, runPipeline } from '../../pipelines/local/runner.js';
import { PipelineSpec } from '../../pipelines/local/spec.js';
import {
  artifact,
  compilePipeline,
  component,
  eq,
  exitHandler,
  param,
  parallelFor,
  pipeline,
  toYaml,
  when,
} from '../../pipelines/dsl/index.js';
import { REPO_ROOT, silentLog, tempDir } from '../helpers.js';

const STEP = path.join(REPO_ROOT, 'test', 'fixtures', 'pipeline-steps', 'step.mjs');
const OPTIONS = { imageRegistry: 'local', imageTag: 'test', compilerVersion: 'test' };
const step = (label: string) => ['node', STEP, label];

const produce = component({
  name: 'produce',
  image: 'steps',
  command: step('produce'),
  inputs: { trace: param.string(), flag: param.string({ default: 'true' }) },
  outputs: { ok: param.boolean(), items: param.list(), data: artifact.dataset() },
  args: ({ inputs, outputs }) => [
    '--trace',
    inputs.trace,
    '--param-out',
    outputs.ok,
    inputs.flag,
    '--param-out',
    outputs.items,
    '["a","b","c"]',
    '--artifact-out',
    outputs.data,
    'hello',
  ],
});
const consume = component({
  name: 'consume',
  image: 'steps',
  command: step('consume'),
  inputs: { trace: param.string(), data: artifact.dataset(), note: param.string() },
  outputs: {},
  args: ({ inputs }) => ['--trace', inputs.trace, '--artifact-in', inputs.data, '--note', inputs.note],
});
const finalize = component({
  name: 'finalize',
  image: 'steps',
  command: step('finalize'),
  inputs: { trace: param.string(), status: param.taskFinalStatus() },
  outputs: {},
  args: ({ inputs }) => ['--trace', inputs.trace, '--note', inputs.status],
  caching: false,
});
const flaky = component({
  name: 'flaky',
  image: 'steps',
  command: step('flaky'),
  inputs: { trace: param.string(), counter: param.string() },
  outputs: {},
  args: ({ inputs }) => ['--trace', inputs.trace, '--fail-times', inputs.counter, '2'],
  retries: 2,
  caching: false,
});
const boom = component({
  name: 'boom',
  image: 'steps',
  command: step('boom'),
  inputs: {},
  outputs: { out: param.string() },
  args: () => ['--fail'],
});

const demo = pipeline(
  { name: 'demo', inputs: { trace: param.string(), counter: param.string({ default: '' }), flag: param.string({ default: 'true' }) } },
  ({ trace, counter, flag }) => {
    exitHandler(
      () => finalize({ trace }),
      () => {
        const made = produce({ trace, flag });
        parallelFor(made.outputs.items, (item) => void consume({ trace, data: made.outputs.data, note: item }), { parallelism: 2 });
        when(made.outputs.ok, () => void consume({ trace, data: made.outputs.data, note: 'when-true' }));
        when(eq(made.outputs.ok, false), () => void consume({ trace, data: made.outputs.data, note: 'when-false' }));
        when(eq(flag, 'retry'), () => void flaky({ trace, counter }));
        when(eq(flag, 'boom'), () => {
          const failing = boom({});
          consume({ trace, data: made.outputs.data, note: failing.outputs.out });
        });
      },
    );
  },
);
const demoYaml = toYaml(demo, compilePipeline(demo, OPTIONS));

const traceLines = async (file: string) => (await readFile(file, 'utf8')).trim().split('\n').sort();

describe('the local runner', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (tmp = await tempDir('runner-')));
  after(() => tmp.remove());

  it('runs tasks in dependency order, iterates loops, evaluates conditions, runs the exit task with the final status', async () => {
    const trace = path.join(tmp.dir, 'trace-1.txt');
    const runsDir = path.join(tmp.dir, 'runs-1');
    const run = await runPipeline({ specYaml: demoYaml, parameters: { trace }, runsDir, log: silentLog });
    assert.equal(run.status, 'SUCCEEDED', run.error);
    const lines = await traceLines(trace);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('consume')),
      ['consume read=hello a', 'consume read=hello b', 'consume read=hello c', 'consume read=hello when-true'],
    );
    assert.ok(lines.includes('produce'));
    // As KFP 2.17 passes it: the guarded DAG's ML Metadata state, which a skipped condition leaves RUNNING.
    const final = JSON.parse((lines.find((l) => l.startsWith('finalize')) ?? '').replace(/^finalize /, '')) as Record<string, unknown>;
    assert.deepEqual(final, { state: 'RUNNING', pipelineJobResourceName: run.id, pipelineTaskName: 'exit-handler-1', error: {} });
    const recorded = JSON.parse(await readFile(path.join(run.folder, 'run.json'), 'utf8')) as typeof run;
    assert.equal(recorded.status, 'SUCCEEDED');
    assert.equal(recorded.tasks['exit-handler-1/condition-4']?.status, 'SKIPPED', 'the false condition');
    assert.equal(recorded.tasks['exit-handler-1/for-loop-2/2/consume']?.status, 'SUCCEEDED');
    assert.deepEqual(recorded.tasks['exit-handler-1/produce']?.parameters, { ok: true, items: ['a', 'b', 'c'] });
    assert.ok((await readdir(path.join(run.folder, 'logs'))).includes('exit-handler-1.produce.log'));
  });

  it('a second run with the same inputs takes finished tasks from the cache', async () => {
    const trace = path.join(tmp.dir, 'trace-2.txt');
    const runsDir = path.join(tmp.dir, 'runs-2');
    await runPipeline({ specYaml: demoYaml, parameters: { trace }, runsDir, log: silentLog });
    const second = await runPipeline({ specYaml: demoYaml, parameters: { trace }, runsDir, log: silentLog });
    assert.equal(second.status, 'SUCCEEDED');
    assert.equal(second.tasks['exit-handler-1/produce']?.status, 'CACHED');
    assert.equal(second.tasks['exit-handler-1/for-loop-2/0/consume']?.status, 'CACHED');
    const lines = await traceLines(trace);
    assert.equal(lines.filter((l) => l === 'produce').length, 1, 'produce ran once over two runs');
    assert.equal(lines.filter((l) => l.startsWith('finalize')).length, 2, 'a task with caching off runs every time');
  });

  it('retries a failing task as its retry policy says', async () => {
    const trace = path.join(tmp.dir, 'trace-3.txt');
    const run = await runPipeline({
      specYaml: demoYaml,
      parameters: { trace, flag: 'retry', counter: path.join(tmp.dir, 'counter') },
      runsDir: path.join(tmp.dir, 'runs-3'),
      log: silentLog,
    });
    assert.equal(run.status, 'SUCCEEDED', run.error);
    const flakyTask = Object.values(run.tasks).find((t) => t.path.endsWith('/flaky'));
    assert.equal(flakyTask?.attempts, 3);
    assert.equal((await traceLines(trace)).filter((l) => l === 'flaky').length, 1);
  });

  it('a failure names the task, shows its log, stops what depends on it, and still runs the exit task', async () => {
    const trace = path.join(tmp.dir, 'trace-4.txt');
    const run = await runPipeline({
      specYaml: demoYaml,
      parameters: { trace, flag: 'boom' },
      runsDir: path.join(tmp.dir, 'runs-4'),
      log: silentLog,
    });
    assert.equal(run.status, 'FAILED');
    assert.match(
      run.error ?? '',
      /exit-handler-1\/condition-6\/boom failed \(exit code 1\); last lines of .*boom\.log:\n[\s\S]*boom: something went wrong on purpose/,
    );
    const downstream = Object.values(run.tasks).find((t) => t.path.startsWith('exit-handler-1/condition-6/consume'));
    assert.equal(downstream?.status, 'NOT_RUN');
    const final = (await traceLines(trace)).find((l) => l.startsWith('finalize')) ?? '';
    assert.match(final, /"state":"FAILED"/);
  });

  it('refuses unknown parameters and a missing required one before running anything', async () => {
    const runsDir = path.join(tmp.dir, 'runs-5');
    await assert.rejects(
      runPipeline({ specYaml: demoYaml, parameters: { trace: 'x', tracee: 'y' }, runsDir, log: silentLog }),
      /unknown pipeline parameter\(s\) tracee/,
    );
    await assert.rejects(
      runPipeline({ specYaml: demoYaml, parameters: {}, runsDir, log: silentLog }),
      /pipeline parameter 'trace' has no default/,
    );
    await assert.rejects(
      runPipeline({ specYaml: 'components: 3', runsDir, log: silentLog }),
      /not a pipeline spec the local runner can run/,
    );
  });

  it('npm run pipeline:run-local runs a spec file: exit 0 and a summary, or exit 1 naming the failed task', async () => {
    const specFile = path.join(tmp.dir, 'demo.yaml');
    await writeFile(specFile, demoYaml);
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'run-local.ts'), specFile, ...args], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, MARKETPLACE_HOME: path.join(tmp.dir, 'home'), LOG_LEVEL: 'warn' },
      });
    const ok = cli('--param', `trace=${path.join(tmp.dir, 'trace-cli.txt')}`);
    assert.equal(ok.status, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout) as { status: string; tasks: Record<string, string> };
    assert.equal(summary.status, 'SUCCEEDED');
    assert.equal(summary.tasks['exit-handler-1/produce'], 'SUCCEEDED');
    const failed = cli('--param', `trace=${path.join(tmp.dir, 'trace-cli.txt')}`, '--param', 'flag=boom');
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /error: exit-handler-1\/condition-6\/boom failed/);
  });

  it('reads the compiled marketplace pipeline (the spec npm start runs)', async () => {
    const text = await readFile(path.join(REPO_ROOT, 'test', 'snapshots', 'marketplace-ranking.yaml'), 'utf8');
    const parsed = PipelineSpec.safeParse(parse(text.split(/^---$/m)[0] ?? ''));
    assert.ok(parsed.success, parsed.error?.message);
  });
});

// A producer that never comes from the cache (as clean and snapshot in the product's pipeline), and a
// when/otherwise over a cached producer's output.
const fresh = component({
  name: 'fresh',
  image: 'steps',
  command: step('fresh'),
  inputs: { trace: param.string() },
  outputs: { data: artifact.dataset() },
  args: ({ inputs, outputs }) => ['--trace', inputs.trace, '--artifact-out', outputs.data, 'new'],
  caching: false,
});
const branching = pipeline(
  { name: 'branching', inputs: { trace: param.string(), flag: param.string({ default: 'true' }) } },
  ({ trace, flag }) => {
    const made = produce({ trace, flag });
    const latest = fresh({ trace });
    when(made.outputs.ok, () => void consume({ trace, data: latest.outputs.data, note: 'if' })).otherwise(
      () => void consume({ trace, data: made.outputs.data, note: 'else' }),
    );
  },
);
const branchingYaml = toYaml(branching, compilePipeline(branching, OPTIONS));

describe('the local runner: otherwise branches and the cache key', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (tmp = await tempDir('runner-branches-')));
  after(() => tmp.remove());

  it('runs the when branch or the otherwise branch, never both', async () => {
    const trace = path.join(tmp.dir, 'trace-branch.txt');
    const runsDir = path.join(tmp.dir, 'runs-branch');
    const yes = await runPipeline({ specYaml: branchingYaml, parameters: { trace, flag: 'true' }, runsDir, log: silentLog, cache: false });
    assert.equal(yes.status, 'SUCCEEDED');
    assert.equal(yes.tasks['condition-branches-1/condition-2/consume']?.status, 'SUCCEEDED');
    assert.equal(yes.tasks['condition-branches-1/condition-3']?.status, 'SKIPPED');
    const no = await runPipeline({ specYaml: branchingYaml, parameters: { trace, flag: 'false' }, runsDir, log: silentLog, cache: false });
    assert.equal(no.tasks['condition-branches-1/condition-2']?.status, 'SKIPPED');
    assert.equal(no.tasks['condition-branches-1/condition-3/consume-2']?.status, 'SUCCEEDED');
    const lines = (await traceLines(trace)).filter((l) => l.startsWith('consume'));
    assert.deepEqual(lines, ['consume read=hello else', 'consume read=new if']);
  });

  it('keys the cache on input artifact identity, as KFP does: downstream of a task that reran is never a hit', async () => {
    const trace = path.join(tmp.dir, 'trace-key.txt');
    const runsDir = path.join(tmp.dir, 'runs-key');
    for (let i = 0; i < 2; i++)
      await runPipeline({ specYaml: branchingYaml, parameters: { trace, flag: 'true' }, runsDir, log: silentLog });
    const second = await runPipeline({ specYaml: branchingYaml, parameters: { trace, flag: 'true' }, runsDir, log: silentLog });
    assert.equal(second.tasks['produce']?.status, 'CACHED', 'same parameters, no input artifact: a hit');
    assert.equal(second.tasks['fresh']?.status, 'SUCCEEDED', 'caching off: runs every time');
    // Same bytes ('new') every time, but a new artifact: KFP keys on the artifact, not its content.
    assert.equal(second.tasks['condition-branches-1/condition-2/consume']?.status, 'SUCCEEDED');
    assert.equal((await traceLines(trace)).filter((l) => l === 'consume read=new if').length, 3);
    for (let i = 0; i < 2; i++)
      await runPipeline({ specYaml: branchingYaml, parameters: { trace, flag: 'false' }, runsDir, log: silentLog });
    const last = await runPipeline({ specYaml: branchingYaml, parameters: { trace, flag: 'false' }, runsDir, log: silentLog });
    assert.equal(last.tasks['condition-branches-1/condition-3/consume-2']?.status, 'CACHED', 'downstream of a cached producer: a hit');
  });
});

describe('inputs resolved as KFP 2.17 resolves them', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (tmp = await tempDir('runner-defaults-')));
  after(() => tmp.remove());
  const note = component({
    name: 'note',
    image: 'steps',
    command: step('note'),
    inputs: { trace: param.string(), note: param.string({ default: 'the default' }) },
    outputs: {},
    args: ({ inputs }) => ['--trace', inputs.trace, '--note', inputs.note],
  });
  const withDefault = pipeline({ name: 'defaults', inputs: { trace: param.string() } }, ({ trace }) => void note({ trace }));

  it('a default the command line reads is bound in the spec; unbound, the task fails as the 2.17 driver fails it', async () => {
    const compiled = compilePipeline(withDefault, OPTIONS);
    assert.deepEqual((compiled.spec as { root: { dag: { tasks: Record<string, { inputs: unknown }> } } }).root.dag.tasks['note']?.inputs, {
      parameters: { note: { runtimeValue: { constant: 'the default' } }, trace: { componentInputParameter: 'trace' } },
    });
    const trace = path.join(tmp.dir, 'trace.txt');
    const yaml = toYaml(withDefault, compiled);
    const run = await runPipeline({
      specYaml: yaml,
      parameters: { trace },
      runsDir: path.join(tmp.dir, 'runs'),
      log: silentLog,
      cache: false,
    });
    assert.equal(run.status, 'SUCCEEDED', run.error);
    assert.deepEqual(await traceLines(trace), ['note the default']);
    // What the compiler wrote before: the default left to the component, which a placeholder cannot apply.
    const unbound = yaml.replace(/ {12}note:\n {14}runtimeValue:\n {16}constant: the default\n/, '');
    assert.notEqual(unbound, yaml);
    const failed = await runPipeline({
      specYaml: unbound,
      parameters: { trace },
      runsDir: path.join(tmp.dir, 'runs'),
      log: silentLog,
      cache: false,
    });
    assert.equal(failed.status, 'FAILED');
    assert.match(failed.error ?? '', /parameter "note" not found in executor input/);
  });
});

describe("KFP's executor output", () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (tmp = await tempDir('runner-executor-output-')));
  after(() => tmp.remove());
  const measure = component({
    name: 'measure',
    image: 'steps',
    command: step('measure'),
    inputs: { output: param.string() },
    outputs: { metrics: artifact.metrics() },
    // The component writes the launcher's fixed path; the runner gives each task its own file there.
    args: ({ inputs, outputs }) => ['--artifact-out', outputs.metrics, '{}', '--artifact-out', KFP_EXECUTOR_OUTPUT, inputs.output],
  });
  const measuring = pipeline({ name: 'measuring', inputs: { output: param.string() } }, ({ output }) => void measure({ output }));
  const yaml = toYaml(measuring, compilePipeline(measuring, OPTIONS));

  it('reads the artifact metadata a task writes at the launcher’s path, and refuses a file the launcher would refuse', async () => {
    const output = JSON.stringify({ artifacts: { metrics: { artifacts: [{ metadata: { accuracy: 0.75, drifted: 1 } }] } } });
    const run = await runPipeline({
      specYaml: yaml,
      parameters: { output },
      runsDir: path.join(tmp.dir, 'runs'),
      log: silentLog,
      cache: false,
    });
    assert.equal(run.status, 'SUCCEEDED', run.error);
    assert.deepEqual(run.tasks['measure']?.metadata, { metrics: { accuracy: 0.75, drifted: 1 } });
    const bad = await runPipeline({
      specYaml: yaml,
      parameters: { output: '{"artifacts": 3}' },
      runsDir: path.join(tmp.dir, 'runs'),
      log: silentLog,
      cache: false,
    });
    assert.equal(bad.status, 'FAILED');
    assert.match(bad.error ?? '', /measure wrote an executor output that is not a KFP ExecutorOutput/);
  });
});

describe('container commands on this machine', () => {
  it('runs the image’s compiled entrypoint from the checkout’s source, and leaves other commands alone', () => {
    const map = mapCommandToCheckout('/repo');
    assert.deepEqual(map(['node', '/app/dist/components/clean/main.js', 'snapshot', '--report', '/x']), [
      process.execPath,
      '--import',
      'tsx',
      '/repo/components/clean/main.ts',
      'snapshot',
      '--report',
      '/x',
    ]);
    assert.deepEqual(map(['sh', '-c', 'echo hi']), ['sh', '-c', 'echo hi']);
  });
});

describe('conditions (the CEL the compiler writes)', () => {
  const values = { 'pipelinechannel--a': true, 'pipelinechannel--s': 'heads', 'pipelinechannel--n': '3' };
  it('evaluates comparisons, casts, conjunctions and negation', () => {
    assert.equal(evaluateCondition("inputs.parameter_values['pipelinechannel--a'] == true", values), true);
    assert.equal(evaluateCondition("inputs.parameter_values['pipelinechannel--s'] == 'tails'", values), false);
    assert.equal(
      evaluateCondition(
        "int(inputs.parameter_values['pipelinechannel--n']) >= 3 && inputs.parameter_values['pipelinechannel--a'] == true",
        values,
      ),
      true,
    );
    assert.equal(evaluateCondition("!(inputs.parameter_values['pipelinechannel--s'] == 'heads')", values), false);
  });
  it('refuses what it does not understand, and a parameter it was not given', () => {
    assert.throws(() => evaluateCondition("size(inputs.parameter_values['x']) > 1", values), /unsupported/);
    assert.throws(
      () => evaluateCondition("inputs.parameter_values['missing'] == true", values),
      /reads 'missing', which the task was not given/,
    );
  });
});

describe('the local runner killed with SIGKILL in the middle of a task', () => {
  it('a rerun takes what finished from the cache, reruns the rest, and ends with the same outputs', async () => {
    const slow = component({
      name: 'slow',
      image: 'steps',
      command: step('slow'),
      inputs: { trace: param.string(), data: artifact.dataset() },
      outputs: { copy: artifact.dataset() },
      args: ({ inputs, outputs }) => [
        '--trace',
        inputs.trace,
        '--artifact-in',
        inputs.data,
        '--sleep',
        '1500',
        '--artifact-out',
        outputs.copy,
        'copied',
      ],
    });
    const chain = pipeline({ name: 'chain', inputs: { trace: param.string() } }, ({ trace }) => {
      const made = produce({ trace });
      const copied = slow({ trace, data: made.outputs.data });
      consume({ trace, data: copied.outputs.copy, note: 'end' });
    });
    const tmp = await tempDir('kill-runner-');
    try {
      const specFile = path.join(tmp.dir, 'chain.yaml');
      await writeFile(specFile, toYaml(chain, compilePipeline(chain, OPTIONS)));
      const trace = path.join(tmp.dir, 'trace.txt');
      const env = { ...process.env, MARKETPLACE_HOME: path.join(tmp.dir, 'home'), LOG_LEVEL: 'info', LOG_JSON: '1' };
      const args = ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'run-local.ts'), specFile, '--param', `trace=${trace}`];
      const { spawn } = await import('node:child_process');
      const first = spawn(process.execPath, args, { cwd: REPO_ROOT, env });
      let log = '';
      first.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
      const exited = new Promise((resolve) => first.on('exit', resolve));
      for (let i = 0; i < 600 && !/slow: running/.test(log); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(log, /slow: running/, 'killed while slow runs');
      first.kill('SIGKILL');
      await exited;
      await new Promise((resolve) => setTimeout(resolve, 2000)); // the orphaned task finishes on its own

      const second = spawnSync(process.execPath, args, { cwd: REPO_ROOT, env, encoding: 'utf8' });
      assert.equal(second.status, 0, second.stderr);
      const summary = JSON.parse(second.stdout) as { tasks: Record<string, string> };
      assert.deepEqual(summary.tasks, { produce: 'CACHED', slow: 'SUCCEEDED', consume: 'SUCCEEDED' });
      const lines = await traceLines(trace);
      assert.equal(lines.filter((l) => l === 'produce').length, 1, 'what finished before the kill ran once');
      assert.deepEqual(
        lines.filter((l) => l.startsWith('consume')),
        ['consume read=copied end'],
      );
    } finally {
      await tmp.remove();
    }
  });
});
