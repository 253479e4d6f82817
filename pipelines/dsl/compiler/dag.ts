/** The DAGs: each group's (and the root's) tasks with their inputs, dependencies, retries and triggers. */
import type { Graph, GroupNode, TaskNode } from '../graph.js';
import type { Channels } from './channels.js';
import { ARTIFACT_SCHEMA_VERSION } from './components.js';
import { PipelineCompileError } from './errors.js';
import { ancestors, childOf, exitHandlerOf, type DagNode } from './groups.js';
import { omitEmpty, type JsonObject } from './json.js';

/** `after(...)`: an ordering edge between the two nodes' stand-ins in their closest common DAG. */
export function addAfterDependencies(graph: Graph, channels: Channels): void {
  for (const task of graph.tasks) {
    for (const before of task.after) {
      const beforeGroup = before.kind === 'task' ? before.group : before.parent;
      if (!beforeGroup) continue;
      const common = ancestors(task.group).find((g) => ancestors(beforeGroup).includes(g));
      if (!common) continue;
      const consumer = childOf(common, task);
      const producer = childOf(common, before);
      if (consumer && producer) channels.depend(consumer, producer);
    }
  }
}

/** A DAG whose tasks wait on each other in a circle can never run: refused, naming the circle. */
export function checkCycles(graph: Graph, channels: Channels): void {
  const visiting = new Set<DagNode>();
  const done = new Set<DagNode>();
  const visit = (node: DagNode, path: DagNode[]): void => {
    if (done.has(node)) return;
    if (visiting.has(node)) {
      const cycle = [...path.slice(path.indexOf(node)), node].map((n) => n.name).join(' -> ');
      throw new PipelineCompileError(`dependency cycle: ${cycle}`);
    }
    visiting.add(node);
    for (const next of channels.deps.get(node) ?? []) visit(next, [...path, node]);
    visiting.delete(node);
    done.add(node);
  };
  for (const node of [...graph.tasks, ...graph.groups]) visit(node, []);
}

/** A group component's inputDefinitions: its channels. */
export function groupInputDefinitions(channels: Channels, group: GroupNode): JsonObject {
  const parameters: JsonObject = {};
  const artifacts: JsonObject = {};
  for (const [name, channel] of channels.byGroup.get(group) ?? []) {
    if ('artifact' in channel.definition)
      artifacts[name] = { artifactType: { schemaTitle: channel.definition.artifact, schemaVersion: ARTIFACT_SCHEMA_VERSION } };
    else parameters[name] = { parameterType: channel.definition.parameter };
  }
  return omitEmpty({ artifacts, parameters });
}

/** The `dag.tasks` of a group (or the root): its tasks and child groups, with inputs and dependencies. */
export function dagTasks(graph: Graph, channels: Channels, group: GroupNode, taskInputs: Map<TaskNode, JsonObject>): JsonObject {
  const tasks: JsonObject = {};
  for (const child of group.children) {
    const dependentTasks = [...(channels.deps.get(child) ?? [])].map((n) => n.name).sort();
    if (child.kind === 'task') {
      const caching = child.options.caching ?? child.component.caching ?? true;
      const retries = child.options.retries ?? child.component.retries;
      const inputs = taskInputs.get(child) ?? {};
      const isExitTask = exitHandlerOf(graph, child) !== undefined;
      tasks[child.name] = {
        cachingOptions: caching ? { enableCache: true } : {},
        componentRef: { name: `comp-${child.name}` },
        ...omitEmpty({ dependentTasks, inputs }),
        // The SDK always writes the backoff defaults beside the count.
        ...(retries
          ? { retryPolicy: { backoffDuration: '0s', backoffFactor: 2.0, backoffMaxDuration: '3600s', maxRetryCount: retries } }
          : {}),
        taskInfo: { name: child.options.displayName ?? child.name },
        ...(isExitTask ? { triggerPolicy: { strategy: 'ALL_UPSTREAM_TASKS_COMPLETED' } } : {}),
      };
    } else {
      const parameters: JsonObject = {};
      const artifacts: JsonObject = {};
      for (const [name, channel] of channels.byGroup.get(child) ?? []) {
        if (Object.keys(channel.binding).length === 0) continue; // a loop's own item
        if ('artifact' in channel.definition) artifacts[name] = channel.binding;
        else parameters[name] = channel.binding;
      }
      tasks[child.name] = {
        componentRef: { name: `comp-${child.name}` },
        ...omitEmpty({ dependentTasks, inputs: omitEmpty({ artifacts, parameters }) }),
        taskInfo: { name: child.name },
        ...channels.groupExtras.get(child),
      };
    }
  }
  return tasks;
}
