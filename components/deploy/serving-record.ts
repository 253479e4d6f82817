/**
 * Writing `serving/current.json`, the production record (contract in core/serving.ts). One object,
 * put whole: the folder store renames a finished temporary file into place and S3 replaces an object
 * in one request, so a reader (the search service polling it, evaluate, drift) sees the old record or
 * the new one, never a mix.
 */
import type { ArtifactStore } from '../core/platform/index.js';
import { SERVING_KEY, ServingRecord } from '../core/contracts/index.js';
import type { Release } from './release.js';

export async function writeServingRecord(store: ArtifactStore, release: Release, deployedAt: Date = new Date()): Promise<ServingRecord> {
  const record = ServingRecord.parse({ ...release, deployedAt: deployedAt.toISOString() });
  await store.put(SERVING_KEY, `${JSON.stringify(record, null, 2)}\n`, { contentType: 'application/json' });
  return record;
}
