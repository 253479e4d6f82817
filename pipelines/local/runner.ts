/**
 * The local runner: executes a compiled Kubeflow Pipelines v2 spec on this machine, as Kubeflow would
 * run it. Each DAG's tasks start when their dependencies finish (independent tasks side by side, up to
 * `concurrency` processes); each executor's command runs as a local process with its placeholders
 * filled (parameters by value, artifacts as paths under the run folder); conditions are evaluated,
 * loops iterated, exit tasks run whatever happened. A task that allows caching and whose cache key (as
 * KFP's driver computes it: executor, parameters, input artifact identities, output types) matches an
 * earlier successful run is taken from the cache, so a failed run resumed reruns only what did not
 * finish. Everything is recorded in `<run>/run.json`, with a log file per task.
 *
 * This module orchestrates; the parts are beside it: inputs and command lines (placeholders.ts), the
 * cache (cache.ts), processes (process.ts) or containers (containers.ts), outputs (outputs.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { parse } from 'yaml';
import { errorMessage, InputError, type Logger } from '../../components/core/platform/index.js';
import { metadataScalars } from '../../components/core/contracts/kfp-outputs.js';
import { cacheKey, readCache, writeCache } from './cache.js';
import { evaluateCondition } from './cel.js';
import type { ContainerExit, ContainerTask } from './containers.js';
import { writeJsonAtomic } from './files.js';
import { parseParameter, readExecutorOutput } from './outputs.js';
import { commandLine, resolveInputs } from './placeholders.js';
import { runProcess } from './process.js';
import type { Outcome, RunRecord, Scope, TaskRecord, TaskStatus } from './run-record.js';
import { PipelineSpec, type ComponentSpec, type Executor, type TaskSpec } from './spec.js';

export type { RunRecord, TaskRecord, TaskStatus } from './run-record.js';
export { mapCommandToCheckout } from './process.js';

export interface LocalRunOptions {
  /** The compiled spec (YAML text of `npm run compile-pipeline`). */
  specYaml: string;
  /** Values for the pipeline's inputs; the rest take their defaults. */
  parameters?: Record<string, unknown>;
  /** Runs live in `<runsDir>/<run id>/`, the task cache in `<runsDir>/cache/`. */
  runsDir: string;
  runId?: string;
  /** Executor processes at once. */
  concurrency?: number;
  /** Reuse the outputs of earlier successful tasks with the same inputs (tasks that allow caching). */
  cache?: boolean;
  /** Turns an executor's container command into a local one (see `mapCommandToCheckout`). */
  mapCommand?: (command: readonly string[]) => string[];
  env?: NodeJS.ProcessEnv;
  /** Runs each task in its container image (./containers.ts) instead of as a local process. */
  containers?: { run(task: ContainerTask): Promise<ContainerExit> };
  log: Logger;
}

export class TaskFailedError extends Error {
  override name = 'TaskFailedError';
}

export async function runPipeline(options: LocalRunOptions): Promise<RunRecord> {
  const spec = parseSpec(options.specYaml);
  const id = options.runId ?? `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomUUID().slice(0, 8)}`;
  const folder = path.join(options.runsDir, id);
  await mkdir(folder, { recursive: true });
  const parameters = rootParameters(spec, options.parameters ?? {});
  const record: RunRecord = {
    id,
    pipeline: spec.pipelineInfo.name,
    status: 'RUNNING',
    startedAt: new Date().toISOString(),
    parameters,
    folder,
    tasks: {},
  };
  const runner = new Runner(spec, options, record, folder);
  await runner.save();
  options.log.info({ run: id, folder }, `run ${id} of ${spec.pipelineInfo.name} started`);
  try {
    const outcome = await runner.runDag(spec.root.dag.tasks, { parameters, artifacts: {} }, '');
    record.status = outcome === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED';
  } catch (error) {
    record.status = 'FAILED';
    record.error = errorMessage(error);
  }
  record.finishedAt = new Date().toISOString();
  if (record.status === 'FAILED' && !record.error) record.error = await runner.failureReport();
  await runner.save();
  options.log.info({ run: id, status: record.status }, `run ${id} ${record.status.toLowerCase()}`);
  return record;
}

