/**
 * `npm run deploy`: put a model and index in service, on Kubernetes (patch the search Deployment,
 * wait for the rollout, roll back on failure) or on this machine (switch `serving/current.json`,
 * which the local search service hot-swaps to). The record is written only after success.
 *   deploy --model <artifact> --index <artifact> [--target kubernetes|local] …
 *   deploy production-model --model-out <f>  a pointer to the model in production (a pipeline artifact)
 *   deploy record-run --status <json>        the pipeline's exit handler
 * Prints one JSON line: {"target","outcome":"deployed"|"unchanged","model","index","snapshotId",
 * "deployment":{…,"patched"},"servingRecord":{"changed","previous"},"message"}. Exit 1 when the
 * rollout failed (after rolling back), 2 on bad input.
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, Option } from 'commander';
import {
  createCommand,
  createLogger,
  InputError,
  loadConfig,
  openArtifactStore,
  positiveInteger,
  printSummary,
  runMain,
  writeOutputFile,
  type ArtifactStore,
  type Logger,
} from '../core/platform/index.js';
import { readServingRecord, SERVING_KEY } from '../core/contracts/index.js';
import { deploy, type Target } from './deploy.js';
import { deploymentApi, loadKubeConfig } from './kube-api.js';
import { RolloutFailedError } from './kubernetes.js';
import { parseFinalStatus, recordDeployed, recordRun } from './record-run.js';
import { resolveRelease, type ReleaseOptions } from './release.js';

/**
 * Deploy needs the artifact store and a logger, never the catalogue database: it opens only those
 * (core's withRuntime would also open, and on the embedded default lock, the database).
 */
function openStore(component: string): { store: ArtifactStore; log: Logger } {
  const config = loadConfig();
  const log = createLogger(component, config.logLevel);
  log.info(`${component}: artifacts ${config.artifactRoot}`);
  return { store: openArtifactStore(config), log };
}

function positiveSeconds(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0) || !Number.isFinite(parsed)) throw new InvalidArgumentError(`'${value}' is not a positive number of seconds.`);
  return parsed;
}

interface DeployOptions extends ReleaseOptions {
  target: 'kubernetes' | 'local';
  namespace: string;
  deployment: string;
  container?: string;
  timeoutSeconds: number;
  pollSeconds: number;
  kubeconfig?: string;
  versionOut?: string;
  runId?: string;
}

export function deployCommand() {
  const program = createCommand(
    'deploy',
    'Put a model and index in service (Kubernetes rollout with rollback, or the local serving record); record it after success.',
  )
    .addOption(new Option('--target <target>', 'where the search service runs').choices(['kubernetes', 'local']).default('kubernetes'))
    .option('--model <artifact>', "the model artifact (train's output: a JSON file with a version, or a folder with manifest.json)")
    .option('--index <artifact>', "the index artifact (index's output: the published manifest.json)")
    .option('--model-version <version>', 'the model version (overrides the artifact)')
    .option('--model-key <key>', 'the model folder in the artifact store (default models/<version>)')
    .option('--index-version <version>', 'the index version (overrides the artifact)')
    .option('--index-key <key>', 'the index folder in the artifact store (default indexes/<version>)')
    .option('--snapshot-id <id>', "the training snapshot (default: from the model's manifest)")
    .option('--namespace <namespace>', 'Kubernetes namespace of the search service', 'marketplace')
    .option('--deployment <name>', 'the search service Deployment', 'search')
    .option('--container <name>', 'the search container (default: the only one, or the one named like the Deployment)')
    .option('--timeout-seconds <n>', 'deadline for the rollout (and again for a rollback)', positiveInteger, 600)
    .option('--poll-seconds <s>', 'how often the rollout status is read', positiveSeconds, 2)
    .option('--kubeconfig <file>', 'kubeconfig file (default: the pod service account, else $KUBECONFIG or ~/.kube/config)')
    .option('--version-out <file>', 'write the model version now in service here (a pipeline output)')
    .option(
      '--run-id <id>',
      "the pipeline run this deploy belongs to: the release is recorded as runs/<id>/deployed.json, which the run's exit handler reads",
    )
    .addHelpText(
      'after',
      '\nOn Kubernetes the container env MODEL_VERSION / INDEX_VERSION and the pod template annotations marketplace.io/* are patched;\nserving/current.json is written only after every replica runs the new template and is available.',
    )
    .action(async (options: DeployOptions) => {
      const { store, log } = openStore('deploy');
      const release = await resolveRelease(store, options);
      const target: Target =
        options.target === 'local'
          ? { kind: 'local' }
          : {
              kind: 'kubernetes',
              api: deploymentApi(loadKubeConfig(options.kubeconfig)),
              namespace: options.namespace,
              deployment: options.deployment,
              ...(options.container ? { container: options.container } : {}),
              timeoutMs: options.timeoutSeconds * 1000,
              pollMs: options.pollSeconds * 1000,
            };
      try {
        const summary = await deploy({ store, log, release, target });
        if (options.runId) {
          await recordDeployed(store, {
            runId: options.runId,
            model: summary.model.version,
            index: summary.index?.version ?? null,
            snapshotId: summary.snapshotId,
            outcome: summary.outcome,
            deployedAt: new Date().toISOString(),
          });
        }
        await writeOutputFile(options.versionOut, summary.model.version);
        printSummary(summary);
      } catch (error) {
        if (error instanceof RolloutFailedError) {
          // The pipeline reads stdout: say what happened there too, then fail the task.
          printSummary({
            target: options.target,
            outcome: 'rolled-back',
            model: release.model,
            index: release.index ?? null,
            rollback: error.rollback,
            message: error.message,
          });
        }
        throw error;
      }
    });

  program
    .command('production-model')
    .description(
      'Write a pointer to the model in production (serving/current.json) as a pipeline artifact: what a run that trains no new model indexes the new snapshot with.',
    )
    .requiredOption('--model-out <file>', 'write the model pointer (JSON: version, key, uri) here (a pipeline output)')
    .action(async (options: { modelOut: string }) => {
      const { store } = openStore('production-model');
      const serving = await readServingRecord(store);
      if (!serving) throw new InputError(`nothing is in production (${store.uri(SERVING_KEY)} is absent): train and deploy a first model`);
      const pointer = { version: serving.model.version, key: serving.model.key, uri: store.uri(serving.model.key) };
      await writeOutputFile(options.modelOut, JSON.stringify(pointer));
      printSummary({ model: pointer, index: serving.index ?? null, snapshotId: serving.snapshotId, deployedAt: serving.deployedAt });
    });

  program
    .command('record-run')
    .description(
      'Record how a pipeline run ended (the exit handler) as runs/<id>/status.json: verified from what its deploy recorded, not from the final state alone.',
    )
    .requiredOption('--status <json>', "KFP's PipelineTaskFinalStatus: {state, pipelineJobResourceName, pipelineTaskName, error}")
    .requiredOption('--run-id <id>', 'the run (the pipeline binds {{$.pipeline_job_uuid}})')
    .addHelpText(
      'after',
      "\nKFP 2.17 passes the exit handler DAG's ML Metadata state, which stays RUNNING when a branch was skipped:\nthe run succeeded only if its deploy step recorded a release for this run id; FAILED or CANCELED is a failure.",
    )
    .action(async (options: { status: string; runId: string }) => {
      const status = parseFinalStatus(options.status);
      const { store } = openStore('record-run');
      printSummary(await recordRun(store, options.runId, status));
    });
  return program;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(deployCommand());
