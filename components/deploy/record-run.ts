/**
 * The pipeline's exit handler: how the run ended, kept in the artifact store as
 * `runs/<run id>/status.json`, so an operator (and the dashboard) can see how each scheduled run
 * ended without the Kubeflow UI.
 *
 * The outcome is verified, not taken from the final status alone. What KFP 2.17 passes as the exit
 * task's final status (driver resolve.go) is the ML Metadata state of the exit handler's DAG
 * (`COMPLETE`, `FAILED`, `RUNNING`, `CANCELED`), with `pipelineTaskName` always the exit handler and
 * `error` always empty; and a DAG's state moves only when a launcher finishes under it, so a run with a
 * skipped branch or a cache hit (every run of this pipeline: one branch of each if/else is skipped) is
 * still `RUNNING`. So: FAILED or CANCELED is a failure; otherwise the run succeeded only if its deploy
 * step recorded, for this run id, the release it put in service (`runs/<run id>/deployed.json`: every
 * successful run of the pipeline ends with a deploy, retrained or not).
 */
import { z } from 'zod';
import { InputError, NotFoundError, type ArtifactStore } from '../core/platform/index.js';

export const FinalStatus = z.object({
  state: z.string().min(1),
  pipelineJobResourceName: z.string().optional(),
  pipelineTaskName: z.string().optional(),
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
});
export type FinalStatus = z.infer<typeof FinalStatus>;

/** What deploy records for its run: the release it put in service, and whether the model is new. */
export const DeployedRecord = z.object({
  runId: z.string(),
  model: z.string(),
  index: z.string().nullable(),
  snapshotId: z.string(),
  outcome: z.enum(['deployed', 'unchanged']),
  deployedAt: z.string(),
});
export type DeployedRecord = z.infer<typeof DeployedRecord>;

export function parseFinalStatus(text: string): FinalStatus {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`--status is not JSON: ${text.slice(0, 80)}`);
  }
  const parsed = FinalStatus.safeParse(json);
  if (!parsed.success) throw new InputError(`--status is not a task final status: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** A run id as one key segment (`projects/…/runs/<id>` and odd characters reduced). */
function runSegment(runId: string): string {
  const last = runId.split('/').filter(Boolean).pop() ?? runId;
  return last.replace(/[^A-Za-z0-9._=+@,-]/g, '-').replace(/^\.+/, '_');
}

export const runStatusKey = (runId: string) => `runs/${runSegment(runId)}/status.json`;
export const runDeployedKey = (runId: string) => `runs/${runSegment(runId)}/deployed.json`;

/** Deploy's half: the release this run put in service. */
export async function recordDeployed(store: ArtifactStore, record: DeployedRecord): Promise<string> {
  const key = runDeployedKey(record.runId);
  await store.put(key, `${JSON.stringify(record, null, 2)}\n`, { contentType: 'application/json' });
  return key;
}

async function readDeployed(store: ArtifactStore, runId: string): Promise<DeployedRecord | null> {
  let text: string;
  try {
    text = (await store.get(runDeployedKey(runId))).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
  const parsed = DeployedRecord.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}

export interface RunOutcome {
  runId: string;
  outcome: 'succeeded' | 'failed';
  reason: string;
  deployed: DeployedRecord | null;
  finalStatus: FinalStatus;
  recordedAt: string;
}

export async function recordRun(
  store: ArtifactStore,
  runId: string,
  status: FinalStatus,
  now: Date = new Date(),
): Promise<RunOutcome & { key: string; uri: string }> {
  if (!runId.trim()) throw new InputError('--run-id is empty: the pipeline binds it to {{$.pipeline_job_uuid}}');
  const deployed = await readDeployed(store, runId);
  const failedState = status.state === 'FAILED' || status.state === 'CANCELED' || status.state === 'CANCELLED';
  const outcome: RunOutcome = failedState
    ? {
        runId,
        outcome: 'failed',
        reason: `the run's tasks ended ${status.state}${status.error?.message ? `: ${status.error.message}` : ''}`,
        deployed,
        finalStatus: status,
        recordedAt: now.toISOString(),
      }
    : deployed
      ? {
          runId,
          outcome: 'succeeded',
          reason: `${deployed.outcome === 'deployed' ? 'put in service' : 'kept in service'}: model ${deployed.model}, index ${deployed.index ?? '(none)'} of snapshot ${deployed.snapshotId}`,
          deployed,
          finalStatus: status,
          recordedAt: now.toISOString(),
        }
      : {
          runId,
          outcome: 'failed',
          reason: `no deploy recorded for run ${runId} (final state ${status.state}): the run ended without putting its snapshot in service`,
          deployed,
          finalStatus: status,
          recordedAt: now.toISOString(),
        };
  const key = runStatusKey(runId);
  await store.put(key, `${JSON.stringify(outcome, null, 2)}\n`, { contentType: 'application/json' });
  return { ...outcome, key, uri: store.uri(key) };
}
