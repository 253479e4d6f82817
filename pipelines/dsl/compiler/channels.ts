/**
 * Channels: how each task input is bound in its DAG. A value produced in the same DAG is read from
 * the producer task; one from outside crosses each group boundary as a `pipelinechannel--…` input of
 * that group, declared all the way up, as the KFP SDK does. Conditions and loop lists are channels of
 * their own group. Resolving also records each node's producers (its `dependentTasks`).
 */
import type { ComponentDefinition } from '../component-spec.js';
import type { Graph, GroupNode, LoopGroupNode, ParameterRef, Source, TaskNode } from '../graph.js';
import { isRef } from '../graph.js';
import type { ParameterType } from '../io.js';
import { exitHandlerOf, type DagNode } from './groups.js';
import { omitEmpty, type Json, type JsonObject } from './json.js';

export interface Channel {
  /** Definition in the group's inputDefinitions. */
  definition: { parameter: ParameterType } | { artifact: string };
  /** How the group's task in the parent DAG binds it. */
  binding: JsonObject;
}

export class Channels {
  /** Each group's input channels, by name. */
  readonly byGroup = new Map<GroupNode, Map<string, Channel>>();
  /** Each DAG node's producers in its own DAG (its `dependentTasks`). */
  readonly deps = new Map<DagNode, Set<DagNode>>();
  /** A condition group's triggerPolicy, a loop's iterator. */
  readonly groupExtras = new Map<GroupNode, JsonObject>();

  constructor(private readonly graph: Graph) {}

  depend(consumer: DagNode, producer: DagNode): void {
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
    const channels = this.byGroup.get(group) ?? new Map<string, Channel>();
    this.byGroup.set(group, channels);
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
        if (io.kind === 'parameter' && io.default !== undefined && readsPlaceholder(task.component, key))
          parameters[key] = { runtimeValue: { constant: io.default as Json } };
        continue;
      }
      if (isRef(value)) {
        const definition: Channel['definition'] =
          value.kind === 'artifact-ref' ? { artifact: value.schema } : { parameter: io.kind === 'parameter' ? io.type : 'STRING' };
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
        if (io.kind === 'parameter' && io.type === 'TASK_FINAL_STATUS')
          parameters[key] = { taskFinalStatus: { producerTask: handler.name } };
      }
    }
    return omitEmpty({ artifacts, parameters });
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
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(', ')}}`;
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
