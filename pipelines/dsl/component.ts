/**
 * `component(...)`: a container component declared once, typed, the way `@dsl.container_component`
 * declares one in the KFP SDK. Calling the result inside a pipeline adds a task:
 *
 *   const train = component({ name: 'train', image, command, inputs: { snapshot: artifact.dataset() },
 *     outputs: { model: artifact.model() }, args: ({ inputs, outputs }) => ['--snapshot', inputs.snapshot, '--model', outputs.model] });
 *   // in a pipeline: const t = train({ snapshot: clean.outputs.snapshot }); t.outputs.model …
 */
import { addTask } from './builder.js';
import type { GroupNode, IOSpecs, TaskInputs, TaskNode, TaskOutputs } from './types.js';

/** What `after()` takes: a task, or the handle `when`/`parallelFor`/`exitHandler` return. */
export interface Runnable {
  readonly node: TaskNode | GroupNode;
}

export interface Resources {
  /** CPU limit and request, Kubernetes quantities: '2', '500m'. */
  cpu?: string;
  cpuRequest?: string;
  /** Memory limit and request: '4Gi', '512Mi'. */
  memory?: string;
  memoryRequest?: string;
  /** GPUs: count and resource type (default nvidia.com/gpu). */
  gpu?: { count: number; type?: string };
}

export interface Toleration {
  key: string;
  operator: 'Equal' | 'Exists';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/** Environment taken from a Kubernetes Secret or ConfigMap: env var -> key in the object. */
export interface EnvFrom {
  name: string;
  keys: Readonly<Record<string, string>>;
  optional?: boolean;
}

export interface Platform {
  secretEnv?: readonly EnvFrom[];
  configMapEnv?: readonly EnvFrom[];
  nodeSelector?: Readonly<Record<string, string>>;
  tolerations?: readonly Toleration[];
}

/** The placeholders `args` builds a command line from. */
export type Placeholders<Specs extends IOSpecs> = { readonly [K in keyof Specs]: string };

export interface ComponentSpec<I extends IOSpecs, O extends IOSpecs> {
  /** Kebab-case: the task and component names derive from it. */
  name: string;
  description?: string;
  /** The image's repository name; the compiler prefixes the registry and appends the tag. */
  image: string;
  command: readonly string[];
  inputs: I;
  outputs: O;
  args(placeholders: { inputs: Placeholders<I>; outputs: Placeholders<O> }): readonly string[];
  /** Plain environment variables (nothing secret: those come from `platform.secretEnv`). */
  env?: Readonly<Record<string, string>>;
  resources?: Resources;
  platform?: Platform;
  /** Defaults for every task of this component. */
  caching?: boolean;
  retries?: number;
}

export interface ComponentDefinition<I extends IOSpecs = IOSpecs, O extends IOSpecs = IOSpecs> extends ComponentSpec<I, O> {
  /** The command line with KFP placeholders filled in (computed once). */
  readonly renderedArgs: readonly string[];
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
    Object.entries(spec.inputs).map(([name, io]) => [
      name,
      io.kind === 'artifact' ? `{{$.inputs.artifacts['${name}'].path}}` : `{{$.inputs.parameters['${name}']}}`,
    ]),
  ) as Placeholders<I>;
  const outputPlaceholders = Object.fromEntries(
    Object.entries(spec.outputs).map(([name, io]) => [
      name,
      io.kind === 'artifact' ? `{{$.outputs.artifacts['${name}'].path}}` : `{{$.outputs.parameters['${name}'].output_file}}`,
    ]),
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