function parseSpec(text: string): PipelineSpec {
  const documents = text.split(/^---$/m);
  const parsed = PipelineSpec.safeParse(parse(documents[0] ?? ''));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`not a pipeline spec the local runner can run: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

function rootParameters(spec: PipelineSpec, given: Record<string, unknown>): Record<string, unknown> {
  const definitions = spec.root.inputDefinitions?.parameters ?? {};
  const unknown = Object.keys(given).filter((name) => !(name in definitions));
  if (unknown.length > 0)
    throw new InputError(`unknown pipeline parameter(s) ${unknown.join(', ')}; the pipeline takes ${Object.keys(definitions).join(', ')}`);
  const values: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(definitions)) {
    if (name in given) values[name] = given[name];
    else if (definition.defaultValue !== undefined) values[name] = definition.defaultValue;
    else throw new InputError(`pipeline parameter '${name}' has no default: give it a value`);
  }
  return values;
}

class Runner {
  private readonly limit;
  private readonly mapCommand;
  private saving = Promise.resolve();

  constructor(
    private readonly spec: PipelineSpec,
    private readonly options: LocalRunOptions,
    private readonly record: RunRecord,
    private readonly folder: string,
  ) {
    this.limit = pLimit(options.concurrency ?? 2);
    this.mapCommand = options.mapCommand ?? ((command: readonly string[]) => [...command]);
  }

  /** Writes run.json (serialised: the last state always lands last). */
  save(): Promise<void> {
    this.saving = this.saving.then(() => writeJsonAtomic(path.join(this.folder, 'run.json'), this.record)).catch(() => undefined);
    return this.saving;
  }

  private component(name: string): ComponentSpec {
    const component = this.spec.components[name];
    if (!component) throw new InputError(`the spec has no component '${name}'`);
    return component;
  }

  /** Runs one DAG; its status is FAILED when any of its tasks failed. */
  async runDag(tasks: Record<string, TaskSpec>, scope: Scope, prefix: string): Promise<TaskStatus> {
    const outcomes = new Map<string, Promise<Outcome>>();
    const visiting = new Set<string>();
    const start = (name: string): Promise<Outcome> => {
      const existing = outcomes.get(name);
      if (existing) return existing;
      const task = tasks[name];
      if (!task) throw new InputError(`task '${prefix}${name}' depends on a task the DAG does not have`);
      if (visiting.has(name)) throw new InputError(`dependency cycle through task '${prefix}${name}'`);
      visiting.add(name);
      const dependencies = (task.dependentTasks ?? []).map(start);
      const outcome = Promise.all(dependencies).then((done) => {
        const byName = new Map((task.dependentTasks ?? []).map((dep, i) => [dep, done[i]!]));
        return this.runTask(task, scope, byName, `${prefix}${name}`);
      });
      outcomes.set(name, outcome);
      return outcome;
    };
    const results = await Promise.all(Object.keys(tasks).map(start));
    return results.some((r) => r.status === 'FAILED' || (r.status === 'NOT_RUN' && r.error)) ? 'FAILED' : 'SUCCEEDED';
  }

  private async runTask(task: TaskSpec, scope: Scope, deps: Map<string, Outcome>, taskPath: string): Promise<Outcome> {
    const record: TaskRecord = { path: taskPath, status: 'RUNNING' };
    const finish = async (outcome: Outcome): Promise<Outcome> => {
      Object.assign(record, { status: outcome.status, finishedAt: new Date().toISOString(), error: outcome.error });
      if (outcome.status === 'SUCCEEDED' || outcome.status === 'CACHED')
        Object.assign(record, { parameters: outcome.parameters, artifacts: outcome.artifacts, metadata: outcome.metadata });
      if (record.startedAt) record.seconds = Math.round((Date.parse(record.finishedAt ?? '') - Date.parse(record.startedAt)) / 100) / 10;
      await this.save();
      return outcome;
    };
    this.record.tasks[taskPath] = record;

    const failedDep = [...deps.entries()].find(([, o]) => o.status === 'FAILED' || (o.status === 'NOT_RUN' && o.error));
    if (failedDep && task.triggerPolicy?.strategy !== 'ALL_UPSTREAM_TASKS_COMPLETED') {
      return finish({ status: 'NOT_RUN', parameters: {}, artifacts: {}, error: `upstream task '${failedDep[0]}' failed` });
    }
    const component = this.component(task.componentRef.name);
    const inputs = resolveInputs(this.record, task, component, scope, deps, taskPath);

    if (task.triggerPolicy?.condition && !evaluateCondition(task.triggerPolicy.condition, inputs.parameters)) {
      this.options.log.info({ task: taskPath }, `${taskPath}: skipped (condition false)`);
      return finish({ status: 'SKIPPED', parameters: {}, artifacts: {} });
    }
    record.startedAt = new Date().toISOString();

    if (component.dag) {
      const dagTasks = component.dag.tasks;
      if (task.parameterIterator) {
        const iterator = task.parameterIterator;
        const items =
          'raw' in iterator.items ? (JSON.parse(iterator.items.raw) as unknown[]) : inputs.parameters[iterator.items.inputParameter];
        if (!Array.isArray(items))
          return finish({ status: 'FAILED', parameters: {}, artifacts: {}, error: `${taskPath}: loop items are not a list` });
        const loopLimit = pLimit(task.iteratorPolicy?.parallelismLimit ?? items.length ?? 1);
        const statuses = await Promise.all(
          items.map((item, i) =>
            loopLimit(() =>
              this.runDag(
                dagTasks,
                { parameters: { ...inputs.parameters, [iterator.itemInput]: item }, artifacts: inputs.artifacts },
                `${taskPath}/${i}/`,
              ),
            ),
          ),
        );
        const failed = statuses.includes('FAILED');
        return finish({
          status: failed ? 'FAILED' : 'SUCCEEDED',
          parameters: {},
          artifacts: {},
          error: failed ? `an iteration of ${taskPath} failed` : undefined,
        });
      }
      const status = await this.runDag(dagTasks, inputs, `${taskPath}/`);
      return finish({ status, parameters: {}, artifacts: {}, error: status === 'FAILED' ? `a task inside ${taskPath} failed` : undefined });
    }

    const executor = this.spec.deploymentSpec.executors[component.executorLabel ?? ''];
    if (!executor)
      throw new InputError(`component ${task.componentRef.name} names executor '${component.executorLabel}', which the spec does not have`);
    return finish(await this.limit(() => this.execute(task, component, executor, inputs, taskPath, record)));
  }

  private async execute(
    task: TaskSpec,
    component: ComponentSpec,
    executor: Executor,
    inputs: Scope,
    taskPath: string,
    record: TaskRecord,
  ): Promise<Outcome> {
    const log = this.options.log;
    const cacheable = (this.options.cache ?? true) && task.cachingOptions?.enableCache === true;
    const key = cacheable ? cacheKey(executor, component, inputs) : undefined;
    const cacheFile = key ? path.join(this.options.runsDir, 'cache', `${key}.json`) : undefined;
    if (cacheFile) {
      const hit = await readCache(cacheFile);
      if (hit) {
        log.info({ task: taskPath }, `${taskPath}: cached (outputs of run ${hit.runId})`);
        return { status: 'CACHED', parameters: hit.parameters, artifacts: hit.artifacts, metadata: hit.metadata };
      }
    }

    const safePath = taskPath.replace(/\//g, '.');
    const outputsDir = path.join(this.folder, 'outputs', ...taskPath.split('/'));
    const artifactsDir = path.join(this.folder, 'artifacts', ...taskPath.split('/'));
    const outputParameterFiles: Record<string, string> = {};
    const outputArtifacts: Record<string, string> = {};
    for (const name of Object.keys(component.outputDefinitions?.parameters ?? {})) outputParameterFiles[name] = path.join(outputsDir, name);
    for (const name of Object.keys(component.outputDefinitions?.artifacts ?? {})) outputArtifacts[name] = path.join(artifactsDir, name);
    await mkdir(outputsDir, { recursive: true });
    await mkdir(artifactsDir, { recursive: true });

    const container = executor.container;
    const executorOutputFile = path.join(outputsDir, 'executor_output.json');
    const command = this.mapCommand(
      commandLine(
        executor,
        inputs,
        { parameters: outputParameterFiles, artifacts: outputArtifacts, executorOutput: executorOutputFile },
        taskPath,
      ),
    );

    const logFile = path.join(this.folder, 'logs', `${safePath}.log`);
    await mkdir(path.dirname(logFile), { recursive: true });
    record.log = logFile;
    const attempts = 1 + (task.retryPolicy?.maxRetryCount ?? 0);
    const taskEnv = {
      ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value])),
      MARKETPLACE_RUN_ID: this.record.id,
      MARKETPLACE_TASK: taskPath,
    };
    const env = { ...process.env, ...this.options.env, ...taskEnv };
    let exit: { code: number | null; error?: string } = { code: null };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      record.attempts = attempt;
      log.info({ task: taskPath, attempt }, `${taskPath}: running${attempt > 1 ? ` (attempt ${attempt} of ${attempts})` : ''}`);
      const started = (pid: number) => {
        // Saved at start, not only at the end: after a crash of the runner, run.json says which task was running.
        record.pid = pid;
        void this.save();
      };
      exit = this.options.containers
        ? await this.options.containers
            .run({
              image: container.image,
              command,
              env: taskEnv,
              writable: [outputsDir, artifactsDir],
              logFile,
              append: attempt > 1,
              started,
            })
            .then((ran) => Object.assign(record, { image: ran.image, imageDigest: ran.imageDigest }) && ran)
        : await runProcess(command, env, logFile, attempt > 1, started);
      if (exit.code === 0) break;
    }
    if (exit.code !== 0) {
      return { status: 'FAILED', parameters: {}, artifacts: {}, error: `${taskPath} failed (${exit.error ?? `exit code ${exit.code}`})` };
    }

    const parameters: Record<string, unknown> = {};
    for (const [name, file] of Object.entries(outputParameterFiles)) {
      const type = component.outputDefinitions?.parameters?.[name]?.parameterType ?? 'STRING';
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        return {
          status: 'FAILED',
          parameters: {},
          artifacts: {},
          error: `${taskPath} did not write its output parameter '${name}' (${file})`,
        };
      }
      parameters[name] = parseParameter(text, type);
    }
    const metadata = await readExecutorOutput(executorOutputFile, taskPath);
    if (typeof metadata === 'string') return { status: 'FAILED', parameters: {}, artifacts: {}, error: metadata };
    for (const [name, values] of Object.entries(metadata ?? {})) {
      const scalars = metadataScalars(values);
      if (scalars.length > 0)
        log.info(
          { task: taskPath, artifact: name, metadata: values },
          `${taskPath}: ${name}: ${scalars.map(([k, v]) => `${k}=${v}`).join(', ')}`,
        );
    }
    const outcome: Outcome = { status: 'SUCCEEDED', parameters, artifacts: outputArtifacts, metadata };
    if (cacheFile)
      await writeCache(cacheFile, {
        runId: this.record.id,
        task: taskPath,
        parameters,
        artifacts: outputArtifacts,
        ...(metadata ? { metadata } : {}),
      });
    return outcome;
  }

  /** The failed tasks and the last lines of their logs. */
  async failureReport(): Promise<string> {
    const failed = Object.values(this.record.tasks).filter((t) => t.status === 'FAILED' && t.log);
    const parts: string[] = [];
    for (const task of failed) {
      const tail = (await readFile(task.log ?? '', 'utf8').catch(() => '')).trimEnd().split('\n').slice(-15).join('\n');
      parts.push(`${task.error ?? `task ${task.path} failed`}; last lines of ${task.log}:\n${tail}`);
    }
    return parts.join('\n\n') || 'the run failed';
  }
}
