/**
 * The pipeline's exit handler: the run's final status (KFP's PipelineTaskFinalStatus: state, job,
 * failed task, error) kept in the artifact store as `runs/<job>/status.json`, so an operator (and the
 * dashboard) can see how each scheduled run ended without the Kubeflow UI.
 */
import { z } from 'zod';
import { InputError, type ArtifactStore } from '../core/index.js';

export const FinalStatus = z.object({
  state: z.string().min(1),
  pipelineJobResourceName: z.string().optional(),
  pipelineTaskName: z.string().optional(),
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
});
export type FinalStatus = z.infer<typeof FinalStatus>;

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

/** `runs/<job>/status.json`; the job's resource name (`projects/…/runs/<id>`) reduced to a key segment. */
export function runStatusKey(status: FinalStatus, now: Date = new Date()): string {
  const job = status.pipelineJobResourceName?.split('/').filter(Boolean).pop() ?? `unnamed-${now.toISOString()}`;
  const segment = job.replace(/[^A-Za-z0-9._=+@,-]/g, '-').replace(/^\.+/, '_');
  return `runs/${segment}/status.json`;
}

export async function recordRun(store: ArtifactStore, status: FinalStatus, now: Date = new Date()): Promise<{ key: string; uri: string; state: string }> {
  const key = runStatusKey(status, now);
  await store.put(key, `${JSON.stringify({ ...status, recordedAt: now.toISOString() }, null, 2)}\n`, { contentType: 'application/json' });
  return { key, uri: store.uri(key), state: status.state };
}
