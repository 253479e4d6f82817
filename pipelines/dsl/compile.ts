/**
 * The compiler: a recorded pipeline graph to a Kubeflow Pipelines v2 PipelineSpec (IR, schemaVersion
 * 2.1.0) and its Kubernetes platform spec, shaped as the KFP SDK writes them (see
 * ../../../shared/reference/kfp/). Groups (`when`, `parallelFor`, `exitHandler`) become sub-DAG
 * components; a value crossing a group boundary travels as a `pipelinechannel--…` input of that
 * group, as in the SDK. Wiring errors name the task and the input.
 */
import type { ComponentDefinition } from './component.js';
import type { Graph, PipelineDefinition } from './builder.js';
import type { ArtifactRef, GroupNode, IOSpec, LoopGroupNode, ParameterRef, ParameterSpec, ParameterType, Source, TaskNode } from './types.js';
import { isRef } from './types.js';
import { checkTarget } from './targets.js';

export interface CompileOptions {
  /** Prefix of every component image: `123456789012.dkr.ecr.eu-west-2.amazonaws.com/marketplace`. */
  imageRegistry: string;
  /** Tag of every component image (a release version: never `latest`). */
  imageTag: string;
  /** Written as `sdkVersion`, naming what compiled the spec. */
  compilerVersion: string;
  /** The KFP backend release that will run the spec (default 2.17.0): constructs it cannot run are refused (targets.ts). Not written into the spec. */
  kfpVersion?: string;
}

type Json = null | boolean | number | string | Json[] | JsonObject;
/** Values left undefined are omitted from the YAML. */
type JsonObject = { [key: string]: Json | undefined };

export interface CompiledPipeline {
  spec: JsonObject;
  /** The second YAML document (`platforms.kubernetes…`), when any executor needs it. */
  platform: JsonObject | undefined;
}

export class PipelineCompileError extends Error {
  override name = 'PipelineCompileError';
}

const SCHEMA_VERSION = '0.0.1';

type DagNode = TaskNode | GroupNode;

interface Channel {
  /** Definition in the group's inputDefinitions. */
  definition: { parameter: ParameterType } | { artifact: string };
  /** How the group's task in the parent DAG binds it. */
  binding: JsonObject;
}

export function compilePipeline(definition: PipelineDefinition, options: CompileOptions): CompiledPipeline {
  const graph = definition.build();
  checkTarget(definition.name, graph, options.kfpVersion);
  validate(definition, graph);
  const state = new CompileState(graph);

  // Resolve every input, condition and loop list first: this declares the channels each group needs.
  const taskInputs = new Map<TaskNode, JsonObject>();
  for (const task of graph.tasks) taskInputs.set(task, state.taskInputs(task));
  for (const group of graph.groups) state.prepareGroup(group);
  state.addAfterDependencies();
  state.checkCycles();

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
    components[`comp-${group.name}`] = { dag: { tasks: state.dagTasks(group, taskInputs) }, inputDefinitions: state.groupInputDefinitions(group) };
  }

  const rootInputs: JsonObject = {};
  for (const [name, spec] of Object.entries(definition.inputs)) rootInputs[name] = parameterDefinition(spec);
  const spec: JsonObject = {
    components,
    deploymentSpec: { executors },
    pipelineInfo: definition.description ? { description: definition.description, name: definition.name } : { name: definition.name },
    root: {
      dag: { tasks: state.dagTasks(graph.root, taskInputs) },
      ...(Object.keys(rootInputs).length > 0 ? { inputDefinitions: { parameters: rootInputs } } : {}),
    },
    schemaVersion: '2.1.0',
    sdkVersion: options.compilerVersion,
  };
  const platform = Object.keys(platformExecutors).length > 0 ? { platforms: { kubernetes: { deploymentSpec: { executors: platformExecutors } } } } : undefined;
  return { spec, platform };
}

