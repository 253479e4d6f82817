/**
 * Which KFP backend release runs which construct. The IR a pipeline compiles to is the same for every
 * 2.x backend, but what a backend does with it is not: an older release's Argo compiler or driver
 * refuses some constructs, and silently drops others (a retry count, a parallelism limit), which is
 * worse. So the compiler is told the release the cluster runs (`kfpVersion`, default 2.17.0) and
 * refuses, naming each construct, where it is used and the first release that runs it, a pipeline
 * that release cannot run.
 *
 * Evidence is the release's own source, read from the kubeflow/pipelines repository at its tag
 * (paths under backend/src/v2/ unless said). The backend has no releases between 2.5.0 and 2.14.0:
 * VERSION went 2.5.0 (d07cf1c7f9) -> 2.14.0 (f866b071b2, "chore(release): bumped version to 2.14.0")
 * to align with the SDK, so "first in 2.14.0" means "after 2.5.0".
 */
import { z } from 'zod';
import type { Graph, GroupNode, TaskNode } from '../graph.js';
import { PipelineCompileError } from './errors.js';

/** The release the marketplace cluster runs (issue #18). */
export const DEFAULT_KFP_VERSION = '2.17.0';

/** A backend release, `major.minor.patch` (no `v`, no pre-release: those are not in the table). */
export const KfpVersion = z.string().regex(/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/, 'a KFP release is major.minor.patch, e.g. 2.17.0');

type Release = readonly [number, number, number];

