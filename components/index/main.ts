/**
 * `npm run index`: embeds a snapshot's products with a trained model, builds the FAISS product and buyer
 * indexes and the lexical (BM25F) index, fits the hybrid ranking's weights on the model's validation
 * listings, and publishes them all under `indexes/<version>/`. Prints one JSON line:
 * {"index": "<uri>", "version", "products": {type, vectors, recall…}, "buyers": {…}}.
 */
import { pathToFileURL } from 'node:url';
import { createCommand, positiveInteger, printSummary, runMain, withRuntime, writeOutputFile } from '../core/platform/index.js';
import { executorOutput, kfpMetrics, metricsMetadata, modelVersionFrom, snapshotIdFrom } from '../core/contracts/index.js';
import { buildIndex } from './build.js';

export function indexCommand() {
  return createCommand('index', 'Embed every product of a snapshot with a trained model and publish the FAISS product and buyer indexes.')
    .requiredOption('--model <version|file>', 'the model: its version (m-…) or the pointer file train wrote')
    .requiredOption('--snapshot <id|file>', 'the snapshot: its id (snap-…) or the snapshot.json the snapshot step wrote')
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
      "the search service's memory for the product index (MiB): the index type is chosen by it (Flat while it fits, then HNSW-SQ8, IVF-SQ8, IVF-PQ tuned to recall@10 >= 0.95), instead of by --exact-up-to",
      positiveInteger,
    )
    .option('--manifest <file>', 'write the index pointer (JSON: version, key, uri) here (a pipeline output)')
    .option('--metrics <file>', 'write the index statistics here (KFP system.Metrics JSON)')
    .option(
      '--executor-output <file>',
      "write KFP's executor output here (the statistics as artifact metadata, which the Kubeflow UI shows)",
    )
    .action(
      async (options: {
        model: string;
        snapshot: string;
        buyers: number;
        seed: number;
        exactUpTo: number;
        memoryBudgetMib?: number;
        manifest?: string;
        metrics?: string;
        executorOutput?: string;
      }) => {
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
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(indexCommand());
