/**
 * The local runner: executes a compiled Kubeflow Pipelines v2 spec on this machine, as Kubeflow would
 * run it. Each DAG's tasks start when their dependencies finish (independent tasks side by side, up to
 * `concurrency` processes); each executor's command runs as a local process with its placeholders
 * filled (parameters by value, artifacts as paths under the run folder); conditions are evaluated,
 * loops iterated, exit tasks run whatever happened. A task that allows caching and whose cache key (as
 * KFP's driver computes it: executor, parameters, input artifact identities, output types) matches an
 * earlier successful run is taken from the cache, so a failed run resumed reruns only what did not
 * finish. Everything is recorded in `<run>/run.json`, with a log file per task.
 */
import { createHash, randomUUID } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { parse } from 'yaml';
import { z } from 'zod';
import { errorMessage, InputError, type Logger } from '../../components/core/platform/index.js';
import { KFP_EXECUTOR_OUTPUT, metadataScalars } from '../../components/core/contracts/kfp-outputs.js';
import { evaluateCondition } from './cel.js';
import { writeJsonAtomic } from './files.js';
import type { ContainerExit, ContainerTask } from './containers.js';
import { PipelineSpec, type ComponentSpec, type Executor, type TaskSpec } from './spec.js';

export type TaskStatus = 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'NOT_RUN' | 'CACHED';

export interface TaskRecord {
  path: string;
  status: TaskStatus | 'RUNNING';
  startedAt?: string;
  finishedAt?: string;
  seconds?: number;
  attempts?: number;
  /** The task's process while it runs (recorded so that run.json shows what was running if the runner dies). */
  pid?: number;
  log?: string;
  parameters?: Record<string, unknown>;
  artifacts?: Record<string, string>;
  /** Output artifacts' metadata from the task's executor output (what the Kubeflow UI shows: metrics). */
  metadata?: Record<string, Record<string, unknown>>;
  error?: string;
  /** With `containers`: the local image that ran the task, and its digest. */
  image?: string;
  imageDigest?: string;
}

export interface RunRecord {
  id: string;
  pipeline: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startedAt: string;
  finishedAt?: string;
  parameters: Record<string, unknown>;
  folder: string;
  tasks: Record<string, TaskRecord>;
  error?: string;
}

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

interface Outcome {
  status: TaskStatus;
  parameters: Record<string, unknown>;
  artifacts: Record<string, string>;
  metadata?: Record<string, Record<string, unknown>>;
  error?: string;
}

/** The part of KFP's ExecutorOutput (protojson) the launcher merges into output artifacts: their metadata. */
const ExecutorOutput = z.object({
  artifacts: z.record(z.string(), z.object({ artifacts: z.array(z.object({ metadata: z.record(z.string(), z.unknown()).optional() })) })).optional(),
});

interface Scope {
  parameters: Record<string, unknown>;
  artifacts: Record<string, string>;
}

export class TaskFailedError extends Error {
  override name = 'TaskFailedError';
}

/**
 * Container commands of this project's images (`node /app/dist/<path>.js`) run from the checkout at
 * `appRoot` (`tsx <path>.ts`): the same code the image carries, without building it first.
 */
export function mapCommandToCheckout(appRoot: string): (command: readonly string[]) => string[] {
  return (command) => {
    const [program, script, ...rest] = command;
    if (program === 'node' && script?.startsWith('/app/dist/') && script.endsWith('.js')) {
      const source = path.join(appRoot, script.slice('/app/dist/'.length).replace(/\.js$/, '.ts'));
      return [process.execPath, '--import', 'tsx', source, ...rest];
    }
    return [...command];
  };
}

