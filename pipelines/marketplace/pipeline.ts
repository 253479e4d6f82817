/**
 * The pipeline: clean what arrived (fanned out over partitions), pin a snapshot, and retrain only when
 * the new listings drift; promote only a model that evaluates better than production. Every run ends
 * with an index of the new snapshot in service, so listings posted today are searchable tonight:
 * built with the new model when one is promoted, else with the model already in production.
 * Whatever happens, the run's final status is recorded.
 *
 *   clean ×N ─► snapshot ─► drift ─[drifted]─► train ─► evaluate ─[promote]─► index ─► deploy
 *                               │                              └─[otherwise]─► production-model ─► index ─► deploy
 *                               └─[otherwise]─► production-model ─► index ─► deploy
 *   └──────────────────────── exit handler: record-run ──────────────────────────────────────────────┘
 */
import { clean, deploy, drift, evaluate, index, productionModel, recordRun, snapshot, train } from './components.js';
import { exitHandler, param, parallelFor, pipeline, when, type ArtifactRef, type ParameterRef } from '../dsl/index.js';

/** Index `snapshot` with `model` and put both in service. */
function indexAndDeploy(
  model: ArtifactRef<'system.Model'>,
  snapshotRef: ArtifactRef<'system.Dataset'>,
  target: ParameterRef<'STRING'>,
): void {
  const indexed = index({ model, snapshot: snapshotRef });
  deploy({ model, index: indexed.outputs.index, target });
}

/** The new snapshot indexed with the production model: new, changed and removed listings reach search without retraining. */
function refreshWithProductionModel(snapshotRef: ArtifactRef<'system.Dataset'>, target: ParameterRef<'STRING'>): void {
  indexAndDeploy(productionModel({}).outputs.model, snapshotRef, target);
}

export const marketplaceRanking = pipeline(
  {
    name: 'marketplace-ranking',
    description:
      'Clean new listings, retrain the multimodal search model when they drift, promote a better model, index the new snapshot and deploy.',
    inputs: {
      partitions: param.list({ default: ['0/1'], description: 'catalogue partitions cleaned in parallel, as k/N' }),
      cleanBatchSize: param.integer({ default: 1000 }),
      driftThreshold: param.double({ default: 0.2 }),
      epochs: param.integer({ default: 30 }),
      embeddingDim: param.integer({ default: 256 }),
      seed: param.integer({ default: 42 }),
      trainQuick: param.boolean({ default: false }),
      promoteTolerance: param.double({ default: 0.005 }),
      deployTarget: param.string({ default: 'kubernetes' }),
    },
  },
  (inputs) => {
    exitHandler(
      () => recordRun({}),
      () => {
        const cleaning = parallelFor(inputs.partitions, (partition) => void clean({ partition, batchSize: inputs.cleanBatchSize }), {
          parallelism: 8,
        });
        const pinned = snapshot({}).after(cleaning);
        const snapshotRef = pinned.outputs.snapshot;
        const check = drift({ snapshot: snapshotRef, threshold: inputs.driftThreshold });
        when(check.outputs.drifted, () => {
          const trained = train({
            snapshot: snapshotRef,
            epochs: inputs.epochs,
            embeddingDim: inputs.embeddingDim,
            seed: inputs.seed,
            quick: inputs.trainQuick,
          });
          const verdict = evaluate({ model: trained.outputs.model, snapshot: snapshotRef, tolerance: inputs.promoteTolerance });
          when(verdict.outputs.promote, () => indexAndDeploy(trained.outputs.model, snapshotRef, inputs.deployTarget)).otherwise(() =>
            refreshWithProductionModel(snapshotRef, inputs.deployTarget),
          );
        }).otherwise(() => refreshWithProductionModel(snapshotRef, inputs.deployTarget));
      },
    );
  },
);
