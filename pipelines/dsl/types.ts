/**
 * The typed vocabulary of the DSL: parameter and artifact specs (what a component declares), and
 * references (what a pipeline wires). A reference carries its type in the TypeScript type, so wiring
 * a Model output into a Dataset input, or a string into a boolean, does not compile.
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
  function make(options: { default: ParameterValues[T]; description?: string }): ParameterSpec<T> & { readonly default: ParameterValues[T] };
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

/** Where a value comes from at run time. */
export type Source =
  | { from: 'pipeline-input'; name: string }
  | { from: 'task-output'; task: TaskNode; key: string }
  | { from: 'loop-item'; loop: LoopGroupNode };

/** A parameter produced at run time (a pipeline input, a task output, a loop item). */
export interface ParameterRef<T extends ParameterType = ParameterType> {
  readonly kind: 'parameter-ref';
  readonly type: T;
  readonly source: Source;
}

/** An artifact produced by a task. */
export interface ArtifactRef<S extends SchemaTitle = SchemaTitle> {
  readonly kind: 'artifact-ref';
  readonly schema: S;
  readonly source: Extract<Source, { from: 'task-output' }>;
}

/** What an input of a given spec accepts: a constant or a reference of the same type. */
export type InputValue<Spec extends IOSpec> =
  Spec extends ParameterSpec<infer T>
    ? T extends 'TASK_FINAL_STATUS'
      ? never
      : ParameterValues[T] | ParameterRef<T>
    : Spec extends ArtifactSpec<infer S>
      ? ArtifactRef<S>
      : never;

/** Inputs with a default may be left out; those without must be given. */
type RequiredKeys<Specs extends IOSpecs> = {
  [K in keyof Specs]: Specs[K] extends ParameterSpec<infer T>
    ? T extends 'TASK_FINAL_STATUS'
      ? never
      : Specs[K] extends { default: unknown }
        ? never
        : K
    : K;
}[keyof Specs];

type StatusKeys<Specs extends IOSpecs> = {
  [K in keyof Specs]: Specs[K] extends ParameterSpec<'TASK_FINAL_STATUS'> ? K : never;
}[keyof Specs];

export type TaskInputs<Specs extends IOSpecs> = {
  [K in Exclude<RequiredKeys<Specs>, StatusKeys<Specs>>]: InputValue<Specs[K]>;
} & {
  [K in Exclude<keyof Specs, RequiredKeys<Specs> | StatusKeys<Specs>>]?: InputValue<Specs[K]>;
};

/** The references a task's outputs become. */
export type TaskOutputs<Specs extends IOSpecs> = {
  readonly [K in keyof Specs]: Specs[K] extends ParameterSpec<infer T>
    ? ParameterRef<T>
    : Specs[K] extends ArtifactSpec<infer S>
      ? ArtifactRef<S>
      : never;
};

// The pipeline graph the builder records and the compiler walks.

export interface TaskNode {
  readonly kind: 'task';
  /** Unique within the pipeline: the component's name, then -2, -3 … for repeated use. */
  readonly name: string;
  readonly component: import('./component.js').ComponentDefinition;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly group: GroupNode;
  /** Tasks or groups (a loop, a condition) this task runs after, without a data dependency. */
  readonly after: (TaskNode | GroupNode)[];
  options: TaskOptions;
}

export interface TaskOptions {
  displayName?: string;
  caching?: boolean;
  retries?: number;
}

interface GroupBase {
  /** `condition-1`, `for-loop-2`, `exit-handler-3`: numbered in creation order, as the KFP SDK does. */
  readonly name: string;
  readonly parent: GroupNode | undefined;
  readonly children: (TaskNode | GroupNode)[];
}

export interface RootGroupNode extends GroupBase {
  readonly kind: 'root';
}

export interface Comparison {
  readonly kind: 'comparison';
  readonly ref: ParameterRef;
  readonly op: '==' | '!=';
  readonly value: string | number | boolean;
}

export interface ConditionGroupNode extends GroupBase {
  readonly kind: 'condition';
  readonly condition: ParameterRef<'BOOLEAN'> | Comparison;
  /** The `otherwise` branch: runs when `condition` does not hold (`dsl.Else`, compiled as `!(…)`). */
  readonly negated: boolean;
  // An `otherwise` renames the `when` group and moves it into the branches group, as the SDK does.
  name: string;
  parent: GroupNode | undefined;
}

/**
 * A `when` with an `otherwise`: the two condition groups side by side in one sub-DAG, as the KFP SDK
 * wraps `dsl.If` / `dsl.Else` (`condition-branches-N`).
 */
export interface ConditionBranchesGroupNode extends GroupBase {
  readonly kind: 'condition-branches';
}

export interface LoopGroupNode extends GroupBase {
  readonly kind: 'loop';
  readonly items: ParameterRef<'LIST'> | readonly unknown[];
  readonly parallelism: number | undefined;
}

export interface ExitHandlerGroupNode extends GroupBase {
  readonly kind: 'exit-handler';
  exitTask: TaskNode | undefined;
}

export type GroupNode = RootGroupNode | ConditionGroupNode | ConditionBranchesGroupNode | LoopGroupNode | ExitHandlerGroupNode;

/**
 * The run's id, as a constant the backend fills (KFP SDK `dsl.PIPELINE_JOB_ID_PLACEHOLDER`; 2.17's
 * driver replaces it in a runtime constant, resolve.go). Used as an input's default, the compiler binds it.
 */
export const PIPELINE_JOB_ID = '{{$.pipeline_job_uuid}}';

export function isRef(value: unknown): value is ParameterRef | ArtifactRef {
  return typeof value === 'object' && value !== null && 'kind' in value && (value.kind === 'parameter-ref' || value.kind === 'artifact-ref');
}
