/**
 * A task's inputs and command line as KFP 2.17's driver makes them (driver/resolve.go): bindings
 * resolved to values (task outputs, DAG inputs, runtime constants with the run placeholders, the
 * final status of an exit handler's DAG), then the executor's placeholders filled with them.
 */
import { InputError } from '../../components/core/platform/index.js';
import { KFP_EXECUTOR_OUTPUT } from '../../components/core/contracts/kfp-outputs.js';
import type { Outcome, RunRecord, Scope } from './run-record.js';
import type { ComponentSpec, Executor, TaskSpec } from './spec.js';

export function resolveInputs(
  run: RunRecord,
  task: TaskSpec,
  component: ComponentSpec,
  scope: Scope,
  deps: Map<string, Outcome>,
  taskPath: string,
): Scope {
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
    else if ('taskOutputParameter' in binding)
      parameters[name] = producer(binding.taskOutputParameter.producerTask).parameters[binding.taskOutputParameter.outputParameterKey];
    else if ('runtimeValue' in binding) parameters[name] = runtimeConstant(run, binding.runtimeValue.constant, taskPath);
    else {
      const producerTask = binding.taskFinalStatus.producerTask;
      parameters[name] = finalStatus(
        run,
        producerTask,
        producer(producerTask),
        `${taskPath.slice(0, taskPath.lastIndexOf('/') + 1)}${producerTask}`,
      );
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
function runtimeConstant(run: RunRecord, value: unknown, taskPath: string): unknown {
  const placeholders: Record<string, string> = {
    '{{$.pipeline_job_uuid}}': run.id,
    '{{$.pipeline_job_resource_name}}': run.id,
    '{{$.pipeline_job_name}}': `${run.pipeline}-${run.id}`,
    '{{$.pipeline_task_name}}': taskPath.split('/').at(-1) ?? taskPath,
  };
  return typeof value === 'string' && value in placeholders ? placeholders[value] : value;
}

/**
 * The final status as KFP 2.17 passes it (driver resolve.go): the ML Metadata state of the guarded
 * DAG, its task name, the run, and an empty error. That state is COMPLETE only when every task of
 * the DAG completed (metadata client UpdateDAGExecutionsState): a skipped branch leaves it RUNNING.
 */
function finalStatus(run: RunRecord, producerTask: string, outcome: Outcome, producerPath: string): Record<string, unknown> {
  const inside = Object.values(run.tasks).filter((t) => t.path.startsWith(`${producerPath}/`));
  const failed = outcome.status === 'FAILED' || (outcome.status === 'NOT_RUN' && outcome.error !== undefined);
  const state = failed ? 'FAILED' : inside.some((t) => t.status === 'SKIPPED') ? 'RUNNING' : 'COMPLETE';
  return { state, pipelineJobResourceName: run.id, pipelineTaskName: producerTask, error: {} };
}

/** Where a task's outputs go: each output parameter's file, each output artifact's path, the executor output file. */
export interface OutputPaths {
  parameters: Record<string, string>;
  artifacts: Record<string, string>;
  executorOutput: string;
}

/** The executor's command and args with every placeholder filled; a placeholder it cannot fill is an error naming it. */
export function commandLine(executor: Executor, inputs: Scope, outputs: OutputPaths, taskPath: string): string[] {
  const outputArtifacts = outputs.artifacts;
  const outputParameterFiles = outputs.parameters;
  const fill = (text: string) =>
    text.replace(
      /\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](\.path|\.output_file)?\}\}/g,
      (match, side: string, kind: string, name: string) => {
        if (side === 'inputs' && kind === 'parameters') {
          if (!(name in inputs.parameters)) {
            throw new InputError(
              `${taskPath}: parameter "${name}" not found in executor input: the task does not bind it, and KFP 2.17's driver fills ` +
                'placeholders from bindings only (a default of the component is not applied)',
            );
          }
          return stringify(inputs.parameters[name]);
        }
        const value =
          side === 'inputs' ? inputs.artifacts[name] : kind === 'artifacts' ? outputArtifacts[name] : outputParameterFiles[name];
        if (value === undefined) throw new InputError(`${taskPath}: placeholder ${match} names nothing the task has`);
        return value;
      },
    );
  const container = executor.container;
  // KFP's launcher reads the executor output from one fixed path in the pod; here, one file per task.
  const command = [...(container.command ?? []), ...(container.args ?? [])]
    .map(fill)
    .map((part) => (part === KFP_EXECUTOR_OUTPUT ? outputs.executorOutput : part));
  const unsupported = command.find((part) => /\{\{\$/.test(part));
  if (unsupported) throw new InputError(`${taskPath}: the local runner does not fill the placeholder in '${unsupported}'`);
  return command;
}

/** A parameter value on a command line, as KFP writes it. */
function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
