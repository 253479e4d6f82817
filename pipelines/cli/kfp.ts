/**
 * `npm run kfp -- <command>`: the compiled pipeline on a Kubeflow Pipelines installation.
 *   upload     upload pipelines/dist/marketplace-ranking.yaml (a new version when the pipeline exists)
 *   run        upload, then start one run (--param name=value …)
 *   schedule   upload, then create the recurring run of manifests/kubeflow/recurring-run.json
 * KFP_HOST names the server (e.g. http://localhost:8080 through `kubectl port-forward`); KFP_TOKEN,
 * where the installation needs one, is the bearer token. A spec whose images name no registry (or the
 * compiler's placeholder) is refused: compile it with --image-registry first. Every command can be run
 * any number of times: the same spec is the same version.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCommand, InputError, printSummary, runMain } from '../../components/core/platform/index.js';
import { parse } from 'yaml';
import { DEFAULT_OUTPUT, PLACEHOLDER_REGISTRY_HOST } from '../marketplace/compile.js';
import { KfpClient } from '../kfp/client.js';
import { marketplaceRanking } from '../marketplace/pipeline.js';
import { parseParam } from './run-local.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RECURRING_RUN = path.join(HERE, '..', '..', 'manifests', 'kubeflow', 'recurring-run.json');

interface Common {
  spec: string;
  name: string;
  versionName?: string;
  experimentId?: string;
}

function client(): KfpClient {
  const host = process.env['KFP_HOST'];
  if (!host) throw new InputError('KFP_HOST is not set: the Kubeflow Pipelines API, e.g. http://localhost:8080');
  return new KfpClient({ host, token: process.env['KFP_TOKEN'] || undefined });
}

async function readSpec(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError(`spec ${file} not found: run npm run compile-pipeline first`);
  }
  const unpullable = unqualifiedImages(text);
  if (unpullable.length > 0) {
    throw new InputError(
      `spec ${file} names images a cluster cannot pull from your registry: ${unpullable.join(', ')}. ` +
        'Compile with --image-registry <registry>/<namespace> (or IMAGE_REGISTRY), e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com/marketplace',
    );
  }
  return text;
}

/**
 * Images with no registry host (`marketplace/clean:1`, which a node pulls from Docker Hub: a
 * stranger's image, or ImagePullBackOff) or with the placeholder registry the compiler defaults to.
 */
export function unqualifiedImages(specYaml: string): string[] {
  const spec = parse(specYaml.split(/^---$/m)[0] ?? '') as {
    deploymentSpec?: { executors?: Record<string, { container?: { image?: string } }> };
  } | null;
  const images = Object.values(spec?.deploymentSpec?.executors ?? {}).map((executor) => executor.container?.image ?? '');
  return [...new Set(images)].filter((image) => {
    const [first, ...rest] = image.split('/');
    const host = rest.length > 0 ? (first ?? '') : '';
    const isHost = host.includes('.') || host.includes(':') || host === 'localhost';
    return !isHost || host === PLACEHOLDER_REGISTRY_HOST;
  });
}

async function upload(options: Common) {
  const spec = await readSpec(options.spec);
  // The version name defaults to a digest of the spec: uploading the same spec twice is recognisable.
  const version = options.versionName ?? `${options.name}-${createHash('sha256').update(spec).digest('hex').slice(0, 12)}`;
  const kfp = client();
  return { kfp, ref: await kfp.upload(spec, options.name, version), version };
}

const withCommon = (command: ReturnType<typeof createCommand>) =>
  command
    .option('--spec <file>', 'the compiled spec', DEFAULT_OUTPUT)
    .option('--name <name>', 'pipeline name in Kubeflow', marketplaceRanking.name)
    .option('--version-name <name>', 'name of the uploaded version (default: name and spec digest)')
    .option('--experiment-id <id>', 'experiment for runs');

export function kfpCommand() {
  const program = createCommand('kfp', 'Upload the compiled pipeline to Kubeflow Pipelines, run it, schedule it (REST API v2beta1).');
  withCommon(program.command('upload').description('upload the spec (a new version when the pipeline exists)')).action(
    async (options: Common) => {
      const { ref, version } = await upload(options);
      printSummary({ ...ref, version });
    },
  );
  withCommon(program.command('run').description('upload, then start a run'))
    .option('--param <name=value>', 'a pipeline parameter (repeatable)', parseParam, {})
    .action(async (options: Common & { param: Record<string, unknown> }) => {
      const { kfp, ref } = await upload(options);
      const run = await kfp.createRun(ref, `${options.name} ${new Date().toISOString()}`, options.param, options.experimentId);
      printSummary({ ...ref, run_id: run.run_id });
    });
  withCommon(program.command('schedule').description('upload, then create the recurring run'))
    .option('--definition <file>', 'the recurring run (request body)', RECURRING_RUN)
    .action(async (options: Common & { definition: string }) => {
      const definition = JSON.parse(await readFile(options.definition, 'utf8')) as Record<string, unknown>;
      const { kfp, ref } = await upload(options);
      const recurring = await kfp.createRecurringRun(ref, definition, options.experimentId);
      printSummary({ ...ref, recurring_run_id: recurring.recurring_run_id });
    });
  return program;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(kfpCommand());
