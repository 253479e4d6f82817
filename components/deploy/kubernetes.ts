/**
 * Rolling the search service's Deployment to a release: patch the container's MODEL_VERSION and
 * INDEX_VERSION (plus annotations that say why), wait until every replica runs the new pod template
 * and is available, and roll back to the previous pod template when the rollout fails or misses its
 * deadline. Conflicting writes (409) are retried on a fresh read; a Deployment that already runs the
 * release is left alone.
 */
import type { V1Container, V1Deployment, V1EnvVar, V1PodTemplateSpec } from '@kubernetes/client-node';
import { errorMessage, InputError, type Logger } from '../core/platform/index.js';
import { KubeConflictError, type DeploymentApi, type JsonPatchOperation } from './kube-api.js';
import { describeRelease, type Release } from './release.js';
import { rolloutState, type RolloutState } from './rollout-status.js';

export const MODEL_ENV = 'MODEL_VERSION';
export const INDEX_ENV = 'INDEX_VERSION';
export const ANNOTATIONS = {
  model: 'marketplace.io/model-version',
  index: 'marketplace.io/index-version',
  snapshot: 'marketplace.io/snapshot-id',
} as const;
const CHANGE_CAUSE = 'kubernetes.io/change-cause';
const REVISION = 'deployment.kubernetes.io/revision';
const POD_TEMPLATE_HASH = 'pod-template-hash';

export interface KubernetesTarget {
  namespace: string;
  deployment: string;
  /** The search container; by default the only one, or the one named like the Deployment. */
  container?: string;
  timeoutMs: number;
  pollMs: number;
  /** Attempts at a write that keeps meeting 409 Conflict. */
  conflictAttempts?: number;
}

export interface RolloutOutcome {
  /** Whether this run changed the Deployment (false: it already ran the release). */
  patched: boolean;
  container: string;
  generation: number;
  /** What the container ran before. */
  previous: { modelVersion: string | null; indexVersion: string | null };
  message: string;
}