export function parseKfpVersion(version: string): Release {
  const parsed = KfpVersion.safeParse(version);
  if (!parsed.success)
    throw new PipelineCompileError(`kfpVersion '${version}' is not a KFP release: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  const [major, minor, patch] = parsed.data.split('.').map(Number) as [number, number, number];
  return [major, minor, patch];
}

function atLeast(version: Release, minimum: Release): boolean {
  for (let i = 0; i < 3; i++) if (version[i] !== minimum[i]) return version[i]! > minimum[i]!;
  return true;
}

export interface Construct {
  readonly id: string;
  /** What the construct is, as an error names it. */
  readonly description: string;
  /** The first backend release that runs it. */
  readonly minimum: string;
  /** Where the pipeline uses it ("task 'record-run'", "for-loop-2"): empty when it does not. */
  uses(graph: Graph): string[];
}

// --- helpers over the recorded graph (the compiler's own are private to compile.ts) ---

function ancestors(group: GroupNode): GroupNode[] {
  const out: GroupNode[] = [];
  for (let g: GroupNode | undefined = group; g; g = g.parent) out.push(g);
  return out;
}

/** The node standing for `node` among the children of `group`: itself, or the child group holding it. */
function childOf(group: GroupNode, node: TaskNode | GroupNode): TaskNode | GroupNode | undefined {
  for (let current: TaskNode | GroupNode = node; ; ) {
    const parent: GroupNode | undefined = current.kind === 'task' ? current.group : current.parent;
    if (parent === group) return current;
    if (!parent) return undefined;
    current = parent;
  }
}

function descendantGroups(group: GroupNode): GroupNode[] {
  return group.children.flatMap((c) => (c.kind === 'task' ? [] : [c, ...descendantGroups(c)]));
}

function exitTasksWithStatus(graph: Graph): { task: TaskNode; handler: GroupNode }[] {
  return graph.groups.flatMap((handler) =>
    handler.kind === 'exit-handler' &&
    handler.exitTask &&
    Object.values(handler.exitTask.component.inputs).some((io) => io.kind === 'parameter' && io.type === 'TASK_FINAL_STATUS')
      ? [{ task: handler.exitTask, handler }]
      : [],
  );
}

function tasksWithEnvFrom(graph: Graph): TaskNode[] {
  return graph.tasks.filter((t) => (t.component.platform?.secretEnv?.length ?? 0) + (t.component.platform?.configMapEnv?.length ?? 0) > 0);
}

/** The run placeholders the driver fills in a runtime constant (driver.go / resolve.go, see below). */
const RUN_PLACEHOLDERS = new Set([
  '{{$.pipeline_job_name}}',
  '{{$.pipeline_job_resource_name}}',
  '{{$.pipeline_job_uuid}}',
  '{{$.pipeline_task_name}}',
  '{{$.pipeline_task_uuid}}',
]);

export const CONSTRUCTS: readonly Construct[] = [
  {
    // The v2 IR (PipelineSpec) is what 2.x backends run; 1.x run Argo workflows compiled by the v1 SDK.
    id: 'v2-ir',
    description: 'a KFP v2 pipeline spec (IR)',
    minimum: '2.0.0',
    uses: () => ['the pipeline'],
  },
  {
    // 2.0.0 … 2.5.0, compiler/argocompiler/dag.go (2.3.0 l.483, 2.5.0 l.629):
    //   case *pipelinespec.TaskInputsSpec_InputParameterSpec_TaskFinalStatus_:
    //       return wrap(fmt.Errorf("task final status not supported yet"))
    // Removed, and driver/resolve.go taught to fill PipelineTaskFinalStatus, by #11953 (0d857b6f8a,
    // 2025-06-06), first in tag 2.14.0 (resolve.go l.412).
    id: 'task-final-status',
    description: "an exit task's taskFinalStatus input",
    minimum: '2.14.0',
    uses: (graph) => exitTasksWithStatus(graph).map(({ task, handler }) => `task '${task.name}' (exit task of ${handler.name})`),
  },
  {
    // Before 2.17.0 only a container task's immediate parent DAG was marked done; sub-DAGs (ParallelFor,
    // If/Else) never propagated their state up, so "ExitHandler groups get stuck as Running" and the
    // final status is wrong. Fixed by #13322 (5d44be17a2, metadata/client.go UpdateDAGExecutionsState,
    // "recursive DAG execution state propagation"), first in tag 2.17.0.
    id: 'final-status-over-sub-dags',
    description: 'the final status of an exit handler whose body holds loops or conditions',
    minimum: '2.17.0',
    uses: (graph) =>
      exitTasksWithStatus(graph).flatMap(({ handler }) => {
        const inner = descendantGroups(handler).map((g) => g.name);
        return inner.length > 0 ? [`${handler.name} (holds ${inner.join(', ')})`] : [];
      }),
  },
  {
    // `.after(loop)` compiles to dependentTasks naming the loop group, which the Argo compiler turns into
    // `depends: "<loop>.Succeeded"`. 2.3.0 compiler/argocompiler/dag.go iteratorTask emits no Argo task of
    // that name, only `<loop>-driver` and `<loop>-iterations` (l.272, l.317); 2.4.0 wraps them in
    // `<loop>-loop` (#10798). #11627 (f7c0616db7, "parallelFor resolve upstream inputs") names the
    // wrapper `<loop>` itself; cherry-picked into 2.4.1 (#11716, 78fab71ef1; 2.4.1 dag.go iteratorTask
    // `Name: name`), as 2.5.0 … 2.17.0 still do.
    id: 'after-loop',
    description: 'a task that runs .after() a parallelFor loop',
    minimum: '2.4.1',
    uses: (graph) =>
      graph.tasks.flatMap((task) =>
        task.after.flatMap((before) => {
          const beforeGroup = before.kind === 'task' ? before.group : before.parent;
          const common = beforeGroup && ancestors(task.group).find((g) => ancestors(beforeGroup).includes(g));
          const producer = common && childOf(common, before);
          return producer?.kind === 'loop' ? [`task '${task.name}' (after ${producer.name})`] : [];
        }),
      ),
  },
  {
    // Any condition, including an otherwise branch (`!(…)` in a condition-branches sub-DAG): the driver
    // evaluates triggerPolicy.condition as CEL (2.0.0 driver/driver.go l.255, expression/expression.go
    // Condition, cel-go; `!` is core CEL) and the Argo compiler runs a condition-branches group as an
    // ordinary DAG task. expression/ has had only dependency bumps since. At least since 2.0.0.
    id: 'otherwise',
    description: 'an otherwise() branch (negated CEL condition in a condition-branches group)',
    minimum: '2.0.0',
    uses: (graph) => graph.groups.filter((g) => g.kind === 'condition' && g.negated).map((g) => g.name),
  },
  {
    // iteratorPolicy.parallelismLimit: first read by the Argo compiler in #10798 (b7d8c97d65, dag.go
    // iteratorTask `loopTmpl.Parallelism`), first in tag 2.4.0. 2.3.0 never reads it: every
    // iteration runs at once.
    id: 'parallelism',
    description: 'a parallelFor parallelism limit (iteratorPolicy)',
    minimum: '2.4.0',
    uses: (graph) => graph.groups.filter((g) => g.kind === 'loop' && g.parallelism).map((g) => g.name),
  },
  {
    // retryPolicy: no backend code reads it in 2.4.0 (`git grep RetryPolicy backend/src/v2` is empty):
    // retries are dropped. #11673 (30210e33bf, cherry-picked into 2.4.1 by #11716; 2.4.1
    // argocompiler/container.go l.461, 2.5.0 l.508) reads it in getTaskRetryPolicySpec from
    // `c.spec.Root.GetDag().Tasks[name]` only, so a task inside a loop or a condition still gets none;
    // 2.14.0 (#11861 9245739f6f, #11908 beae62fb52) reads the task's own task.GetRetryPolicy() in any
    // DAG (container.go l.325).
    id: 'retry-root',
    description: 'a retry policy on a task of the root DAG',
    minimum: '2.4.1',
    uses: (graph) =>
      graph.tasks.filter((t) => (t.options.retries ?? t.component.retries) && t.group.kind === 'root').map((t) => `task '${t.name}'`),
  },
  {
    id: 'retry-nested',
    description: 'a retry policy on a task inside a loop, condition or exit handler',
    minimum: '2.14.0',
    uses: (graph) =>
      graph.tasks
        .filter((t) => (t.options.retries ?? t.component.retries) && t.group.kind !== 'root')
        .map((t) => `task '${t.name}' (in ${t.group.name})`),
  },
  {
    // The compiler writes secretNameParameter / configMapNameParameter beside the deprecated
    // secretName / configMapName (same constant). kubernetes_platform/proto/kubernetes_executor_config.proto
    // gains secret_name_parameter = 4 and config_map_name_parameter = 3 in tag 2.5.0; 2.3.0 … 2.4.1 build
    // against kubernetes_platform d911c8b73b (go.mod pseudo-version 20240725205754), which lacks them.
    // 2.3.0 and 2.4.0's driver parse the config with strict jsonpb (cmd/driver/main.go l.138
    // jsonpb.UnmarshalString): "unknown field", the task fails. 2.4.1's driver allows unknown fields
    // (#11662 cherry-picked by #11716: common/util/json.go UnmarshalString AllowUnknownFields), drops
    // them and reads the deprecated name, which says the same: it runs. 2.5.0 knows them.
    id: 'k8s-name-parameter',
    description: 'Kubernetes secretAsEnv/configMapAsEnv with secretNameParameter/configMapNameParameter',
    minimum: '2.4.1',
    uses: (graph) => tasksWithEnvFrom(graph).map((t) => `task '${t.name}'`),
  },
  {
    // The compiler always writes `optional` on secretAsEnv/configMapAsEnv. The proto gains
    // `optional bool optional` on SecretAsEnv (= 3) and ConfigMapAsEnv (= 4) in tag 2.15.0. 2.14.0's
    // Argo compiler parses the config with strict protojson (argocompiler/container.go l.285
    // "failed to unmarshal kubernetes config"), so the run is refused; 2.3.0/2.4.0's strict driver
    // refuses it too. 2.4.1 and 2.5.0 drop unknown fields (driver) or ignore the parse error (Argo
    // compiler, container.go `if err == nil`), so `optional: false` would pass unseen there and
    // `optional: true` would not be honoured: we do not rely on that gap and ask for 2.15.0.
    id: 'k8s-env-optional',
    description: 'Kubernetes secretAsEnv/configMapAsEnv with optional',
    minimum: '2.15.0',
    uses: (graph) => tasksWithEnvFrom(graph).map((t) => `task '${t.name}'`),
  },
  {
    // A run placeholder as a runtime constant (an input, or a default the compiler binds): 2.4.0's
    // driver passes constants through unchanged (driver.go l.1248), so the component gets the literal
    // "{{$.pipeline_job_uuid}}". #11599 (6a13f4bad0) fills them (2.5.0 driver.go l.1648; 2.17.0
    // driver/resolve.go l.440), first in tag 2.5.0.
    id: 'run-placeholder',
    description: 'a run placeholder ({{$.pipeline_job_uuid}} …) as an input value',
    minimum: '2.5.0',
    uses: (graph) =>
      graph.tasks.flatMap((t) => {
        const keys = Object.entries(t.component.inputs)
          .filter(([key, io]) => {
            const value = t.inputs[key] ?? (io.kind === 'parameter' ? io.default : undefined);
            return typeof value === 'string' && RUN_PLACEHOLDERS.has(value);
          })
          .map(([key]) => key);
        return keys.length > 0 ? [`task '${t.name}' (input ${keys.join(', ')})`] : [];
      }),
  },
];

export interface UnsupportedConstruct {
  construct: Construct;
  uses: string[];
}

/** The constructs `graph` uses that release `version` cannot run (empty: it can run the pipeline). */
export function unsupportedConstructs(graph: Graph, version: string): UnsupportedConstruct[] {
  const release = parseKfpVersion(version);
  return CONSTRUCTS.filter((c) => !atLeast(release, parseKfpVersion(c.minimum)))
    .map((construct) => ({ construct, uses: construct.uses(graph) }))
    .filter((u) => u.uses.length > 0);
}

/**
 * Refuses (PipelineCompileError) a pipeline the target release cannot run, or a malformed version;
 * `undefined` targets DEFAULT_KFP_VERSION. Nothing of the target goes into the spec.
 */
export function checkTarget(pipelineName: string, graph: Graph, kfpVersion: string | undefined): void {
  const version = kfpVersion ?? DEFAULT_KFP_VERSION;
  const unsupported = unsupportedConstructs(graph, version);
  if (unsupported.length === 0) return;
  const lines = unsupported.map(
    ({ construct, uses }) => `  - ${construct.description} (needs KFP >= ${construct.minimum}): ${uses.join('; ')}`,
  );
  throw new PipelineCompileError(`pipeline ${pipelineName} cannot run on KFP ${version}:\n${lines.join('\n')}`);
}
