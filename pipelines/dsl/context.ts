/**
 * Recording a pipeline: a pipeline function runs once per compile, and the component calls, `when`,
 * `parallelFor` and `exitHandler` inside it add tasks and groups to the graph being built (the same
 * context-manager style as the KFP SDK's `with dsl.If(...)`; its pipeline_context).
 */
import type { ComponentDefinition } from './component-spec.js';
import type { Graph, GroupNode, RootGroupNode, TaskNode } from './graph.js';

export interface Builder {
  graph: Graph;
  current: GroupNode;
  counter: number;
  taskNames: Map<string, number>;
}

let active: Builder | undefined;

/** The pipeline being recorded; `what` names the caller in the error when there is none. */
export function builder(what: string): Builder {
  if (!active) throw new Error(`${what} can only be used inside a pipeline function`);
  return active;
}

/** Whether `b` is still the pipeline being recorded. */
export function isRecording(b: Builder): boolean {
  return active === b;
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

/** Records `group` under the current one and runs `body` inside it. */
export function inGroup<G extends GroupNode>(b: Builder, group: G, body: () => void): G {
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
