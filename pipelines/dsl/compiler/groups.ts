/** Walking the recorded graph's groups: a group's ancestors, a node's stand-in in a DAG, an exit task's handler. */
import type { Graph, GroupNode, TaskNode } from '../graph.js';

export type DagNode = TaskNode | GroupNode;

/** The exit handler whose exit task `task` is, if any. */
export function exitHandlerOf(graph: Graph, task: TaskNode): GroupNode | undefined {
  return graph.groups.find((g) => g.kind === 'exit-handler' && g.exitTask === task);
}

/** The group itself and every group above it, innermost first. */
export function ancestors(group: GroupNode): GroupNode[] {
  const out: GroupNode[] = [];
  for (let g: GroupNode | undefined = group; g; g = g.parent) out.push(g);
  return out;
}

/** The node standing for `node` among the children of `group` (itself, or the child group holding it). */
export function childOf(group: GroupNode, node: DagNode): DagNode | undefined {
  let current: DagNode = node;
  for (;;) {
    const parent: GroupNode | undefined = current.kind === 'task' ? current.group : current.parent;
    if (parent === group) return current;
    if (!parent) return undefined;
    current = parent;
  }
}
