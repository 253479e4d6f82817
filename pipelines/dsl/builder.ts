/**
 * Recording a pipeline: a pipeline function runs once per compile, and the component calls, `when`,
 * `parallelFor` and `exitHandler` inside it add tasks and groups to the graph being built (the same
 * context-manager style as the KFP SDK's `with dsl.If(...)`).
 */
import type { ComponentDefinition } from './component.js';
import type {
  Comparison,
  ConditionBranchesGroupNode,
  ConditionGroupNode,
  ExitHandlerGroupNode,
  GroupNode,
  IOSpecs,
  LoopGroupNode,
  ParameterRef,
  ParameterSpec,
  ParameterType,
  RootGroupNode,
  TaskNode,
} from './types.js';

export interface Graph {
  root: RootGroupNode;
  tasks: TaskNode[];
  groups: GroupNode[];
  /** Raw-list loop items get their own number, as in the KFP SDK (`loop-item-param-3`). */
  loopItemNames: Map<LoopGroupNode, string>;
}

interface Builder {
  graph: Graph;
  current: GroupNode;
  counter: number;
  taskNames: Map<string, number>;
}

let active: Builder | undefined;

function builder(what: string): Builder {
  if (!active) throw new Error(`${what} can only be used inside a pipeline function`);
  return active;
}

/** Runs `body` with a fresh graph; returns what it recorded. */
export function record(body: () => void): Graph {
  if (active) throw new Error('a pipeline function cannot compile another pipeline');
  const root: RootGroupNode = { kind: 'root', name: 'root', parent: undefined, children: [] };
  active = { graph: { root, tasks: [], groups: [], loopItemNames: new Map() }, current: root, counter: 0, taskNames: new Map() };
  try {
    body();
    return active.graph;
  } finally {
    active = undefined;
  }
}

export function addTask(component: ComponentDefinition, inputs: Record<string, unknown>): TaskNode {
  const b = builder(`component '${component.name}'`);
  const seen = b.taskNames.get(component.name) ?? 0;
  b.taskNames.set(component.name, seen + 1);
  const node: TaskNode = {
    kind: 'task',
    name: seen === 0 ? component.name : `${component.name}-${seen + 1}`,
    component,
    inputs,
    group: b.current,
    after: [],
    options: {},
  };
  b.current.children.push(node);
  b.graph.tasks.push(node);
  return node;
}

function inGroup<G extends GroupNode>(b: Builder, group: G, body: () => void): G {
  b.current.children.push(group);
  b.graph.groups.push(group);
  const parent = b.current;
  b.current = group;
  try {
    body();
  } finally {
    b.current = parent;
  }
  return group;
}

/** `eq(ref, 'heads')`, `ne(ref, 0)`: a condition on a parameter's value. */
export function eq<T extends ParameterType>(ref: ParameterRef<T>, value: string | number | boolean): Comparison {
  return { kind: 'comparison', ref, op: '==', value };
}
export function ne<T extends ParameterType>(ref: ParameterRef<T>, value: string | number | boolean): Comparison {
  return { kind: 'comparison', ref, op: '!=', value };
}

export interface Conditional {
  node: ConditionGroupNode;
  /**
   * Runs the tasks of `body` only when the condition does not hold (`dsl.Else`). Must follow its
   * `when` directly. Compiled as the SDK compiles If/Else: both branches inside a
   * `condition-branches-N` group (which takes the `when`'s number; the `when` is renumbered after its
   * own body), the second with the negated condition `!(…)`.
   */
  otherwise(body: () => void): { node: ConditionGroupNode };
}

/** Runs the tasks of `body` only when `condition` holds at run time (`dsl.If`): a boolean, or eq/ne. */
export function when(condition: ParameterRef<'BOOLEAN'> | Comparison, body: () => void): Conditional {
  const b = builder('when()');
  const group: ConditionGroupNode = { kind: 'condition', name: `condition-${++b.counter}`, parent: b.current, children: [], condition, negated: false };
  inGroup(b, group, body);
  let branched = false;
  return {
    node: group,
    otherwise(elseBody) {
      const parent = group.parent;
      if (active !== b || !parent || b.current !== parent || parent.children.at(-1) !== group) {
        throw new Error(`otherwise() must follow its when() (${group.name}) directly, in the same pipeline function and group`);
      }
      if (branched) throw new Error(`${group.name} already has an otherwise() branch`);
      branched = true;
      const branches: ConditionBranchesGroupNode = { kind: 'condition-branches', name: group.name.replace(/^condition-/, 'condition-branches-'), parent, children: [group] };
      group.name = `condition-${++b.counter}`;
      group.parent = branches;
      parent.children[parent.children.length - 1] = branches;
      b.graph.groups.push(branches);
      const negated: ConditionGroupNode = { kind: 'condition', name: `condition-${++b.counter}`, parent: branches, children: [], condition, negated: true };
      b.current = branches;
      try {
        inGroup(b, negated, elseBody);
      } finally {
        b.current = parent;
      }
      return { node: negated };
    },
  };
}

