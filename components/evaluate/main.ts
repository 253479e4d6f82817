/**
 * `npm run evaluate`: held-out metrics of a trained model, compared with the model in production; says
 * whether to promote it. Prints one JSON line: {"promote", "reason", "metrics": {…}, "production"}.
 * Writes Kubeflow-native outputs: system.Metrics scalars and a system.ClassificationMetrics confusion
 * matrix (shown in the Kubeflow UI), the HTML report, and the verdict (`--promote-out`).
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { createCommand, printSummary, runMain, withStore, writeOutputFile } from '../core/platform/index.js';
import {
  executorOutput,
  kfpConfusionMatrix,
  kfpMetrics,
  metricsMetadata,
  modelVersionFrom,
  snapshotIdFrom,
} from '../core/contracts/index.js';
import { evaluateModel } from './evaluate.js';

function tolerance(value: string): number {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed < 1)) throw new InvalidArgumentError(`'${value}' is not a number in [0, 1).`);
  return parsed;
}

export function evaluateCommand() {
  return createCommand(
    'evaluate',
    'Score a trained model on its held-out test split, compare it with production, and decide whether to promote it.',
  )
    .requiredOption('--model <version|file>', 'the candidate model: its version (m-…) or the pointer file train wrote')
    .requiredOption('--snapshot <id|file>', 'the snapshot: its id (snap-…) or the snapshot.json the snapshot step wrote')
    .option('--tolerance <x>', 'how much worse than production a metric may be and still pass', tolerance, 0.005)
    .option('--promote-out <file>', 'write true or false here (a pipeline output)')
    .option('--metrics <file>', 'write the headline metrics here (KFP system.Metrics JSON)')
    .option('--confusion <file>', 'write the combined confusion matrix here (KFP system.ClassificationMetrics JSON)')
    .option('--report <file>', 'write the HTML report here')
    .option(
      '--executor-output <file>',
      "write KFP's executor output here (metrics and confusion matrix as artifact metadata, which the Kubeflow UI shows)",
    )
    .action(
      async (options: {
        model: string;
        snapshot: string;
        tolerance: number;
        promoteOut?: string;
        metrics?: string;
        confusion?: string;
        report?: string;
        executorOutput?: string;
      }) => {
        const modelVersion = await modelVersionFrom(options.model);
        const snapshotId = await snapshotIdFrom(options.snapshot);
        const result = await withStore('evaluate', async ({ store, log }) => {
          const evaluation = await evaluateModel(store, { modelVersion, snapshotId, tolerance: options.tolerance }, log);
          log.info({ promote: evaluation.verdict.promote }, evaluation.verdict.reason);
          return { ...evaluation, uri: store.uri(evaluation.key) };
        });
        const combined = result.candidate.classification.combined;
        await writeOutputFile(options.promoteOut, String(result.verdict.promote));
        const metrics = kfpMetrics(result.metrics);
        const confusion = kfpConfusionMatrix(combined.labels, combined.confusion);
        await writeOutputFile(options.metrics, JSON.stringify(metrics, null, 2));
        await writeOutputFile(options.confusion, JSON.stringify(confusion, null, 2));
        await writeOutputFile(options.executorOutput, JSON.stringify(executorOutput({ metrics: metricsMetadata(metrics), confusion })));
        await writeOutputFile(options.report, result.report);
        const search = result.candidate.search?.modes;
        printSummary({
          promote: result.verdict.promote,
          reason: result.verdict.reason,
          model: modelVersion,
          production: result.productionVersion,
          testProducts: result.candidate.testProducts,
          metrics: result.metrics,
          search,
          evaluation: result.uri,
        });
      },
    );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(evaluateCommand());