/** Inputs: known names, required ones present, values of the declared type. */
function validate(definition: PipelineDefinition, graph: Graph): void {
  const known = new Set(graph.tasks);
  for (const task of graph.tasks) {
    const declared = task.component.inputs;
    const where = `pipeline ${definition.name}, task '${task.name}'`;
    for (const key of Object.keys(task.inputs)) {
      if (!(key in declared)) {
        throw new PipelineCompileError(`${where}: unknown input '${key}' (component ${task.component.name} takes: ${Object.keys(declared).join(', ') || 'none'})`);
      }
    }
    for (const [key, io] of Object.entries(declared)) {
      const value = task.inputs[key];
      if (value === undefined) {
        if (io.kind === 'parameter' && io.type === 'TASK_FINAL_STATUS') {
          if (!exitHandlerOf(graph, task)) throw new PipelineCompileError(`${where}: input '${key}' takes a final status, so the task must be an exitHandler's exit task`);
          continue;
        }
        if (io.kind === 'artifact' || io.default === undefined) throw new PipelineCompileError(`${where}: missing required input '${key}'`);
        continue;
      }
      checkValue(`${where}, input '${key}'`, io, value);
      if (isRef(value)) checkReachable(`${where}, input '${key}'`, task.name, task.group, value.source, known);
    }
  }
  for (const group of graph.groups) {
    const where = `pipeline ${definition.name}, ${group.name}`;
    if (group.kind === 'condition') {
      const ref = group.condition.kind === 'comparison' ? group.condition.ref : group.condition;
      checkReachable(`${where} condition`, group.name, group, ref.source, known);
    }
    if (group.kind === 'loop' && !Array.isArray(group.items)) {
      checkReachable(`${where} items`, group.name, group, (group.items as ParameterRef).source, known);
    }
  }
}

/** A reference can be read where its producer's group encloses the reader. */
function checkReachable(where: string, reader: string, group: GroupNode, source: Source, known: Set<TaskNode>): void {
  if (source.from === 'task-output') {
    const producer = source.task;
    if (!known.has(producer)) throw new PipelineCompileError(`${where}: task '${producer.name}' is not part of this pipeline`);
    if (!ancestors(group).includes(producer.group)) {
      throw new PipelineCompileError(
        `${where}: '${producer.name}' runs inside ${producer.group.name}, which '${reader}' is not part of; move the reader into that group`,
      );
    }
  }
  if (source.from === 'loop-item' && !ancestors(group).includes(source.loop)) {
    throw new PipelineCompileError(`${where}: the item of ${source.loop.name} is only available inside that loop`);
  }
}

