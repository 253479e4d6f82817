/**
 * The compiler: a recorded pipeline graph to a Kubeflow Pipelines v2 PipelineSpec (IR, schemaVersion
 * 2.1.0) and its Kubernetes platform spec, shaped as the KFP SDK writes them (test/fixtures/kfp/ holds
 * specs the SDK compiled). One module per IR section: validate.ts (before anything is written),
 * channels.ts (input bindings across group boundaries), dag.ts (each DAG's tasks), components.ts,
 * executors.ts, platform.ts; targets.ts refuses what the target KFP release cannot run. Wiring
 * errors name the task and the input.
 */
import type { PipelineDefinition } from '../pipeline.js';
import type { TaskNode } from '../graph.js';
import { Channels } from './channels.js';
import { componentSpec, parameterDefinition } from './components.js';
import { addAfterDependencies, checkCycles, dagTasks, groupInputDefinitions } from './dag.js';
import { executorSpec, type ImageOptions } from './executors.js';
import { omitEmpty, type JsonObject } from './json.js';
import { platformSpec } from './platform.js';
import { checkTarget } from './targets.js';
import { validate } from './validate.js';

export { PipelineCompileError } from './errors.js';
export { cpuToFloat, memoryToGb } from './executors.js';

export interface CompileOptions extends ImageOptions {
  /** Written as `sdkVersion`, naming what compiled the spec. */
  compilerVersion: string;
  /** The KFP backend release that will run the spec (default 2.17.0): constructs it cannot run are refused (targets.ts). Not written into the spec. */
  kfpVersion?: string;
}

export interface CompiledPipeline {
  spec: JsonObject;
  /** The second YAML document (`platforms.kubernetes…`), when any executor needs it. */
  platform: JsonObject | undefined;
}

export function compilePipeline(definition: PipelineDefinition, options: CompileOptions): CompiledPipeline {
  const graph = definition.build();
  checkTarget(definition.name, graph, options.kfpVersion);
  validate(definition, graph);
  const channels = new Channels(graph);

  // Resolve every input, condition and loop list first: this declares the channels each group needs.
  const taskInputs = new Map<TaskNode, JsonObject>();
  for (const task of graph.tasks) taskInputs.set(task, channels.taskInputs(task));
  for (const group of graph.groups) channels.prepareGroup(group);
  addAfterDependencies(graph, channels);
  checkCycles(graph, channels);

  const components: JsonObject = {};
  const executors: JsonObject = {};
  const platformExecutors: JsonObject = {};
  for (const task of graph.tasks) {
    components[`comp-${task.name}`] = componentSpec(task.component, `exec-${task.name}`);
    executors[`exec-${task.name}`] = executorSpec(task.component, options);
    const platform = platformSpec(task.component);
    if (platform) platformExecutors[`exec-${task.name}`] = platform;
  }
  for (const group of graph.groups) {
    components[`comp-${group.name}`] = {
      dag: { tasks: dagTasks(graph, channels, group, taskInputs) },
      inputDefinitions: groupInputDefinitions(channels, group),
    };
  }

  const rootInputs: JsonObject = {};
  for (const [name, spec] of Object.entries(definition.inputs)) rootInputs[name] = parameterDefinition(spec);
  const spec: JsonObject = {
    components,
    deploymentSpec: { executors },
    pipelineInfo: definition.description ? { description: definition.description, name: definition.name } : { name: definition.name },
    root: {
      dag: { tasks: dagTasks(graph, channels, graph.root, taskInputs) },
      ...omitEmpty({ inputDefinitions: omitEmpty({ parameters: rootInputs }) }),
    },
    schemaVersion: '2.1.0',
    sdkVersion: options.compilerVersion,
  };
  const platform =
    Object.keys(platformExecutors).length > 0
      ? { platforms: { kubernetes: { deploymentSpec: { executors: platformExecutors } } } }
      : undefined;
  return { spec, platform };
}
