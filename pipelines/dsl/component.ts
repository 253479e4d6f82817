/**
 * `component(...)`: a container component declared once, typed, the way `@dsl.container_component`
 * declares one in the KFP SDK. Calling the result inside a pipeline adds a task:
 *
 *   const train = component({ name: 'train', image, command, inputs: { snapshot: artifact.dataset() },
 *     outputs: { model: artifact.model() }, args: ({ inputs, outputs }) => ['--snapshot', inputs.snapshot, '--model', outputs.model] });
 *   // in a pipeline: const t = train({ snapshot: clean.outputs.snapshot }); t.outputs.model …
 */
import type { ComponentDefinition, ComponentSpec, Placeholders } from './component-spec.js';
import { addTask } from './context.js';
import type { TaskInputs, TaskOutputs } from './channels.js';
import type { GroupNode, TaskNode } from './graph.js';
import type { IOSpecs } from './io.js';
import { inputPlaceholder, outputPlaceholder } from './placeholders.js';

/** What `after()` takes: a task, or the handle `when`/`parallelFor`/`exitHandler` return. */
export interface Runnable {
  readonly node: TaskNode | GroupNode;
}

export interface Task<O extends IOSpecs = IOSpecs> {
  readonly name: string;
  readonly outputs: TaskOutputs<O>;
  /** Runs after these tasks or groups even without a data dependency. */
  after(...tasks: Runnable[]): this;
  setDisplayName(name: string): this;
  setCaching(enabled: boolean): this;
  setRetries(count: number): this;
  /** The graph node, for the compiler. */
  readonly node: TaskNode;
}

export type ComponentFunction<I extends IOSpecs, O extends IOSpecs> = ((inputs: TaskInputs<I>) => Task<O>) & {
  readonly definition: ComponentDefinition<I, O>;
};

const COMPONENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const IO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function component<I extends IOSpecs, O extends IOSpecs>(spec: ComponentSpec<I, O>): ComponentFunction<I, O> {
  if (!COMPONENT_NAME.test(spec.name)) throw new Error(`component name '${spec.name}' must be kebab-case (a-z, 0-9, -)`);
  for (const name of [...Object.keys(spec.inputs), ...Object.keys(spec.outputs)]) {
    if (!IO_NAME.test(name)) throw new Error(`component ${spec.name}: '${name}' is not a valid input or output name`);
  }
  const clash = Object.keys(spec.inputs).find((name) => name in spec.outputs);
  if (clash) throw new Error(`component ${spec.name}: '${clash}' is both an input and an output`);

  const inputPlaceholders = Object.fromEntries(
    Object.entries(spec.inputs).map(([name, io]) => [name, inputPlaceholder(name, io.kind)]),
  ) as Placeholders<I>;
  const outputPlaceholders = Object.fromEntries(
    Object.entries(spec.outputs).map(([name, io]) => [name, outputPlaceholder(name, io.kind)]),
  ) as Placeholders<O>;
  const definition: ComponentDefinition<I, O> = {
    ...spec,
    renderedArgs: [...spec.args({ inputs: inputPlaceholders, outputs: outputPlaceholders })],
  };

  const create = (inputs: TaskInputs<I>): Task<O> => {
    const node = addTask(definition as unknown as ComponentDefinition, inputs as Record<string, unknown>);
    const outputs = Object.fromEntries(
      Object.entries(spec.outputs).map(([key, io]) => [
        key,
        io.kind === 'artifact'
          ? { kind: 'artifact-ref', schema: io.schema, source: { from: 'task-output', task: node, key } }
          : { kind: 'parameter-ref', type: io.type, source: { from: 'task-output', task: node, key } },
      ]),
    ) as TaskOutputs<O>;
    const task: Task<O> = {
      name: node.name,
      outputs,
      node,
      after(...tasks) {
        node.after.push(...tasks.map((t) => t.node));
        return this;
      },
      setDisplayName(name) {
        node.options = { ...node.options, displayName: name };
        return this;
      },
      setCaching(enabled) {
        node.options = { ...node.options, caching: enabled };
        return this;
      },
      setRetries(count) {
        if (!Number.isInteger(count) || count < 0) throw new Error(`task ${node.name}: retries must be a whole number ≥ 0`);
        node.options = { ...node.options, retries: count };
        return this;
      },
    };
    return task;
  };
  return Object.assign(create, { definition });
}