function checkValue(where: string, io: IOSpec, value: unknown): void {
  if (io.kind === 'artifact') {
    if (!isRef(value) || value.kind !== 'artifact-ref') throw new PipelineCompileError(`${where}: expects an artifact (${io.schema}), got ${describe(value)}`);
    if (value.schema !== io.schema) throw new PipelineCompileError(`${where}: expects ${io.schema}, got ${value.schema}`);
    return;
  }
  if (isRef(value)) {
    if (value.kind !== 'parameter-ref') throw new PipelineCompileError(`${where}: expects a ${io.type} parameter, got an artifact (${(value as ArtifactRef).schema})`);
    // A loop item's type is what the list holds, known only at run time.
    if (value.source.from !== 'loop-item' && value.type !== io.type) {
      throw new PipelineCompileError(`${where}: expects ${io.type}, got a ${value.type} reference`);
    }
    return;
  }
  const ok: Record<ParameterType, (v: unknown) => boolean> = {
    STRING: (v) => typeof v === 'string',
    NUMBER_INTEGER: (v) => Number.isInteger(v),
    NUMBER_DOUBLE: (v) => typeof v === 'number' && Number.isFinite(v),
    BOOLEAN: (v) => typeof v === 'boolean',
    STRUCT: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    LIST: (v) => Array.isArray(v),
    TASK_FINAL_STATUS: () => false,
  };
  if (!ok[io.type](value)) throw new PipelineCompileError(`${where}: expects ${io.type}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (isRef(value)) return value.kind === 'artifact-ref' ? `an artifact (${value.schema})` : `a ${value.type} reference`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The exit handler whose exit task `task` is, if any. */
function exitHandlerOf(graph: Graph, task: TaskNode): GroupNode | undefined {
  return graph.groups.find((g) => g.kind === 'exit-handler' && g.exitTask === task);
}

/** The group itself and every group above it, innermost first. */
function ancestors(group: GroupNode): GroupNode[] {
  const out: GroupNode[] = [];
  for (let g: GroupNode | undefined = group; g; g = g.parent) out.push(g);
  return out;
}

/** The node standing for `node` among the children of `group` (itself, or the child group holding it). */
function childOf(group: GroupNode, node: DagNode): DagNode | undefined {
  let current: DagNode = node;
  for (;;) {
    const parent: GroupNode | undefined = current.kind === 'task' ? current.group : current.parent;
    if (parent === group) return current;
    if (!parent) return undefined;
    current = parent;
  }
}

class CompileState {
  private channels = new Map<GroupNode, Map<string, Channel>>();
  private deps = new Map<DagNode, Set<DagNode>>();
  private groupExtras = new Map<GroupNode, JsonObject>();

  constructor(private readonly graph: Graph) {}

  private depend(consumer: DagNode, producer: DagNode): void {
    if (consumer === producer) return;
    const set = this.deps.get(consumer) ?? new Set();
    set.add(producer);
    this.deps.set(consumer, set);
  }

  private loopItemName(loop: LoopGroupNode): string {
    const raw = this.graph.loopItemNames.get(loop);
    if (raw) return raw;
    return `${channelName((loop.items as ParameterRef).source)}-loop-item`;
  }

  /** Declares `name` as an input of `group`, bound in the parent DAG by `binding` (first one wins). */
  private declare(group: GroupNode, name: string, definition: Channel['definition'], parentBinding: () => JsonObject): void {
    const channels = this.channels.get(group) ?? new Map<string, Channel>();
    this.channels.set(group, channels);
    if (!channels.has(name)) channels.set(name, { definition, binding: parentBinding() });
  }

  /**
   * How `source` is bound inside `group`'s DAG for `consumer` (a task of that DAG, or a child group):
   * directly from a sibling task, or through a channel of the group, declared all the way up.
   */
  private resolve(group: GroupNode, consumer: DagNode, source: Source, definition: Channel['definition']): JsonObject {
    const artifact = 'artifact' in definition;
    switch (source.from) {
      case 'pipeline-input': {
        if (group.kind === 'root') return { componentInputParameter: source.name };
        const name = channelName(source);
        this.declare(group, name, definition, () => this.resolve(group.parent!, group, source, definition));
        return { componentInputParameter: name };
      }
      case 'task-output': {
        if (source.task.group === group) {
          this.depend(consumer, source.task);
          return artifact
            ? { taskOutputArtifact: { outputArtifactKey: source.key, producerTask: source.task.name } }
            : { taskOutputParameter: { outputParameterKey: source.key, producerTask: source.task.name } };
        }
        const name = channelName(source);
        this.declare(group, name, definition, () => this.resolve(group.parent!, group, source, definition));
        return artifact ? { componentInputArtifact: name } : { componentInputParameter: name };
      }
      case 'loop-item': {
        const name = this.loopItemName(source.loop);
        if (group !== source.loop) this.declare(group, name, definition, () => this.resolve(group.parent!, group, source, definition));
        return { componentInputParameter: name };
      }
    }
  }

  taskInputs(task: TaskNode): JsonObject {
    const parameters: JsonObject = {};
    const artifacts: JsonObject = {};
    for (const [key, io] of Object.entries(task.component.inputs)) {
      const value = task.inputs[key];
      if (value === undefined) {
        // Since 2.17 the container driver fills `{{$.inputs.parameters['x']}}` itself, from the task's
        // bindings only: it leaves an optional input's default to "the component" (driver resolve.go),
        // and a command-line placeholder has no component code behind it to apply one, so the task
        // fails with `parameter "x" not found in executor input`. So an unpassed input that the command
        // line reads is bound to its default as a constant. (The SDK leaves defaults unbound for Python
        // components, whose executor applies them from `{{$}}`; so do we when no placeholder reads it.)
        if (io.kind === 'parameter' && io.default !== undefined && readsPlaceholder(task.component, key)) parameters[key] = { runtimeValue: { constant: io.default as Json } };
        continue;
      }
      if (isRef(value)) {
        const definition: Channel['definition'] = value.kind === 'artifact-ref' ? { artifact: value.schema } : { parameter: io.kind === 'parameter' ? io.type : 'STRING' };
        const binding = this.resolve(task.group, task, value.source, definition);
        if (value.kind === 'artifact-ref') artifacts[key] = binding;
        else parameters[key] = binding;
      } else {
        parameters[key] = { runtimeValue: { constant: value as Json } };
      }
    }
    const handler = exitHandlerOf(this.graph, task);
    if (handler) {
      this.depend(task, handler);
      for (const [key, io] of Object.entries(task.component.inputs)) {
        if (io.kind === 'parameter' && io.type === 'TASK_FINAL_STATUS') parameters[key] = { taskFinalStatus: { producerTask: handler.name } };
      }
    }
    return {
      ...(Object.keys(artifacts).length > 0 ? { artifacts } : {}),
      ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
    };
  }

  /** Conditions and loop lists: channels of the group itself. */
  prepareGroup(group: GroupNode): void {
    if (group.kind === 'condition') {
      const { ref, op, value } = group.condition.kind === 'comparison' ? group.condition : { ref: group.condition, op: '==', value: true };
      const channel = this.resolve(group, group, ref.source, { parameter: ref.type });
      const name = String(channel['componentInputParameter']);
      // CEL as the SDK writes it: strings single-quoted, booleans lower-case, integer channels cast.
      const literal = typeof value === 'string' ? `'${value.replace(/'/g, "\\'")}'` : String(value);
      const channelValue = `inputs.parameter_values['${name}']`;
      const left = ref.type === 'NUMBER_INTEGER' ? `int(${channelValue})` : channelValue;
      const cel = `${left} ${op} ${literal}`;
      // An otherwise branch negates the whole comparison, as the SDK writes dsl.Else.
      this.groupExtras.set(group, { triggerPolicy: { condition: group.negated ? `!(${cel})` : cel } });
    }
    if (group.kind === 'loop') {
      const itemName = this.loopItemName(group);
      let iterator: JsonObject;
      if (Array.isArray(group.items)) {
        iterator = { itemInput: itemName, items: { raw: pythonJson(group.items) } };
        const itemType: ParameterType = group.items.every((i) => Number.isInteger(i)) ? 'NUMBER_INTEGER' : 'STRING';
        this.declare(group, itemName, { parameter: itemType }, () => ({}));
      } else {
        const list = group.items as ParameterRef<'LIST'>;
        const channel = this.resolve(group, group, list.source, { parameter: 'LIST' });
        iterator = { itemInput: itemName, items: { inputParameter: String(channel['componentInputParameter']) } };
        this.declare(group, itemName, { parameter: 'STRING' }, () => ({}));
      }
      this.groupExtras.set(group, {
        ...(group.parallelism ? { iteratorPolicy: { parallelismLimit: group.parallelism } } : {}),
        parameterIterator: iterator,
      });
    }
  }

  /** `after(...)`: an ordering edge between the two nodes' stand-ins in their closest common DAG. */
  addAfterDependencies(): void {
    for (const task of this.graph.tasks) {
      for (const before of task.after) {
        const beforeGroup = before.kind === 'task' ? before.group : before.parent;
        if (!beforeGroup) continue;
        const common = ancestors(task.group).find((g) => ancestors(beforeGroup).includes(g));
        if (!common) continue;
        const consumer = childOf(common, task);
        const producer = childOf(common, before);
        if (consumer && producer) this.depend(consumer, producer);
      }
    }
  }

  checkCycles(): void {
    const visiting = new Set<DagNode>();
    const done = new Set<DagNode>();
    const visit = (node: DagNode, path: DagNode[]): void => {
      if (done.has(node)) return;
      if (visiting.has(node)) {
        const cycle = [...path.slice(path.indexOf(node)), node].map((n) => n.name).join(' -> ');
        throw new PipelineCompileError(`dependency cycle: ${cycle}`);
      }
      visiting.add(node);
      for (const next of this.deps.get(node) ?? []) visit(next, [...path, node]);
      visiting.delete(node);
      done.add(node);
    };
    for (const node of [...this.graph.tasks, ...this.graph.groups]) visit(node, []);
  }

  groupInputDefinitions(group: GroupNode): JsonObject {
    const parameters: JsonObject = {};
    const artifacts: JsonObject = {};
    for (const [name, channel] of this.channels.get(group) ?? []) {
      if ('artifact' in channel.definition) artifacts[name] = { artifactType: { schemaTitle: channel.definition.artifact, schemaVersion: SCHEMA_VERSION } };
      else parameters[name] = { parameterType: channel.definition.parameter };
    }
    return { ...(Object.keys(artifacts).length > 0 ? { artifacts } : {}), ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
  }

  dagTasks(group: GroupNode, taskInputs: Map<TaskNode, JsonObject>): JsonObject {
    const tasks: JsonObject = {};
    for (const child of group.children) {
      const deps = [...(this.deps.get(child) ?? [])].map((n) => n.name).sort();
      const dependentTasks = deps.length > 0 ? { dependentTasks: deps } : {};
      if (child.kind === 'task') {
        const caching = child.options.caching ?? child.component.caching ?? true;
        const retries = child.options.retries ?? child.component.retries;
        const inputs = taskInputs.get(child) ?? {};
        const isExitTask = exitHandlerOf(this.graph, child) !== undefined;
        tasks[child.name] = {
          cachingOptions: caching ? { enableCache: true } : {},
          componentRef: { name: `comp-${child.name}` },
          ...dependentTasks,
          ...(Object.keys(inputs).length > 0 ? { inputs } : {}),
          // The SDK always writes the backoff defaults beside the count.
          ...(retries ? { retryPolicy: { backoffDuration: '0s', backoffFactor: 2.0, backoffMaxDuration: '3600s', maxRetryCount: retries } } : {}),
          taskInfo: { name: child.options.displayName ?? child.name },
          ...(isExitTask ? { triggerPolicy: { strategy: 'ALL_UPSTREAM_TASKS_COMPLETED' } } : {}),
        };
      } else {
        const parameters: JsonObject = {};
        const artifacts: JsonObject = {};
        for (const [name, channel] of this.channels.get(child) ?? []) {
          if (Object.keys(channel.binding).length === 0) continue; // a loop's own item
          if ('artifact' in channel.definition) artifacts[name] = channel.binding;
          else parameters[name] = channel.binding;
        }
        const inputs = { ...(Object.keys(artifacts).length > 0 ? { artifacts } : {}), ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
        tasks[child.name] = {
          componentRef: { name: `comp-${child.name}` },
          ...dependentTasks,
          ...(Object.keys(inputs).length > 0 ? { inputs } : {}),
          taskInfo: { name: child.name },
          ...this.groupExtras.get(child),
        };
      }
    }
    return tasks;
  }
}

/** Whether the component's command line fills input parameter `key` from a placeholder. */
function readsPlaceholder(component: ComponentDefinition, key: string): boolean {
  const placeholder = `{{$.inputs.parameters['${key}']}}`;
  return [...component.command, ...component.renderedArgs].some((part) => part.includes(placeholder));
}

/** JSON as Python's json.dumps writes it (", " and ": " separators), as the SDK writes raw loop items. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

function channelName(source: Source): string {
  switch (source.from) {
    case 'pipeline-input':
      return `pipelinechannel--${source.name}`;
    case 'task-output':
      return `pipelinechannel--${source.task.name}-${source.key}`;
    case 'loop-item':
      return `pipelinechannel--${source.loop.name}-item`;
  }
}

function parameterDefinition(spec: ParameterSpec): JsonObject {
  // A final status is filled in by the backend, never by the caller: optional, as the SDK marks it.
  const optional = spec.default !== undefined || spec.type === 'TASK_FINAL_STATUS';
  return {
    defaultValue: spec.default as Json | undefined,
    description: spec.description,
    isOptional: optional ? true : undefined,
    parameterType: spec.type,
  };
}

function componentSpec(component: ComponentDefinition, executorLabel: string): JsonObject {
  const definitions = (specs: Readonly<Record<string, IOSpec>>): JsonObject => {
    const parameters: JsonObject = {};
    const artifacts: JsonObject = {};
    for (const [name, io] of Object.entries(specs)) {
      if (io.kind === 'artifact') {
        artifacts[name] = { artifactType: { schemaTitle: io.schema, schemaVersion: SCHEMA_VERSION }, ...(io.description ? { description: io.description } : {}) };
      } else {
        parameters[name] = parameterDefinition(io);
      }
    }
    return { ...(Object.keys(artifacts).length > 0 ? { artifacts } : {}), ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
  };
  const inputs = definitions(component.inputs);
  const outputs = definitions(component.outputs);
  return {
    executorLabel,
    ...(Object.keys(inputs).length > 0 ? { inputDefinitions: inputs } : {}),
    ...(Object.keys(outputs).length > 0 ? { outputDefinitions: outputs } : {}),
  };
}

/** Kubernetes CPU quantity to cores: '500m' -> 0.5, '2' -> 2. */
export function cpuToFloat(quantity: string): number {
  const value = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
  if (!Number.isFinite(value) || value <= 0) throw new PipelineCompileError(`'${quantity}' is not a CPU quantity (e.g. 2, 500m)`);
  return value;
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Kubernetes memory quantity to decimal gigabytes, as the SDK writes the legacy fields: '14Gi' -> 15.032385536. */
export function memoryToGb(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGTPE]i?)?$/.exec(quantity);
  const unit = MEMORY_UNITS[match?.[2] ?? ''];
  if (!match || unit === undefined) throw new PipelineCompileError(`'${quantity}' is not a memory quantity (e.g. 512Mi, 4Gi, 2G)`);
  return (Number(match[1]) * unit) / 1e9;
}

