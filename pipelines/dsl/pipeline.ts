/** `pipeline(...)`: typed pipeline inputs and the function that wires tasks (the KFP SDK's @dsl.pipeline). */
import { record } from './context.js';
import type { Graph, ParameterRef } from './graph.js';
import type { ParameterSpec } from './io.js';

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
    Object.entries(spec.inputs).map(([name, io]) => [
      name,
      { kind: 'parameter-ref', type: io.type, source: { from: 'pipeline-input', name } },
    ]),
  ) as PipelineInputRefs<Inputs>;
  return { name: spec.name, description: spec.description, inputs: spec.inputs, build: () => record(() => body(refs)) };
}
