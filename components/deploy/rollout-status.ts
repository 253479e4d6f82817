/**
 * Where a Deployment's rollout stands, read from its status the way `kubectl rollout status` reads
 * it: the controller must have seen the new generation, every replica must run the new template, no
 * old replica may be left, and every new replica must be available (ready for minReadySeconds).
 */
import type { V1Deployment } from '@kubernetes/client-node';

export type RolloutState =
  | { phase: 'complete'; message: string }
  | { phase: 'progressing'; message: string }
  | { phase: 'failed'; message: string };

export function rolloutState(deployment: V1Deployment, generation: number): RolloutState {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const observed = status.observedGeneration ?? 0;
  if (observed < generation)
    return { phase: 'progressing', message: `waiting for the controller to observe generation ${generation} (seen ${observed})` };
  // The controller gives up on its own after spec.progressDeadlineSeconds: no point waiting longer.
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return { phase: 'failed', message: `progress deadline exceeded: ${progressing.message ?? 'no progress'}` };
  }
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const ready = status.readyReplicas ?? 0;
  if (updated < desired) return { phase: 'progressing', message: `${updated} of ${desired} replicas updated` };
  if (total > updated) return { phase: 'progressing', message: `${total - updated} old replicas pending termination` };
  if (available < updated) return { phase: 'progressing', message: `${available} of ${updated} updated replicas available` };
  if (ready < desired) return { phase: 'progressing', message: `${ready} of ${desired} replicas ready` };
  return { phase: 'complete', message: `${updated} of ${desired} replicas updated and available` };
}
