/**
 * The pipeline graph the recorder (context.ts) builds and the compiler walks: task nodes, the groups
 * that hold them (root, condition, condition branches, loop, exit handler), and the channels between
 * them: references to a pipeline input, a task's output or a loop's item (KFP's pipeline channels).
 * A reference carries its type in the TypeScript type, so wiring a Model output into a Dataset input,
 * or a string into a boolean, does not compile.
 */
import type { ComponentDefinition } from './component-spec.js';
import type { ParameterType, SchemaTitle } from './io.js';

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

export interface TaskNode {
  readonly kind: 'task';
  /** Unique within the pipeline: the component's name, then -2, -3 … for repeated use. */
  readonly name: string;
  readonly component: ComponentDefinition;
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

export interface Graph {
  root: RootGroupNode;
  tasks: TaskNode[];
  groups: GroupNode[];
  /** Raw-list loop items get their own number, as in the KFP SDK (`loop-item-param-3`). */
  loopItemNames: Map<LoopGroupNode, string>;
}

export function isRef(value: unknown): value is ParameterRef | ArtifactRef {
  return (
    typeof value === 'object' && value !== null && 'kind' in value && (value.kind === 'parameter-ref' || value.kind === 'artifact-ref')
  );
}