/**
 * Resources as kfp 2.13+ writes them: the quantity strings (`resourceCpuLimit: '2'`) and, for backends
 * that predate those fields, the numeric ones (`cpuLimit: 2.0`, memory in GB); the accelerator likewise.
 */
function resourcesSpec(resources: ComponentDefinition['resources']): JsonObject | undefined {
  if (!resources) return undefined;
  const spec: JsonObject = {};
  const cpuRequest = resources.cpuRequest ?? resources.cpu;
  const memoryRequest = resources.memoryRequest ?? resources.memory;
  if (resources.cpu) Object.assign(spec, { cpuLimit: cpuToFloat(resources.cpu), resourceCpuLimit: resources.cpu });
  if (cpuRequest) Object.assign(spec, { cpuRequest: cpuToFloat(cpuRequest), resourceCpuRequest: cpuRequest });
  if (resources.memory) Object.assign(spec, { memoryLimit: memoryToGb(resources.memory), resourceMemoryLimit: resources.memory });
  if (memoryRequest) Object.assign(spec, { memoryRequest: memoryToGb(memoryRequest), resourceMemoryRequest: memoryRequest });
  if (resources.gpu) {
    const type = resources.gpu.type ?? 'nvidia.com/gpu';
    const count = String(resources.gpu.count);
    spec['accelerator'] = { count, resourceCount: count, resourceType: type, type };
  }
  return Object.keys(spec).length > 0 ? spec : undefined;
}

