/**
 * The pipeline: clean what arrived (fanned out over partitions), pin a snapshot, and retrain only when
 * the new listings drift; promote only a model that evaluates better than production. Every run ends
 * with an index of the new snapshot in service, so listings posted today are searchable tonight:
 * built with the new model when one is promoted, else with the model already in production.
 * Whatever happens, the run's final status is recorded.
 *
 *   clean ×N ─► snapshot ─► drift ─[drifted]─► train ─► evaluate ─[promote]─► embed ×S ─► index ─► deploy
 *                               │                              └─[otherwise]─► production-model ─► embed ×S ─► index ─► deploy
 *                               └─[otherwise]─► production-model ─► embed ×S ─► index ─► deploy
 *   └──────────────────────── exit handler: record-run ──────────────────────────────────────────────┘
 *
 * `embed ×S`: the snapshot embedded in shards (index-embed, a pod each), their vectors in the artifact
 * store; index builds from them.
 */
import { clean, deploy, drift, evaluate, index, indexEmbed, productionModel, recordRun, snapshot, train } from './components.js';
import { exitHandler, param, parallelFor, pipeline, when, type ArtifactRef, type ParameterRef } from '../dsl/index.js';

/** Where an index goes: the shards it is embedded in and the deploy target. */
interface Serving {
  shards: ParameterRef<'LIST'>;
  memoryBudgetMib: ParameterRef<'NUMBER_INTEGER'>;
  target: ParameterRef<'STRING'>;
}

/** Embed `snapshot` with `model` in shards side by side, index it from them, and put both in service. */
function indexAndDeploy(model: ArtifactRef<'system.Model'>, snapshotRef: ArtifactRef<'system.Dataset'>, serving: Serving): void {
  const embedding = parallelFor(serving.shards, (shard) => void indexEmbed({ model, snapshot: snapshotRef, shard }), { parallelism: 8 });
  const indexed = index({ model, snapshot: snapshotRef, shards: serving.shards, memoryBudgetMib: serving.memoryBudgetMib }).after(
    embedding,
  );
  deploy({ model, index: indexed.outputs.index, target: serving.target });
}

/** The new snapshot indexed with the production model: new, changed and removed listings reach search without retraining. */
function refreshWithProductionModel(snapshotRef: ArtifactRef<'system.Dataset'>, serving: Serving): void {
  indexAndDeploy(productionModel({}).outputs.model, snapshotRef, serving);
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
      // 0: the training configuration's own (every listing, or --quick's sample). A large catalogue
      // trains on a sample: the model learns categories and wording, not each listing (docs/DESIGN.md, Scale).
      trainSample: param.integer({ default: 0, description: 'listings train reads (a deterministic sample); 0: all' }),
      promoteTolerance: param.double({ default: 0.005 }),
      // Two shards by default: one per core of the two-core machine the local pipeline runs on, and on a
      // small catalogue each shard's pod pays for starting and loading the model, so more would be
      // slower. A catalogue of 10^7 takes about 10 (10^6 listings a pod: docs/DESIGN.md, Scale).
      embedShards: param.list({
        default: ['0/2', '1/2'],
        description: 'shards the snapshot is embedded in side by side, as k/N (every k of one N)',
      }),
      // 0: no budget (exact up to 100,000 products, HNSW above); a budget picks Flat, HNSW-SQ8, IVF-SQ8
      // or IVF-PQ by the bytes a listing it leaves (index --memory-budget-mib).
      indexMemoryBudgetMib: param.integer({ default: 0, description: "the search service's memory for the product index, MiB; 0: none" }),
      deployTarget: param.string({ default: 'kubernetes' }),
    },
  },
  (inputs) => {
    const serving: Serving = { shards: inputs.embedShards, memoryBudgetMib: inputs.indexMemoryBudgetMib, target: inputs.deployTarget };
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
            sample: inputs.trainSample,
          });
          const verdict = evaluate({ model: trained.outputs.model, snapshot: snapshotRef, tolerance: inputs.promoteTolerance });
          when(verdict.outputs.promote, () => indexAndDeploy(trained.outputs.model, snapshotRef, serving)).otherwise(() =>
            refreshWithProductionModel(snapshotRef, serving),
          );
        }).otherwise(() => refreshWithProductionModel(snapshotRef, serving));
      },
    );
  },
);