/** The rollout failed; the Deployment was rolled back (or could not be: see the message). */
export class RolloutFailedError extends Error {
  override name = 'RolloutFailedError';
  constructor(
    message: string,
    readonly rollback: { attempted: boolean; complete: boolean; revision: string | null },
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A plain JSON copy of a client model object (what a patch body must hold). */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function containerIndex(deployment: V1Deployment, wanted: string | undefined): number {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  const name = deployment.metadata?.name;
  const names = containers.map((container) => container.name);
  const index = wanted !== undefined ? names.indexOf(wanted) : containers.length === 1 ? 0 : names.indexOf(name ?? '');
  if (index < 0) {
    throw new InputError(
      wanted !== undefined
        ? `Deployment ${name} has no container '${wanted}' (it has ${names.join(', ') || 'none'})`
        : `Deployment ${name} has several containers (${names.join(', ')}): name the search one with --container`,
    );
  }
  return index;
}

const envValue = (container: V1Container | undefined, name: string) =>
  container?.env?.find((variable) => variable.name === name)?.value ?? null;

/** Whether the pod template already runs the release. */
function runsRelease(deployment: V1Deployment, container: V1Container | undefined, release: Release): boolean {
  return (
    envValue(container, MODEL_ENV) === release.model.version &&
    envValue(container, INDEX_ENV) === (release.index?.version ?? null) &&
    deployment.spec?.template.metadata?.annotations?.[ANNOTATIONS.snapshot] === release.snapshotId
  );
}

/** The container's env with the release's versions in place (other variables kept, in order). */
function releaseEnv(container: V1Container, release: Release): V1EnvVar[] {
  const wanted = new Map<string, string | undefined>([
    [MODEL_ENV, release.model.version],
    [INDEX_ENV, release.index?.version],
  ]);
  const env: V1EnvVar[] = [];
  for (const variable of plain(container.env ?? [])) {
    if (!wanted.has(variable.name)) env.push(variable);
    else {
      const value = wanted.get(variable.name);
      if (value !== undefined) env.push({ name: variable.name, value });
      wanted.delete(variable.name);
    }
  }
  for (const [name, value] of wanted) if (value !== undefined) env.push({ name, value });
  return env;
}

/**
 * The patch that moves the Deployment to the release. `replace /metadata/resourceVersion` makes it
 * conditional: the API server answers 409 when the Deployment changed since it was read.
 */
function releasePatch(deployment: V1Deployment, index: number, release: Release): JsonPatchOperation[] {
  const container = deployment.spec?.template.spec?.containers[index];
  if (!container) throw new Error(`container ${index} vanished`);
  const templateAnnotations = {
    ...plain(deployment.spec?.template.metadata?.annotations ?? {}),
    [ANNOTATIONS.model]: release.model.version,
    [ANNOTATIONS.index]: release.index?.version ?? '',
    [ANNOTATIONS.snapshot]: release.snapshotId,
  };
  const operations: JsonPatchOperation[] = [
    { op: 'test', path: `/spec/template/spec/containers/${index}/name`, value: container.name },
    { op: 'replace', path: '/metadata/resourceVersion', value: deployment.metadata?.resourceVersion },
    { op: 'add', path: `/spec/template/spec/containers/${index}/env`, value: releaseEnv(container, release) },
    deployment.spec?.template.metadata
      ? { op: 'add', path: '/spec/template/metadata/annotations', value: templateAnnotations }
      : { op: 'add', path: '/spec/template/metadata', value: { annotations: templateAnnotations } },
    changeCause(deployment, `deploy: ${describeRelease(release)}, snapshot ${release.snapshotId}`),
  ];
  return operations;
}

/** `kubectl rollout history` shows this annotation against each revision. */
function changeCause(deployment: V1Deployment, cause: string): JsonPatchOperation {
  return { op: 'add', path: '/metadata/annotations', value: { ...plain(deployment.metadata?.annotations ?? {}), [CHANGE_CAUSE]: cause } };
}

/** Runs a write, again on a fresh read, while the API server answers 409 Conflict. */
async function retryConflicts<T>(attempts: number, log: Logger, what: string, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof KubeConflictError) || attempt >= attempts) throw error;
      log.warn(
        `${what}: conflict (409), the Deployment changed meanwhile; retrying on a fresh read (attempt ${attempt + 1} of ${attempts})`,
      );
      await sleep(Math.min(100 * 2 ** (attempt - 1), 2000));
    }
  }
}

/** Polls the Deployment's status until the rollout of `generation` completes, fails, or the deadline passes. */
async function waitForRollout(api: DeploymentApi, target: KubernetesTarget, generation: number, log: Logger): Promise<RolloutState> {
  const deadline = Date.now() + target.timeoutMs;
  let last = '';
  for (;;) {
    const state = rolloutState(await api.readStatus(target.namespace, target.deployment), generation);
    if (state.message !== last) log.info(`rollout of ${target.namespace}/${target.deployment}: ${state.message}`);
    last = state.message;
    if (state.phase !== 'progressing') return state;
    if (Date.now() >= deadline) return { phase: 'failed', message: `not complete after ${target.timeoutMs / 1000} s (${state.message})` };
    await sleep(Math.min(target.pollMs, Math.max(0, deadline - Date.now())));
  }
}

/** The pod template of the revision before the Deployment's current one, from its ReplicaSets. */
async function previousRevisionTemplate(
  api: DeploymentApi,
  deployment: V1Deployment,
): Promise<{ template: V1PodTemplateSpec; revision: string } | null> {
  const current = Number(deployment.metadata?.annotations?.[REVISION] ?? NaN);
  const labels = deployment.spec?.selector.matchLabels ?? {};
  const selector = Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  const owned = (await api.listReplicaSets(deployment.metadata?.namespace ?? '', selector)).filter((replicaSet) =>
    replicaSet.metadata?.ownerReferences?.some((owner) => owner.uid === deployment.metadata?.uid),
  );
  let best: { template: V1PodTemplateSpec; revision: number } | null = null;
  for (const replicaSet of owned) {
    const revision = Number(replicaSet.metadata?.annotations?.[REVISION] ?? NaN);
    const template = replicaSet.spec?.template;
    if (!template || !Number.isFinite(revision) || !(revision < current)) continue;
    if (!best || revision > best.revision) best = { template, revision };
  }
  if (!best) return null;
  // The controller adds pod-template-hash to its ReplicaSets' templates; a Deployment's template has none.
  const template = plain(best.template);
  if (template.metadata?.labels) delete template.metadata.labels[POD_TEMPLATE_HASH];
  return { template, revision: String(best.revision) };
}

