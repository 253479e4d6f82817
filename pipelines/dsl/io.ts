/**
 * What a component declares: parameter and artifact specs (`param.integer({ default: 10 })`,
 * `artifact.model()`), as the KFP SDK types a component's signature. A spec's TypeScript type
 * records its IR type, so wiring is checked by the compiler of TypeScript first.
 */

/** Kubeflow Pipelines v2 parameter types, as the IR names them. */
export type ParameterType = 'STRING' | 'NUMBER_INTEGER' | 'NUMBER_DOUBLE' | 'BOOLEAN' | 'STRUCT' | 'LIST' | 'TASK_FINAL_STATUS';

/** The TypeScript value each parameter type takes. */
export interface ParameterValues {
  STRING: string;
  NUMBER_INTEGER: number;
  NUMBER_DOUBLE: number;
  BOOLEAN: boolean;
  STRUCT: Record<string, unknown>;
  LIST: unknown[];
  TASK_FINAL_STATUS: never;
}

/** KFP artifact schema titles (the Kubeflow UI renders Metrics, ClassificationMetrics and HTML). */
export type SchemaTitle =
  | 'system.Artifact'
  | 'system.Dataset'
  | 'system.Model'
  | 'system.Metrics'
  | 'system.ClassificationMetrics'
  | 'system.HTML'
  | 'system.Markdown';

export interface ParameterSpec<T extends ParameterType = ParameterType> {
  readonly kind: 'parameter';
  readonly type: T;
  readonly default?: ParameterValues[T];
  readonly description?: string;
}

export interface ArtifactSpec<S extends SchemaTitle = SchemaTitle> {
  readonly kind: 'artifact';
  readonly schema: S;
  readonly description?: string;
}

export type IOSpec = ParameterSpec | ArtifactSpec;
export type IOSpecs = Readonly<Record<string, IOSpec>>;

/** A spec factory whose result's type records whether a default was given (then the input is optional). */
function parameter<T extends ParameterType>(type: T) {
  function make(options: {
    default: ParameterValues[T];
    description?: string;
  }): ParameterSpec<T> & { readonly default: ParameterValues[T] };
  function make(options?: { description?: string }): ParameterSpec<T>;
  function make(options: { default?: ParameterValues[T]; description?: string } = {}): ParameterSpec<T> {
    return { kind: 'parameter', type, ...options };
  }
  return make;
}

const artifactOf =
  <S extends SchemaTitle>(schema: S) =>
  (options: { description?: string } = {}): ArtifactSpec<S> => ({ kind: 'artifact', schema, ...options });

/** Parameter specs, as `dsl.component` signatures type them: `param.integer({ default: 10 })`. */
export const param = {
  string: parameter('STRING'),
  integer: parameter('NUMBER_INTEGER'),
  double: parameter('NUMBER_DOUBLE'),
  boolean: parameter('BOOLEAN'),
  struct: parameter('STRUCT'),
  list: parameter('LIST'),
  /** The final status of the tasks an exit handler guards (only for an exit handler's task). */
  taskFinalStatus: (options: { description?: string } = {}): ParameterSpec<'TASK_FINAL_STATUS'> => ({
    kind: 'parameter',
    type: 'TASK_FINAL_STATUS',
    ...options,
  }),
};

/** Artifact specs: `artifact.model()`, `artifact.metrics()`, … */
export const artifact = {
  generic: artifactOf('system.Artifact'),
  dataset: artifactOf('system.Dataset'),
  model: artifactOf('system.Model'),
  metrics: artifactOf('system.Metrics'),
  classificationMetrics: artifactOf('system.ClassificationMetrics'),
  html: artifactOf('system.HTML'),
  markdown: artifactOf('system.Markdown'),
};
