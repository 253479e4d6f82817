/**
 * `serving/current.json`: what is in production. deploy writes it only after a successful rollout;
 * evaluate compares new models with the one it names, drift compares new listings with that model's
 * training profile. Absent means nothing is in production yet.
 */
import { z } from 'zod';
import type { ArtifactStore } from '../platform/artifacts/index.js';
import { InputError, NotFoundError } from '../platform/errors.js';

export const SERVING_KEY = 'serving/current.json';

export const ServingRecord = z.object({
  model: z.object({
    version: z.string(),
    /** Key of the model folder in the artifact store (`models/<version>`). */
    key: z.string(),
  }),
  index: z.object({ version: z.string(), key: z.string() }).optional(),
  snapshotId: z.string(),
  deployedAt: z.string(),
});
export type ServingRecord = z.infer<typeof ServingRecord>;

/** The production record, or null when nothing was ever deployed. A malformed record is an error, not "none". */
export async function readServingRecord(store: ArtifactStore): Promise<ServingRecord | null> {
  let text: string;
  try {
    text = (await store.get(SERVING_KEY)).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`${store.uri(SERVING_KEY)} is not JSON`);
  }
  const parsed = ServingRecord.safeParse(json);
  if (!parsed.success) throw new InputError(`${store.uri(SERVING_KEY)} is not a serving record: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