function executorSpec(component: ComponentDefinition, options: CompileOptions): JsonObject {
  const resourceSpec = resourcesSpec(component.resources);
  const env = Object.entries(component.env ?? {}).map(([name, value]) => ({ name, value }));
  return {
    container: {
      args: [...component.renderedArgs],
      command: [...component.command],
      ...(env.length > 0 ? { env } : {}),
      image: `${options.imageRegistry.replace(/\/+$/, '')}/${component.image}:${options.imageTag}`,
      resources: resourceSpec,
    },
  };
}

function platformSpec(component: ComponentDefinition): JsonObject | undefined {
  const platform = component.platform;
  if (!platform) return undefined;
  const spec: JsonObject = {};
  const asEnv = (kind: 'secret' | 'configMap') => (source: { name: string; keys: Readonly<Record<string, string>>; optional?: boolean }) => ({
    keyToEnv: Object.entries(source.keys).map(([envVar, key]) => ({ envVar, [kind === 'secret' ? 'secretKey' : 'configMapKey']: key })),
    optional: source.optional ?? false,
    ...(kind === 'secret'
      ? { secretName: source.name, secretNameParameter: { runtimeValue: { constant: source.name } } }
      : { configMapName: source.name, configMapNameParameter: { runtimeValue: { constant: source.name } } }),
  });
  if (platform.secretEnv?.length) spec['secretAsEnv'] = platform.secretEnv.map(asEnv('secret'));
  if (platform.configMapEnv?.length) spec['configMapAsEnv'] = platform.configMapEnv.map(asEnv('configMap'));
  if (platform.nodeSelector) spec['nodeSelector'] = { labels: { ...platform.nodeSelector } };
  if (platform.tolerations?.length) {
    spec['tolerations'] = platform.tolerations.map((t) => ({
      ...(t.effect ? { effect: t.effect } : {}),
      key: t.key,
      operator: t.operator,
      // int64 fields are strings in proto JSON, as the reference toleration.yaml shows.
      ...(t.tolerationSeconds !== undefined ? { tolerationSeconds: String(t.tolerationSeconds) } : {}),
      ...(t.value !== undefined ? { value: t.value } : {}),
    }));
  }
  return Object.keys(spec).length > 0 ? spec : undefined;
}