export async function runPipeline(options: LocalRunOptions): Promise<RunRecord> {
  const spec = parseSpec(options.specYaml);
  const id = options.runId ?? `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomUUID().slice(0, 8)}`;
  const folder = path.join(options.runsDir, id);
  await mkdir(folder, { recursive: true });
  const parameters = rootParameters(spec, options.parameters ?? {});
  const record: RunRecord = { id, pipeline: spec.pipelineInfo.name, status: 'RUNNING', startedAt: new Date().toISOString(), parameters, folder, tasks: {} };
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
  if (unknown.length > 0) throw new InputError(`unknown pipeline parameter(s) ${unknown.join(', ')}; the pipeline takes ${Object.keys(definitions).join(', ')}`);
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
      if (outcome.status === 'SUCCEEDED' || outcome.status === 'CACHED') Object.assign(record, { parameters: outcome.parameters, artifacts: outcome.artifacts, metadata: outcome.metadata });
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
    const inputs = this.resolveInputs(task, component, scope, deps, taskPath);

    if (task.triggerPolicy?.condition && !evaluateCondition(task.triggerPolicy.condition, inputs.parameters)) {
      this.options.log.info({ task: taskPath }, `${taskPath}: skipped (condition false)`);
      return finish({ status: 'SKIPPED', parameters: {}, artifacts: {} });
    }
    record.startedAt = new Date().toISOString();

    if (component.dag) {
      const dagTasks = component.dag.tasks;
      if (task.parameterIterator) {
        const iterator = task.parameterIterator;
        const items = 'raw' in iterator.items ? (JSON.parse(iterator.items.raw) as unknown[]) : inputs.parameters[iterator.items.inputParameter];
        if (!Array.isArray(items)) return finish({ status: 'FAILED', parameters: {}, artifacts: {}, error: `${taskPath}: loop items are not a list` });
        const loopLimit = pLimit(task.iteratorPolicy?.parallelismLimit ?? items.length ?? 1);
        const statuses = await Promise.all(
          items.map((item, i) =>
            loopLimit(() =>
              this.runDag(dagTasks, { parameters: { ...inputs.parameters, [iterator.itemInput]: item }, artifacts: inputs.artifacts }, `${taskPath}/${i}/`),
            ),
          ),
        );
        const failed = statuses.includes('FAILED');
        return finish({ status: failed ? 'FAILED' : 'SUCCEEDED', parameters: {}, artifacts: {}, error: failed ? `an iteration of ${taskPath} failed` : undefined });
      }
      const status = await this.runDag(dagTasks, inputs, `${taskPath}/`);
      return finish({ status, parameters: {}, artifacts: {}, error: status === 'FAILED' ? `a task inside ${taskPath} failed` : undefined });
    }

    const executor = this.spec.deploymentSpec.executors[component.executorLabel ?? ''];
    if (!executor) throw new InputError(`component ${task.componentRef.name} names executor '${component.executorLabel}', which the spec does not have`);
    return finish(await this.limit(() => this.execute(task, component, executor, inputs, taskPath, record)));
  }

  private resolveInputs(task: TaskSpec, component: ComponentSpec, scope: Scope, deps: Map<string, Outcome>, taskPath: string): Scope {
    const parameters: Record<string, unknown> = {};
    const artifacts: Record<string, string> = {};
    const producer = (name: string): Outcome => {
      const outcome = deps.get(name);
      if (!outcome) throw new InputError(`${taskPath} reads an output of '${name}' without depending on it`);
      return outcome;
    };
    // As KFP 2.17's driver resolves inputs (driver/resolve.go): a sub-DAG's optional inputs take their
    // defaults, a container task gets only what its task binds; a placeholder naming anything else fails.
    if (component.dag) {
      for (const [name, definition] of Object.entries(component.inputDefinitions?.parameters ?? {})) {
        if (definition.defaultValue !== undefined) parameters[name] = definition.defaultValue;
      }
    }
    for (const [name, binding] of Object.entries(task.inputs?.parameters ?? {})) {
      if ('componentInputParameter' in binding) parameters[name] = scope.parameters[binding.componentInputParameter];
      else if ('taskOutputParameter' in binding) parameters[name] = producer(binding.taskOutputParameter.producerTask).parameters[binding.taskOutputParameter.outputParameterKey];
      else if ('runtimeValue' in binding) parameters[name] = this.runtimeConstant(binding.runtimeValue.constant, taskPath);
      else {
        const producerTask = binding.taskFinalStatus.producerTask;
        parameters[name] = this.finalStatus(producerTask, producer(producerTask), `${taskPath.slice(0, taskPath.lastIndexOf('/') + 1)}${producerTask}`);
      }
    }
    for (const [name, binding] of Object.entries(task.inputs?.artifacts ?? {})) {
      const location =
        'componentInputArtifact' in binding
          ? scope.artifacts[binding.componentInputArtifact]
          : producer(binding.taskOutputArtifact.producerTask).artifacts[binding.taskOutputArtifact.outputArtifactKey];
      if (location) artifacts[name] = location;
    }
    return { parameters, artifacts };
  }

  /** A constant as 2.17's driver resolves it: the run and task placeholders replaced (resolve.go). */
  private runtimeConstant(value: unknown, taskPath: string): unknown {
    const placeholders: Record<string, string> = {
      '{{$.pipeline_job_uuid}}': this.record.id,
      '{{$.pipeline_job_resource_name}}': this.record.id,
      '{{$.pipeline_job_name}}': `${this.record.pipeline}-${this.record.id}`,
      '{{$.pipeline_task_name}}': taskPath.split('/').at(-1) ?? taskPath,
    };
    return typeof value === 'string' && value in placeholders ? placeholders[value] : value;
  }

  /**
   * The final status as KFP 2.17 passes it (driver resolve.go): the ML Metadata state of the guarded
   * DAG, its task name, the run, and an empty error. That state is COMPLETE only when every task of
   * the DAG completed (metadata client UpdateDAGExecutionsState): a skipped branch leaves it RUNNING.
   */
  private finalStatus(producerTask: string, outcome: Outcome, producerPath: string): Record<string, unknown> {
    const inside = Object.values(this.record.tasks).filter((t) => t.path.startsWith(`${producerPath}/`));
    const failed = outcome.status === 'FAILED' || (outcome.status === 'NOT_RUN' && outcome.error !== undefined);
    const state = failed ? 'FAILED' : inside.some((t) => t.status === 'SKIPPED') ? 'RUNNING' : 'COMPLETE';
    return { state, pipelineJobResourceName: this.record.id, pipelineTaskName: producerTask, error: {} };
  }

  /**
   * The cache key as KFP's driver computes it (backend/src/v2/cacheutils GenerateCacheKey, called from
   * driver/cache.go getFingerPrint): input artifacts by identity, not by content (on a cluster the
   * artifact's name in ML Metadata, here the run folder path it was written to), input parameter
   * values, the output artifacts' types and output parameters' types, and the container's image and
   * unresolved command + args. So a task downstream of one that reran (a new artifact) never hits the
   * cache, and what freezes on the cluster freezes here too.
   */
  private cacheKey(executor: Executor, component: ComponentSpec, inputs: Scope): string {
    const key = {
      inputArtifactNames: Object.fromEntries(Object.entries(inputs.artifacts).map(([name, location]) => [name, { artifactNames: [location] }])),
      inputParameterValues: inputs.parameters,
      outputArtifactsSpec: Object.fromEntries(
        Object.entries(component.outputDefinitions?.artifacts ?? {}).map(([name, definition]) => [name, { type: definition.artifactType }]),
      ),
      outputParametersSpec: Object.fromEntries(
        Object.entries(component.outputDefinitions?.parameters ?? {}).map(([name, definition]) => [name, definition.parameterType]),
      ),
      containerSpec: { image: executor.container.image, cmdArgs: [...(executor.container.command ?? []), ...(executor.container.args ?? [])] },
    };
    return createHash('sha256').update(canonicalJson(key)).digest('hex');
  }

  private async execute(task: TaskSpec, component: ComponentSpec, executor: Executor, inputs: Scope, taskPath: string, record: TaskRecord): Promise<Outcome> {
    const log = this.options.log;
    const cacheable = (this.options.cache ?? true) && task.cachingOptions?.enableCache === true;
    const key = cacheable ? this.cacheKey(executor, component, inputs) : undefined;
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

    const fill = (text: string) =>
      text.replace(/\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](\.path|\.output_file)?\}\}/g, (match, side: string, kind: string, name: string) => {
        if (side === 'inputs' && kind === 'parameters') {
          if (!(name in inputs.parameters)) {
            throw new InputError(
              `${taskPath}: parameter "${name}" not found in executor input: the task does not bind it, and KFP 2.17's driver fills ` +
                'placeholders from bindings only (a default of the component is not applied)',
            );
          }
          return stringify(inputs.parameters[name]);
        }
        const value = side === 'inputs' ? inputs.artifacts[name] : kind === 'artifacts' ? outputArtifacts[name] : outputParameterFiles[name];
        if (value === undefined) throw new InputError(`${taskPath}: placeholder ${match} names nothing the task has`);
        return value;
      });
    const container = executor.container;
    // KFP's launcher reads the executor output from one fixed path in the pod; here, one file per task.
    const executorOutputFile = path.join(outputsDir, 'executor_output.json');
    const command = this.mapCommand([...(container.command ?? []), ...(container.args ?? [])].map(fill).map((part) => (part === KFP_EXECUTOR_OUTPUT ? executorOutputFile : part)));
    const unsupported = command.find((part) => /\{\{\$/.test(part));
    if (unsupported) throw new InputError(`${taskPath}: the local runner does not fill the placeholder in '${unsupported}'`);

    const logFile = path.join(this.folder, 'logs', `${safePath}.log`);
    await mkdir(path.dirname(logFile), { recursive: true });
    record.log = logFile;
    const attempts = 1 + (task.retryPolicy?.maxRetryCount ?? 0);
    const taskEnv = { ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value])), MARKETPLACE_RUN_ID: this.record.id, MARKETPLACE_TASK: taskPath };
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
        ? await this.options.containers.run({ image: container.image, command, env: taskEnv, writable: [outputsDir, artifactsDir], logFile, append: attempt > 1, started }).then((ran) => Object.assign(record, { image: ran.image, imageDigest: ran.imageDigest }) && ran)
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
        return { status: 'FAILED', parameters: {}, artifacts: {}, error: `${taskPath} did not write its output parameter '${name}' (${file})` };
      }
      parameters[name] = parseParameter(text, type);
    }
    const metadata = await readExecutorOutput(executorOutputFile, taskPath);
    if (typeof metadata === 'string') return { status: 'FAILED', parameters: {}, artifacts: {}, error: metadata };
    for (const [name, values] of Object.entries(metadata ?? {})) {
      const scalars = metadataScalars(values);
      if (scalars.length > 0) log.info({ task: taskPath, artifact: name, metadata: values }, `${taskPath}: ${name}: ${scalars.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    }
    const outcome: Outcome = { status: 'SUCCEEDED', parameters, artifacts: outputArtifacts, metadata };
    if (cacheFile) {
      await mkdir(path.dirname(cacheFile), { recursive: true });
      await writeJsonAtomic(cacheFile, { runId: this.record.id, task: taskPath, parameters, artifacts: outputArtifacts, metadata });
    }
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

/**
 * The artifact metadata a task wrote as KFP's executor output, by output name; undefined when it wrote
 * none (KFP's launcher treats a missing file as an empty output); an error message when the file is
 * not an ExecutorOutput, which the launcher would refuse too.
 */
async function readExecutorOutput(file: string, taskPath: string): Promise<Record<string, Record<string, unknown>> | undefined | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let parsed;
  try {
    parsed = ExecutorOutput.safeParse(JSON.parse(text));
  } catch {
    return `${taskPath} wrote an executor output that is not JSON (${file})`;
  }
  if (!parsed.success) return `${taskPath} wrote an executor output that is not a KFP ExecutorOutput (${file}): ${parsed.error.issues[0]?.message}`;
  return Object.fromEntries(Object.entries(parsed.data.artifacts ?? {}).map(([name, list]) => [name, list.artifacts[0]?.metadata ?? {}]));
}

/** JSON with object keys sorted at every level (Go's encoding/json orders map keys the same way). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A parameter value on a command line, as KFP writes it. */
function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function parseParameter(text: string, type: string): unknown {
  const trimmed = text.trim();
  switch (type) {
    case 'NUMBER_INTEGER':
    case 'NUMBER_DOUBLE':
      return Number(trimmed);
    case 'BOOLEAN':
      return trimmed === 'true' || trimmed === 'True' || trimmed === '1';
    case 'STRUCT':
    case 'LIST':
      return JSON.parse(trimmed) as unknown;
    default:
      return text;
  }
}

interface CacheEntry {
  runId: string;
  parameters: Record<string, unknown>;
  artifacts: Record<string, string>;
  metadata?: Record<string, Record<string, unknown>>;
}

async function readCache(file: string): Promise<CacheEntry | null> {
  try {
    const hit = JSON.parse(await readFile(file, 'utf8')) as CacheEntry;
    // An artifact deleted since is no cache hit.
    for (const location of Object.values(hit.artifacts)) await stat(location);
    return hit;
  } catch {
    return null;
  }
}

/**
 * Task processes die with the runner. Without this, a runner killed by SIGKILL (kill -9, the OOM
 * killer) leaves its running task behind as an orphan that goes on writing to the database and the
 * store with nobody to record its result; the resumed run then races it, or finds its work half or
 * wholly done (a snapshot pinned twice says "0 new listings"), and does not end with the outputs of an
 * uninterrupted run. Linux's parent-death signal (util-linux `setpriv --pdeathsig`, exec'd in place,
 * so the task stays the runner's child) sends the task SIGTERM the moment the runner dies: SIGTERM
 * rather than SIGKILL, so the task still releases its locks (the embedded database's lock would stay
 * for 30 s until it goes stale). Where setpriv is missing (macOS), tasks start as before.
 */
let pdeathsig: boolean | undefined;
function withParentDeathSignal(command: string[]): string[] {
  pdeathsig ??= process.platform === 'linux' && /--pdeathsig/.test(spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout ?? '');
  return pdeathsig ? ['setpriv', '--pdeathsig', 'TERM', '--', ...command] : command;
}

function runProcess(command: string[], env: NodeJS.ProcessEnv, logFile: string, append: boolean, started: (pid: number) => void): Promise<{ code: number | null; error?: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = withParentDeathSignal(command);
    const out = createWriteStream(logFile, { flags: append ? 'a' : 'w' });
    out.write(`$ ${command.join(' ')}\n`);
    const child = spawn(program ?? '', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) started(child.pid);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', (error) => out.end(() => resolve({ code: null, error: `could not start ${command[0]}: ${error.message}` })));
    child.on('close', (code, signal) => out.end(() => resolve({ code, error: signal ? `killed by ${signal}` : undefined })));
  });
}
