/** `exitHandler`: a task that runs after a body whatever its outcome (the KFP SDK's dsl.ExitHandler). */
import { builder, inGroup } from './context.js';
import type { ExitHandlerGroupNode, TaskNode } from './graph.js';

/**
 * Runs `body`, then the task `exitTask` creates, whether the body succeeded or failed
 * (`dsl.ExitHandler`). The exit task's TASK_FINAL_STATUS input receives the body's final status.
 */
export function exitHandler(exitTask: () => { node: TaskNode }, body: () => void): { node: ExitHandlerGroupNode } {
  const b = builder('exitHandler()');
  // The exit task is created first, beside the group, as `dsl.ExitHandler(exit_task=…)` has it.
  const exit = exitTask().node;
  const group: ExitHandlerGroupNode = {
    kind: 'exit-handler',
    name: `exit-handler-${++b.counter}`,
    parent: b.current,
    children: [],
    exitTask: exit,
  };
  return { node: inGroup(b, group, body) };
}