/** Puts `template` back and waits for that rollout: what `kubectl rollout undo` does. */
async function rollBack(
  api: DeploymentApi,
  target: KubernetesTarget,
  template: V1PodTemplateSpec,
  reason: string,
  log: Logger,
): Promise<{ complete: boolean; message: string }> {
  const rolledBack = await retryConflicts(target.conflictAttempts ?? 5, log, 'rollback', async () => {
    const deployment = await api.read(target.namespace, target.deployment);
    return api.patch(target.namespace, target.deployment, [
      { op: 'replace', path: '/spec/template', value: template },
      changeCause(deployment, `deploy: rolled back (${reason})`),
    ]);
  });
  const state = await waitForRollout(api, target, rolledBack.metadata?.generation ?? 0, log);
  return { complete: state.phase === 'complete', message: state.message };
}

export async function rollOut(api: DeploymentApi, target: KubernetesTarget, release: Release, log: Logger): Promise<RolloutOutcome> {
  const where = `${target.namespace}/${target.deployment}`;
  const { deployment, patched, previousTemplate, container, previous } = await retryConflicts(
    target.conflictAttempts ?? 5,
    log,
    `patch of ${where}`,
    async () => {
      const current = await api.read(target.namespace, target.deployment);
      const index = containerIndex(current, target.container);
      const spec = current.spec?.template.spec?.containers[index];
      const before = { modelVersion: envValue(spec, MODEL_ENV), indexVersion: envValue(spec, INDEX_ENV) };
      const name = spec?.name ?? '';
      if (runsRelease(current, spec, release)) {
        return { deployment: current, patched: false, previousTemplate: undefined, container: name, previous: before };
      }
      log.info(
        `patching ${where} (container ${name}): ${describeRelease(release)} (was model ${before.modelVersion ?? 'none'}, index ${before.indexVersion ?? 'none'})`,
      );
      const updated = await api.patch(target.namespace, target.deployment, releasePatch(current, index, release));
      return {
        deployment: updated,
        patched: true,
        previousTemplate: current.spec ? plain(current.spec.template) : undefined,
        container: name,
        previous: before,
      };
    },
  );
  const generation = deployment.metadata?.generation ?? 0;
  if (!patched) log.info(`${where} already runs ${describeRelease(release)}: nothing to patch; checking its rollout`);
  const state = await waitForRollout(api, target, generation, log);
  if (state.phase === 'complete') {
    return {
      patched,
      container,
      generation,
      previous,
      message: patched ? `rolled ${where} to ${describeRelease(release)}` : `${where} already serves ${describeRelease(release)}`,
    };
  }

  log.error(`rollout of ${where} failed: ${state.message}; rolling back`);
  const fallback = previousTemplate ? { template: previousTemplate, revision: null } : await previousRevisionTemplate(api, deployment);
  if (!fallback) {
    throw new RolloutFailedError(
      `rollout of ${where} to ${describeRelease(release)} failed (${state.message}) and no previous revision exists to roll back to`,
      {
        attempted: false,
        complete: false,
        revision: null,
      },
    );
  }
  let rollback: Awaited<ReturnType<typeof rollBack>>;
  try {
    rollback = await rollBack(api, target, fallback.template, state.message, log);
  } catch (error) {
    throw new RolloutFailedError(`rollout of ${where} failed (${state.message}); the rollback failed too: ${errorMessage(error)}`, {
      attempted: true,
      complete: false,
      revision: fallback.revision,
    });
  }
  throw new RolloutFailedError(
    `rollout of ${where} to ${describeRelease(release)} failed (${state.message}); rolled back to the previous pod template` +
      (rollback.complete ? ', which is available again' : `, whose rollout is not complete either (${rollback.message})`),
    { attempted: true, complete: rollback.complete, revision: fallback.revision },
  );
}
