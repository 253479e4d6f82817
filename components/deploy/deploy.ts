/**
 * One deploy: put a release in service on a target, then (and only then) record it in
 * `serving/current.json`. On Kubernetes the record follows a complete rollout; locally the record is
 * the switch itself (the local search service watches it and hot-swaps). Deploying what is already
 * in service changes nothing and says so.
 */
import type { ArtifactStore, Logger } from '../core/platform/index.js';
import { readServingRecord, SERVING_KEY, type ServingRecord } from '../core/contracts/index.js';
import type { DeploymentApi } from './kube-api.js';
import { rollOut, type KubernetesTarget, type RolloutOutcome } from './kubernetes.js';
import { describeRelease, servesRelease, type Release } from './release.js';
import { writeServingRecord } from './serving-record.js';

export type Target = { kind: 'local' } | ({ kind: 'kubernetes'; api: DeploymentApi } & KubernetesTarget);

export interface DeploySummary {
  target: 'local' | 'kubernetes';
  /** `deployed`: something changed; `unchanged`: the release was already in service everywhere. */
  outcome: 'deployed' | 'unchanged';
  model: Release['model'];
  index: Release['index'] | null;
  snapshotId: string;
  deployment?: {
    namespace: string;
    name: string;
    container: string;
    patched: boolean;
    generation: number;
    previous: RolloutOutcome['previous'];
  };
  servingRecord: { key: string; uri: string; changed: boolean; previous: { model: string; index: string | null } | null };
  message: string;
}

export async function deploy(options: { store: ArtifactStore; log: Logger; release: Release; target: Target }): Promise<DeploySummary> {
  const { store, log, release, target } = options;
  const before = await readServingRecord(store);
  let rollout: RolloutOutcome | undefined;
  if (target.kind === 'kubernetes') rollout = await rollOut(target.api, target, release, log);

  const recordChanged = !servesRelease(before, release);
  if (recordChanged) await writeServingRecord(store, release);
  const changed = recordChanged || (rollout?.patched ?? false);
  const changes = [
    ...(rollout?.patched && target.kind === 'kubernetes' ? [`patched ${target.namespace}/${target.deployment}`] : []),
    ...(recordChanged ? [`switched ${SERVING_KEY}`] : []),
  ];
  const message = changed
    ? `deployed ${describeRelease(release)} (${changes.join(', ')})`
    : `no-op: ${describeRelease(release)} is already in service`;
  log.info(message);
  return {
    target: target.kind,
    outcome: changed ? 'deployed' : 'unchanged',
    model: release.model,
    index: release.index ?? null,
    snapshotId: release.snapshotId,
    ...(rollout && target.kind === 'kubernetes'
      ? {
          deployment: {
            namespace: target.namespace,
            name: target.deployment,
            container: rollout.container,
            patched: rollout.patched,
            generation: rollout.generation,
            previous: rollout.previous,
          },
        }
      : {}),
    servingRecord: { key: SERVING_KEY, uri: store.uri(SERVING_KEY), changed: recordChanged, previous: previousOf(before) },
    message,
  };
}

const previousOf = (record: ServingRecord | null) =>
  record ? { model: record.model.version, index: record.index?.version ?? null } : null;