type ItemType<Items> = Items extends readonly number[] ? 'NUMBER_INTEGER' : Items extends readonly string[] ? 'STRING' : ParameterType;

/**
 * Runs `body` once per item (`dsl.ParallelFor`), at most `parallelism` at a time: over a constant
 * list, a LIST pipeline input or a LIST task output. Compiled to a KFP `parameterIterator`.
 */
export function parallelFor<Items extends readonly unknown[] | ParameterRef<'LIST'>>(
  items: Items,
  body: (item: ParameterRef<Items extends readonly unknown[] ? ItemType<Items> : 'STRING'>) => void,
  options: { parallelism?: number } = {},
): { node: LoopGroupNode } {
  const b = builder('parallelFor()');
  const raw = Array.isArray(items);
  const itemNumber = raw ? ++b.counter : undefined;
  const group: LoopGroupNode = {
    kind: 'loop',
    name: `for-loop-${++b.counter}`,
    parent: b.current,
    children: [],
    items: items as LoopGroupNode['items'],
    parallelism: options.parallelism,
  };
  if (itemNumber !== undefined) b.graph.loopItemNames.set(group, `pipelinechannel--loop-item-param-${itemNumber}`);
  const itemType = raw ? (items.every((i) => typeof i === 'number' && Number.isInteger(i)) ? 'NUMBER_INTEGER' : 'STRING') : 'STRING';
  const item = { kind: 'parameter-ref', type: itemType, source: { from: 'loop-item', loop: group } } as const;
  return { node: inGroup(b, group, () => body(item as never)) };
}

/**
 * Runs `body`, then the task `exitTask` creates, whether the body succeeded or failed
 * (`dsl.ExitHandler`). The exit task's TASK_FINAL_STATUS input receives the body's final status.
 */
export function exitHandler(exitTask: () => { node: TaskNode }, body: () => void): { node: ExitHandlerGroupNode } {
  const b = builder('exitHandler()');
  // The exit task is created first, beside the group, as `dsl.ExitHandler(exit_task=…)` has it.
  const exit = exitTask().node;
  const group: ExitHandlerGroupNode = { kind: 'exit-handler', name: `exit-handler-${++b.counter}`, parent: b.current, children: [], exitTask: exit };
  return { node: inGroup(b, group, body) };
}

export interface PipelineSpecInput<Inputs extends Readonly<Record<string, ParameterSpec>>> {
  name: string;
  description?: string;
  inputs: Inputs;
}

export interface PipelineDefinition<Inputs extends Readonly<Record<string, ParameterSpec>> = Readonly<Record<string, ParameterSpec>>> {
  readonly name: string;
  readonly description: string | undefined;
  readonly inputs: Inputs;
  build(): Graph;
}

type PipelineInputRefs<Inputs extends Readonly<Record<string, ParameterSpec>>> = {
  readonly [K in keyof Inputs]: Inputs[K] extends ParameterSpec<infer T> ? ParameterRef<T> : never;
};

/** A pipeline (`@dsl.pipeline`): typed inputs with defaults, and a function that wires tasks. */
export function pipeline<Inputs extends Readonly<Record<string, ParameterSpec>>>(
  spec: PipelineSpecInput<Inputs>,
  body: (inputs: PipelineInputRefs<Inputs>) => void,
): PipelineDefinition<Inputs> {
  if (!/^[a-z][a-z0-9-]{0,127}$/.test(spec.name)) throw new Error(`pipeline name '${spec.name}' must be kebab-case`);
  const refs = Object.fromEntries(
    Object.entries(spec.inputs).map(([name, io]) => [name, { kind: 'parameter-ref', type: io.type, source: { from: 'pipeline-input', name } }]),
  ) as PipelineInputRefs<Inputs>;
  return { name: spec.name, description: spec.description, inputs: spec.inputs, build: () => record(() => body(refs)) };
}

export type { IOSpecs };
