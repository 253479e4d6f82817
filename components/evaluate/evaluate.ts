/**
 * The evaluate component's work: score the candidate and the production model on the candidate's
 * held-out test split (split.json, written by train), decide, and keep the evidence in the artifact
 * store under `evaluations/<model version>/` (metrics.json, report.html).
 */

import type { ArtifactStore, Logger } from '../core/platform/index.js';
import { MODEL_FILES, MODEL_PREFIX, openPublished, readServingRecord, SplitFile } from '../core/contracts/index.js';
import { readEvaluationCorpus } from './corpus.js';
import { decide, headline, type Verdict } from './gate.js';
import { evaluationReport } from './report.js';
import { scoreModel, type Scores } from './score.js';

export interface Evaluation {
  candidate: Scores;
  production: Scores | null;
  productionVersion: string | null;
  verdict: Verdict;
  metrics: Record<string, number>;
  report: string;
  key: string;
}

export async function evaluateModel(
  store: ArtifactStore,
  request: { modelVersion: string; snapshotId: string; tolerance: number },
  log: Logger,
): Promise<Evaluation> {
  const model = await openPublished(store, MODEL_PREFIX(request.modelVersion));
  const split = SplitFile.parse(JSON.parse((await model.read(MODEL_FILES.split)).toString('utf8')));
  const testIds = new Set(split.test);
  // The hybrid ranking's weights are fitted on the candidate's validation products, for both models:
  // the same queries fit them, the same test queries score them.
  const validationIds = new Set(split.val);
  const corpus = await readEvaluationCorpus(store, request.snapshotId, { test: testIds, validation: validationIds });
  log.info(
    {
      snapshot: request.snapshotId,
      listings: corpus.listings.length,
      snapshotListings: corpus.snapshotListings,
      classified: corpus.classified.length,
    },
    corpus.listings.length < corpus.snapshotListings
      ? 'evaluation corpus: an even sample of the snapshot'
      : 'evaluation corpus: the whole snapshot',
  );
  if (corpus.classified.length === 0) throw new Error(`none of the ${testIds.size} test products is in snapshot ${request.snapshotId}`);
  log.info({ model: request.modelVersion, testProducts: corpus.classified.length }, 'scoring the candidate');
  const candidate = await scoreModel(store, request.modelVersion, corpus, log, testIds, validationIds);
  const serving = await readServingRecord(store);
  let production: Scores | null = null;
  if (serving && serving.model.version !== request.modelVersion) {
    log.info({ production: serving.model.version }, 'scoring the production model on the same products');
    production = await scoreModel(store, serving.model.version, corpus, log, testIds, validationIds);
  }
  const verdict = decide(candidate, production, request.tolerance, serving?.model.version ?? null);
  const report = await evaluationReport(candidate, production, verdict);
  const key = `evaluations/${request.modelVersion}`;
  const document = {
    model: request.modelVersion,
    snapshot: request.snapshotId,
    production: serving?.model.version ?? null,
    tolerance: request.tolerance,
    verdict,
    candidate,
    productionScores: production,
  };
  await store.put(`${key}/metrics.json`, JSON.stringify(document, null, 2), { contentType: 'application/json' });
  await store.put(`${key}/report.html`, report, { contentType: 'text/html' });
  return { candidate, production, productionVersion: serving?.model.version ?? null, verdict, metrics: headline(candidate), report, key };
}
