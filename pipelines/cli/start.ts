/**
 * `npm start`: the main job on one machine, on the embedded defaults (PGlite, a local artifact folder)
 * unless DATABASE_URL / ARTIFACT_ROOT say otherwise. It loads the export (the real data with --data,
 * else the synthetic demo catalogue on a fresh machine), then runs the compiled Kubeflow pipeline,
 * the same IR YAML that Kubeflow runs, with the local runner:
 *   clean -> snapshot -> drift -[drifted]-> train -> evaluate -[promote]-> index -> deploy (local)
 *                              otherwise: index the new snapshot with the production model -> deploy
 * and ends with what a user wants to see: the catalogue, the model's held-out metrics, what is now in
 * production, and how to query it (`npm run serve`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createCommand,
  InputError,
  loadConfig,
  positiveInteger,
  printSummary,
  runMain,
  withRuntime,
  withStore,
  type Database,
} from '../../components/core/platform/index.js';
import { FASHION_MNIST_DIR, metadataScalars, readServingRecord } from '../../components/core/contracts/index.js';
import { generateDemoExport } from '../../components/load/demo.js';
import { fashionSource } from '../../components/load/fashion-mnist.js';
import { loadFromCommandLine, resolveSource } from '../../components/load/main.js';
import { compileToYaml, PLACEHOLDER_REGISTRY } from '../marketplace/compile.js';
import { mapCommandToCheckout, runPipeline, TaskFailedError, type RunRecord } from '../local/runner.js';
import { containerRunner, defaultImageTag, loadInContainer } from '../local/containers.js';
import { pipelineParameters, type StartOptions } from './start-parameters.js';
import { marketplaceRanking } from '../marketplace/pipeline.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface SnapshotFacts {
  id: string;
  hash: string;
  products: number;
  productImages: number;
  quarantined: number;
  counts: { rootCategories: Record<string, number>; quarantineRules: Record<string, number>; located: number };
}

function catalogueLines(snapshot: SnapshotFacts): string[] {
  const roots = Object.entries(snapshot.counts.rootCategories).sort((a, b) => b[1] - a[1]);
  const rules = Object.entries(snapshot.counts.quarantineRules).sort((a, b) => b[1] - a[1]);
  const width = Math.max(20, ...roots.map(([name]) => name.length), ...rules.map(([name]) => name.length));
  const row = (name: string, count: number) => `${name.padEnd(width)}  ${String(count).padStart(8)}`;
  return [
    `catalogue ${snapshot.id}: ${snapshot.products} products (${snapshot.counts.located} placed on the map), ` +
      `${snapshot.productImages} images; ${snapshot.quarantined} raw rows in quarantine`,
    '',
    `${'root category'.padEnd(width)}  products`,
    ...roots.map(([name, count]) => row(name, count)),
    '',
    `${'quarantine rule'.padEnd(width)}      rows`,
    ...rules.map(([name, count]) => row(name, count)),
  ];
}

const task = (run: RunRecord, name: string) => Object.values(run.tasks).find((t) => t.path === name || t.path.endsWith(`/${name}`));

async function readJson<T>(file: string | undefined): Promise<T | undefined> {
  if (!file) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

const program = createCommand(
  'start',
  'Run the main job on this machine: load the export, then the whole pipeline (clean, snapshot, drift, train, evaluate, index, deploy) with the local runner.',
)
  .option(
    '--data <dir>',
    'export folder (Products.csv, Images.csv, images/) to load first; default $MARKETPLACE_DATA, else what the raw tables hold',
  )
  .option('--demo', 'load the generated demo catalogue (synthetic listings with pictures); the default when there is no data at all')
  .option(
    '--fashion-mnist [idx-dir]',
    `the Fashion-MNIST pictures catalogue (70,000 real article photos, 28×28, 10 classes; Debian's dataset-fashion-mnist, default ${FASHION_MNIST_DIR}): listings whose text says nothing of the class, so the pictures carry search; its official test split stays held out. Best in a fresh MARKETPLACE_HOME`,
  )
  .option('--fashion-limit <n>', 'with --fashion-mnist: the first n pictures of each official split only (a quick run)', positiveInteger)
  .option('--images-zip <path-or-url>', "the seed's image archive, if the images are not in <dir>/images")
  .option(
    '--full',
    'the folder is the whole catalogue: listings absent from it are marked removed and leave search in this run (default: it only adds and updates)',
  )
  .option('--batch-size <rows>', 'rows per transaction', positiveInteger, 500)
  .option('--epochs <n>', 'most training epochs (early stopping usually ends sooner; default 30, 2 with --quick)', positiveInteger)
  .option('--quick', 'train the small smoke-run configuration (a sample, two epochs): minutes instead of tens of minutes')
  .option(
    '--partitions <n>',
    'clean the catalogue in n partitions side by side (a task each, as Kubeflow runs them; default 1)',
    positiveInteger,
  )
  .option(
    '--train-sample <n>',
    'train on a deterministic sample of n listings (and an eighth as many validation listings) instead of all: a large catalogue (10^5 and up) trains in minutes; evaluate and index still read every listing',
    positiveInteger,
  )
  .option(
    '--embed-shards <n>',
    'embed the snapshot in n shards side by side (a task each, a pod each on Kubeflow; default 2, one per core here)',
    positiveInteger,
  )
  .option(
    '--index-memory-budget-mib <n>',
    "the search service's memory for the product index (MiB): picks Flat, HNSW-SQ8, IVF-SQ8 or IVF-PQ, tuned to recall@10 >= 0.95 (default: exact up to 100,000 listings, HNSW above)",
    positiveInteger,
  )
  .option('--no-cache', 'run every pipeline task, even those an earlier run finished with the same inputs')
  .option(
    '--containers',
    'run the load and every task in its container image (podman or docker: no network, read-only root, uid 1000), as Kubeflow runs its pods; build them first with npm run images -- --offline',
  )
  .option('--image-tag <tag>', 'with --containers: the images’ tag (default: the tag npm run images gives this checkout)')
  .action(async (options: StartOptions) => {
    // A folder given is checked before anything is opened. The load runs in this process (with
    // --containers, in the load image); the database is closed before the pipeline starts, since its
    // tasks open the embedded database themselves.
    if (options.fashionMnist && (options.data || options.demo))
      throw new InputError('--fashion-mnist is the catalogue: give no --data or --demo with it');
    if (options.fashionLimit && !options.fashionMnist) throw new InputError('--fashion-limit goes with --fashion-mnist');
    const given = options.fashionMnist
      ? await fashionSource(options.fashionMnist, options.fashionLimit, loadConfig().home)
      : (options.data ?? process.env['MARKETPLACE_DATA']);
    let folder = given ? await resolveSource(given, {}) : undefined;
    const prepared = await withRuntime('start', async (runtime) => {
      const { db, config } = runtime;
      if (!folder && (options.demo || (await rawRows(db)) === 0)) {
        const dir = path.join(config.home, 'demo-export');
        const demo = await generateDemoExport(dir);
        process.stderr.write(
          `no data given: using the SYNTHETIC demo catalogue (${demo.products} listings, ${demo.images} generated pictures) in ${dir}\n`,
        );
        folder = await resolveSource(dir, {});
      }
      // With --containers the load runs in its image, after this process has closed the database.
      const loaded =
        folder && !options.containers
          ? await loadFromCommandLine(runtime, folder, {
              imagesZip: options.imagesZip,
              batchSize: options.batchSize,
              productsTable: 'products',
              imagesTable: 'images',
              full: options.full ?? false,
            })
          : undefined;
      return {
        load: loaded,
        home: config.home,
        log: runtime.log,
        dir: folder ? (given ?? path.join(config.home, 'demo-export')) : undefined,
      };
    });
    const { home, log, dir } = prepared;
    let load: unknown = prepared.load;
    const imageTag = options.containers ? (options.imageTag ?? defaultImageTag(REPO_ROOT)) : undefined;
    const containers = options.containers
      ? containerRunner({ repoRoot: REPO_ROOT, home, runsDir: path.join(home, 'runs'), readOnly: dir ? [path.resolve(dir)] : [] })
      : undefined;
    if (containers && dir) {
      const image = `${PLACEHOLDER_REGISTRY}/marketplace-load:${imageTag}`;
      load = await loadInContainer(containers, {
        image,
        dir: path.resolve(dir),
        batchSize: options.batchSize,
        full: options.full ?? false,
        imagesZip: options.imagesZip,
        logFile: path.join(home, 'runs', `load-${Date.now()}.log`),
      });
    }

    // The local runner runs each task from this checkout: the images are named, never pulled.
    const specYaml = await compileToYaml(marketplaceRanking, { imageRegistry: PLACEHOLDER_REGISTRY, ...(imageTag ? { imageTag } : {}) });
    const run = await runPipeline({
      specYaml,
      parameters: pipelineParameters(options),
      runsDir: path.join(home, 'runs'),
      cache: options.cache,
      ...(containers ? { containers } : { mapCommand: mapCommandToCheckout(REPO_ROOT) }),
      log,
    });

    const snapshot = await readJson<SnapshotFacts>(task(run, 'snapshot')?.artifacts?.['snapshot']);
    const trained = await readJson<{ uri: string }>(task(run, 'train')?.artifacts?.['model']);
    const metrics = await readJson<{ metrics: { name: string; numberValue: number }[] }>(task(run, 'evaluate')?.artifacts?.['metrics']);
    const serving = await withStore('start', ({ store }) => readServingRecord(store));
    const clean = await withRuntime('start', ({ db }) => cleanAccounting(db));
    const lines = ['', ...(snapshot ? catalogueLines(snapshot) : []), ''];
    lines.push(`pipeline run ${run.id}: ${run.status.toLowerCase()} (${path.join(run.folder, 'run.json')})`);
    for (const t of Object.values(run.tasks))
      lines.push(
        `  ${t.path.padEnd(28)} ${t.status.toLowerCase()}${t.seconds !== undefined ? ` in ${Math.round(t.seconds)} s` : ''}${t.image ? `  ${t.image} ${t.imageDigest}` : ''}`,
      );
    const reports = Object.entries({
      'EDA report': task(run, 'snapshot')?.artifacts?.['eda'],
      'drift report': task(run, 'drift')?.artifacts?.['report'],
      'training curves': task(run, 'train')?.artifacts?.['curves'],
      'evaluation report': task(run, 'evaluate')?.artifacts?.['report'],
    }).filter((entry): entry is [string, string] => entry[1] !== undefined);
    const drift = task(run, 'drift');
    if (drift?.parameters?.['drifted'] === false)
      lines.push(
        '',
        'no drift: the model in production stays, nothing was retrained; it indexed the new snapshot, which is now in service',
      );
    if (reports.length > 0)
      lines.push('', 'reports (open in a browser):', ...reports.map(([name, file]) => `  ${name.padEnd(18)} file://${file}`));
    if (trained) lines.push('', `model: ${trained.uri}`);
    if (metrics) lines.push(...metrics.metrics.map((m) => `  ${m.name.padEnd(24)} ${m.numberValue.toFixed(4)}`));
    // What the Kubeflow UI would show: each task's output artifact metadata, from its executor output.
    const shown = Object.values(run.tasks).flatMap((t) =>
      Object.entries(t.metadata ?? {}).flatMap(([artifact, values]) => {
        const scalars = metadataScalars(values);
        return scalars.length > 0
          ? [`  ${`${t.path.split('/').at(-1)}.${artifact}`.padEnd(24)} ${scalars.map(([k, v]) => `${k} ${v}`).join(', ')}`]
          : [];
      }),
    );
    if (shown.length > 0) lines.push('', 'metrics as the Kubeflow UI shows them (executor output):', ...shown);
    lines.push(
      '',
      serving
        ? `in production: model ${serving.model.version}, index ${serving.index?.version ?? '(none)'}; query it with: npm run serve`
        : 'nothing in production yet',
      '',
    );
    process.stderr.write(lines.join('\n'));
    printSummary({
      load,
      clean,
      run: {
        id: run.id,
        status: run.status,
        record: path.join(run.folder, 'run.json'),
        tasks: Object.fromEntries(Object.values(run.tasks).map((t) => [t.path, t.status])),
      },
      snapshot: snapshot ? { id: snapshot.id, hash: snapshot.hash, products: snapshot.products } : null,
      drifted: drift?.parameters?.['drifted'] ?? null,
      reports: Object.fromEntries(reports),
      model: trained?.uri ?? null,
      metrics: metrics ? Object.fromEntries(metrics.metrics.map((m) => [m.name, m.numberValue])) : null,
      serving,
    });
    if (run.status !== 'SUCCEEDED') throw new TaskFailedError(run.error ?? 'the pipeline run failed');
  });

/**
 * Where every raw row ended up, read back from the database after the run: read (raw rows) =
 * upserted (in the catalogue) + quarantined (with the rule that refused it) + removed (gone from the
 * source, kept in `removals`).
 */
async function cleanAccounting(db: Database) {
  const count = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
  const side = async (raw: string, clean: string, source: string) => ({
    read: await count(`SELECT count(*) AS n FROM ${raw}`),
    upserted: await count(`SELECT count(*) AS n FROM ${clean}`),
    quarantined: await count(`SELECT count(*) AS n FROM quarantine WHERE source = '${source}'`),
    removed: await count(`SELECT count(*) AS n FROM removals WHERE source = '${source}'`),
  });
  return {
    products: await side('products_raw', 'products', 'products_raw'),
    images: await side('images_raw', 'product_images', 'images_raw'),
  };
}

/** Rows in the raw tables now (0 on a fresh machine). */
async function rawRows(db: Database): Promise<number> {
  return (await db.query<{ n: number }>('SELECT count(*) AS n FROM products_raw')).rows[0]?.n ?? 0;
}

await runMain(program);
