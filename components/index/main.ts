/**
 * `npm run index`: embeds a snapshot's products with a trained model, builds the FAISS product and buyer
 * indexes and the lexical (BM25F) index, fits the hybrid ranking's weights on the model's validation
 * listings, and publishes them all under `indexes/<version>/`. Prints one JSON line:
 * {"index": "<uri>", "version", "products": {type, vectors, recall…}, "buyers": {…}}.
 *
 * The embedding fanned out (the pipeline's way at scale):
 *   index embed --model M --snapshot S --shard k/N   one shard's vectors to the store (a pod each)
 *   index --model M --snapshot S --from-shards N     the same indexes, built from those N shards
 */
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import {
  createCommand,
  nonNegativeInteger,
  positiveInteger,
  printSummary,
  runMain,
  withRuntime,
  withStore,
  writeOutputFile,
} from '../core/platform/index.js';
import { executorOutput, kfpMetrics, metricsMetadata, modelVersionFrom, snapshotIdFrom } from '../core/contracts/index.js';
import { buildIndex } from './build.js';
import { embedShard, parseShard, parseShardCount, type Shard } from './embed.js';

const MODEL = ['--model <version|file>', 'the model: its version (m-…) or the pointer file train wrote (required)'] as const;
const SNAPSHOT = ['--snapshot <id|file>', 'the snapshot: its id (snap-…) or the snapshot.json the snapshot step wrote (required)'] as const;

export function indexCommand() {
  // Typed, so that program.error() (never returns) narrows the options after it.
  const program: Command = createCommand(
    'index',
    'Embed every product of a snapshot with a trained model (or read the shards `index embed` wrote) and publish the FAISS product and buyer indexes.',
  );
  // --model and --snapshot are checked in the action, not by commander: a required option of the
  // program would also be required of the `embed` subcommand's command line.
  program
    .option(...MODEL)
    .option(...SNAPSHOT)
    .option('--buyers <n>', 'size of the generated buyer population', positiveInteger, 2000)
    .option('--seed <n>', 'seed of the buyer population', positiveInteger, 7)
    .option(
      '--exact-up-to <n>',
      'up to this many products the index is exact (FAISS Flat); above, HNSW with measured recall',
      positiveInteger,
      100_000,
    )
    .option(
      '--memory-budget-mib <n>',
      "the search service's memory for the product index (MiB): the index type is chosen by it (Flat while it fits, then HNSW-SQ8, IVF-SQ8, IVF-PQ tuned to recall@10 >= 0.95), instead of by --exact-up-to; 0: no budget (a pipeline passes the value)",
      nonNegativeInteger,
    )
    .option(
      '--from-shards <N|list>',
      'build from the N shards `index embed --shard k/N` wrote (N, or the JSON list of every k/N) instead of embedding here',
      parseShardCount,
    )
    .option('--manifest <file>', 'write the index pointer (JSON: version, key, uri) here (a pipeline output)')
    .option('--metrics <file>', 'write the index statistics here (KFP system.Metrics JSON)')
    .option(
      '--executor-output <file>',
      "write KFP's executor output here (the statistics as artifact metadata, which the Kubeflow UI shows)",
    )
    .action(
      async (options: {
        model?: string;
        snapshot?: string;
        buyers: number;
        seed: number;
        exactUpTo: number;
        memoryBudgetMib?: number;
        fromShards?: number;
        manifest?: string;
        metrics?: string;
        executorOutput?: string;
      }) => {
        if (!options.model) program.error(`error: required option '${MODEL[0]}' not specified`);
        if (!options.snapshot) program.error(`error: required option '${SNAPSHOT[0]}' not specified`);
        const modelVersion = await modelVersionFrom(options.model);
        const snapshotId = await snapshotIdFrom(options.snapshot);
        const result = await withRuntime('index', ({ store, db, log }) =>
          buildIndex(
            store,
            db,
            {
              modelVersion,
              snapshotId,
              buyers: options.buyers,
              seed: options.seed,
              exactUpTo: options.exactUpTo,
              ...(options.memoryBudgetMib ? { memoryBudgetBytes: options.memoryBudgetMib * 2 ** 20 } : {}),
              ...(options.fromShards ? { shards: options.fromShards } : {}),
            },
            log,
          ),
        );
        const { metadata } = result;
        await writeOutputFile(options.manifest, JSON.stringify({ version: result.version, key: result.key, uri: result.uri }));
        const metrics = kfpMetrics({
          products: metadata.products.vectors,
          product_recall_at_k: metadata.products.recall,
          buyers: metadata.buyers.vectors,
          buyer_recall_at_k: metadata.buyers.recall,
          build_seconds: Math.round(metadata.buildSeconds * 10) / 10,
          ...(metadata.lexical
            ? {
                lexical_terms: metadata.lexical.terms,
                lexical_postings: metadata.lexical.postings,
                ...(metadata.lexical.fit
                  ? {
                      fusion_fit_objective: metadata.lexical.fit.objective,
                      fusion_default_objective: metadata.lexical.fit.defaultObjective,
                    }
                  : {}),
              }
            : {}),
        });
        await writeOutputFile(options.metrics, JSON.stringify(metrics, null, 2));
        await writeOutputFile(options.executorOutput, JSON.stringify(executorOutput({ metrics: metricsMetadata(metrics) })));
        printSummary({
          index: result.uri,
          version: result.version,
          reused: result.reused,
          model: modelVersion,
          snapshot: snapshotId,
          products: metadata.products,
          buyers: metadata.buyers,
          lexical: metadata.lexical
            ? {
                terms: metadata.lexical.terms,
                postings: metadata.lexical.postings,
                fit: metadata.lexical.fit,
                weights: metadata.lexical.fusion.weights,
              }
            : null,
          productsPerSecond: Math.round(result.productsPerSecond),
          buildSeconds: metadata.buildSeconds,
        });
      },
    );

  program
    .command('embed')
    .description(
      "Embed one shard of a snapshot's products (the k-th of N contiguous slices, in snapshot order) and write its vectors to the artifact store, for `index --from-shards N`.",
    )
    .requiredOption(...MODEL)
    .requiredOption(...SNAPSHOT)
    .requiredOption('--shard <k/N>', 'the shard: k of N, 0 <= k < N', parseShard)
    .option('--batch-size <n>', 'products embedded per batch (bounds the pictures held in memory)', positiveInteger, 128)
    .action(async (options: { model: string; snapshot: string; shard: Shard; batchSize: number }) => {
      const modelVersion = await modelVersionFrom(options.model);
      const snapshotId = await snapshotIdFrom(options.snapshot);
      const result = await withStore('index', ({ store, log }) =>
        embedShard(store, { modelVersion, snapshotId, shard: options.shard, batchSize: options.batchSize }, log),
      );
      printSummary({
        shard: `${result.shard.index}/${result.shard.of}`,
        vectors: result.uri,
        model: modelVersion,
        snapshot: snapshotId,
        first: result.first,
        products: result.products,
        reused: result.reused,
        productsPerSecond: Math.round(result.productsPerSecond),
      });
    });
  return program;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(indexCommand());
