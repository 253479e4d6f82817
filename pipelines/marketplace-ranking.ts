/**
 * The pipeline: clean what arrived (fanned out over partitions), pin a snapshot, and retrain only when
 * the new listings drift; promote only a model that evaluates better than production; then index and
 * deploy. Whatever happens, the run's final status is recorded.
 *
 *   clean ×N ─► snapshot ─► drift ─[drifted]─► train ─► evaluate ─[promote]─► index ─► deploy
 *   └──────────────────────── exit handler: record-run ─────────────────────────────────────┘
 */
import { clean, deploy, drift, evaluate, index, recordRun, snapshot, train } from './components.js';
import { exitHandler, param, parallelFor, pipeline, when } from './dsl/index.js';

export const marketplaceRanking = pipeline(
  {
    name: 'marketplace-ranking',
    description: 'Clean new listings, retrain the multimodal search model when they drift, promote a better model, index and deploy.',
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
        const check = drift({ snapshot: pinned.outputs.snapshot, threshold: inputs.driftThreshold });
        when(check.outputs.drifted, () => {
          const trained = train({
            snapshot: pinned.outputs.snapshot,
            epochs: inputs.epochs,
            embeddingDim: inputs.embeddingDim,
            seed: inputs.seed,
            quick: inputs.trainQuick,
          });
          const verdict = evaluate({ model: trained.outputs.model, snapshot: pinned.outputs.snapshot, tolerance: inputs.promoteTolerance });
          when(verdict.outputs.promote, () => {
            const indexed = index({ model: trained.outputs.model, snapshot: pinned.outputs.snapshot });
            deploy({ model: trained.outputs.model, index: indexed.outputs.index, target: inputs.deployTarget });
          });
        });
      },
    );
  },
);
