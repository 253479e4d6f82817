/**
 * `npm run pipeline:run-local -- <spec.yaml> [--param name=value …]`: runs a compiled pipeline spec on
 * this machine with the local runner. Runs are kept under $MARKETPLACE_HOME/runs/<run id>/ (run.json,
 * logs/, outputs/, artifacts/); the task cache under $MARKETPLACE_HOME/runs/cache/.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  createCommand,
  createLogger,
  InputError,
  loadConfig,
  positiveInteger,
  printSummary,
  runMain,
} from '../../components/core/platform/index.js';
import { mapCommandToCheckout, runPipeline, TaskFailedError } from '../local/runner.js';
import { containerRunner } from '../local/containers.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `name=value`: the value is JSON when it parses as JSON (numbers, booleans, lists), text otherwise. */
export function parseParam(text: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const at = text.indexOf('=');
  if (at <= 0) throw new InputError(`--param takes name=value, got '${text}'`);
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // plain text
  }
  return { ...previous, [text.slice(0, at)]: value };
}

const program = createCommand('pipeline:run-local', 'Run a compiled Kubeflow pipeline spec on this machine, task by task.')
  .argument('<spec>', 'the compiled spec (YAML), e.g. pipelines/dist/marketplace-ranking.yaml')
  .option('--param <name=value>', 'a pipeline parameter (repeatable)', parseParam, {})
  .option('--concurrency <n>', 'task processes at once', positiveInteger, 2)
  .option('--no-cache', 'run every task, even those an earlier run finished with the same inputs')
  .option(
    '--containers',
    'run each task in its container image (podman or docker: no network, read-only root, uid 1000): the spec’s image, or the same name and tag built here by npm run images',
  )
  .action(async (spec: string, options: { param: Record<string, unknown>; concurrency: number; cache: boolean; containers?: boolean }) => {
    const config = loadConfig();
    const log = createLogger('run-local', config.logLevel);
    let text: string;
    try {
      text = await readFile(spec, 'utf8');
    } catch {
      throw new InputError(`spec ${spec} not found (compile one with npm run compile-pipeline)`);
    }
    const run = await runPipeline({
      specYaml: text,
      parameters: options.param,
      runsDir: path.join(config.home, 'runs'),
      concurrency: options.concurrency,
      cache: options.cache,
      ...(options.containers
        ? { containers: containerRunner({ repoRoot: REPO_ROOT, home: config.home, runsDir: path.join(config.home, 'runs') }) }
        : { mapCommand: mapCommandToCheckout(REPO_ROOT) }),
      log,
    });
    const tasks = Object.fromEntries(
      Object.values(run.tasks).map((t) => [t.path, t.image ? { status: t.status, image: t.image, imageDigest: t.imageDigest } : t.status]),
    );
    printSummary({ run: run.id, status: run.status, record: path.join(run.folder, 'run.json'), tasks });
    if (run.status !== 'SUCCEEDED') throw new TaskFailedError(run.error ?? 'the run failed');
  });

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(program);
