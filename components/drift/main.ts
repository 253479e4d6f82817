/**
 * `npm run drift -- --snapshot <id|file>`: are the snapshot's new listings still like the ones the
 * production model learnt from?
 * Writes the verdict for the pipeline (`--drifted-out`), the statistics (`--metrics`) and prints one
 * JSON line: {"drifted", "reason", "psi": {"category", "price", "textLength"}, …}.
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { createCommand, printSummary, runMain, withStore, writeOutputFile } from '../core/platform/index.js';
import { executorOutput, kfpMetrics, metricsMetadata, snapshotIdFrom } from '../core/contracts/index.js';
import { checkDrift, DEFAULT_EMBEDDING_THRESHOLD, driftReport, type DriftVerdict } from './drift.js';

function threshold(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0)) throw new InvalidArgumentError(`'${value}' is not a positive number.`);
  return parsed;
}

/** The statistics as KFP system.Metrics scalars. */
export function metricsOf(verdict: DriftVerdict) {
  const values: Record<string, number> = {
    drifted: verdict.drifted ? 1 : 0,
    new_listings: verdict.newListings,
    threshold: verdict.threshold,
  };
  for (const [name, value] of Object.entries(verdict.psi ?? {})) values[`psi_${name}`] = Number(value.toFixed(6));
  if (verdict.embeddingShift !== null) values['embedding_shift'] = Number(verdict.embeddingShift.toFixed(6));
  return kfpMetrics(values);
}

export function driftCommand() {
  return createCommand('drift', 'Compare new listings with the production model’s training profile (population stability index).')
    .requiredOption('--snapshot <id|file>', 'the snapshot to judge: its id (snap-…) or the snapshot.json the snapshot step wrote')
    .option('--threshold <psi>', 'PSI above which a feature has drifted', threshold, 0.2)
    .option(
      '--embedding-threshold <x>',
      'mean absolute standardised shift of the new listings’ embeddings above which they have drifted',
      threshold,
      DEFAULT_EMBEDDING_THRESHOLD,
    )
    .option(
      '--min-new-listings <n>',
      'fewer new listings than this are no evidence of drift',
      (v) => Math.max(1, Math.floor(Number(v))),
      50,
    )
    .option('--drifted-out <file>', 'write true or false here (a pipeline output)')
    .option('--metrics <file>', 'write the statistics here (KFP system.Metrics JSON)')
    .option('--report <file>', 'write the HTML report here')
    .option('--executor-output <file>', "write KFP's executor output here (the metrics as artifact metadata, which the Kubeflow UI shows)")
    .action(
      async (options: {
        snapshot: string;
        threshold: number;
        embeddingThreshold: number;
        minNewListings: number;
        driftedOut?: string;
        metrics?: string;
        report?: string;
        executorOutput?: string;
      }) => {
        const snapshotId = await snapshotIdFrom(options.snapshot);
        // Drift reads snapshots and the production model from the artifact store: no database.
        const verdict = await withStore('drift', async ({ store, log }) => {
          const result = await checkDrift({
            store,
            snapshotId,
            threshold: options.threshold,
            embeddingThreshold: options.embeddingThreshold,
            minNewListings: options.minNewListings,
          });
          log.info(result, result.reason);
          return result;
        });
        await writeOutputFile(options.driftedOut, String(verdict.drifted));
        await writeOutputFile(options.metrics, JSON.stringify(metricsOf(verdict), null, 2));
        await writeOutputFile(options.executorOutput, JSON.stringify(executorOutput({ metrics: metricsMetadata(metricsOf(verdict)) })));
        if (options.report) await writeOutputFile(options.report, await driftReport(verdict));
        printSummary(verdict);
      },
    );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(driftCommand());
