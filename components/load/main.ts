/**
 * `npm run data:load -- <dir>`: loads an AiCore export into the raw layout production has
 * (Postgres tables `products_raw`, `images_raw`; image objects `raw-images/<id>.jpg`).
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import {
  createCommand,
  InputError,
  loadConfig,
  positiveInteger,
  printSummary,
  runMain,
  withRuntime,
  type Logger,
  type Runtime,
} from '../core/platform/index.js';
import { FASHION_MNIST_DIR } from '../core/contracts/index.js';
import { fashionSource } from './fashion-mnist.js';
import { findExportFiles, type ExportFolder } from './folder.js';
import { folderImages, zipImages, type ImageFiles } from './image-files.js';
import { loadRaw, type LoadSummary } from './load.js';
import type { RemovalOptions } from './removals.js';
import { IMAGES, PRODUCTS } from './raw-tables.js';
import { csvSource, postgresTableSource, type RecordSource } from './sources.js';

export interface LoadCommandOptions {
  from?: string;
  productsTable: string;
  imagesTable: string;
  imagesZip?: string;
  batchSize: number;
  /** The folder is the whole catalogue: raw rows absent from it are marked removed. */
  full?: boolean;
  removedColumn?: string;
  removedValues?: string[];
  maxRemovedFraction?: number;
  /** Load the Fashion-MNIST pictures catalogue, converted from this IDX folder (true: the Debian package's). */
  fashionMnist?: string | boolean;
  fashionLimit?: number;
}

/**
 * How the source says that listings left: a folder only with --full; a --from database is a copy of
 * the whole table (so always full), and its own removal column is honoured when one is named.
 */
export function removalOf(folder: ExportFolder | undefined, options: LoadCommandOptions): RemovalOptions {
  if (folder && options.removedColumn)
    throw new InputError('--removed-column names a column of the --from database; a folder says what left with --full');
  const marker = options.removedColumn
    ? { column: options.removedColumn, ...(options.removedValues ? { values: options.removedValues } : {}) }
    : undefined;
  return {
    full: folder ? (options.full ?? false) : true,
    ...(marker ? { marker } : {}),
    ...(options.maxRemovedFraction !== undefined ? { maxFraction: options.maxRemovedFraction } : {}),
  };
}

function fraction(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0 && parsed <= 1)) throw new InvalidArgumentError(`'${value}' is not a fraction in (0, 1].`);
  return parsed;
}

/**
 * The export folder a command line names, checked before anything is opened (a missing folder is bad
 * input, reported without touching the database); undefined when it names a --from database instead.
 */
export async function resolveSource(dir: string | undefined, options: Pick<LoadCommandOptions, 'from'>): Promise<ExportFolder | undefined> {
  if ((dir === undefined) === (options.from === undefined)) {
    throw new InputError('give either a data folder or --from <postgres-url>, not both or neither');
  }
  return dir === undefined ? undefined : findExportFiles(dir);
}

/** Loads a resolved source with an open runtime (shared with `npm start`). */
export async function loadFromCommandLine(
  { db, store, log }: Runtime,
  folder: ExportFolder | undefined,
  options: LoadCommandOptions,
): Promise<LoadSummary> {
  const imageFiles: ImageFiles[] = [];
  try {
    if (folder) imageFiles.push(await folderImages(folder.imagesDir));
    if (options.imagesZip) imageFiles.push(await zipImages(options.imagesZip, log));
    const [products, images] = recordSources(folder, options);
    logSources(log, products, images, imageFiles);
    return await loadRaw({
      db,
      store,
      log,
      products,
      images,
      imageFiles,
      batchSize: options.batchSize,
      removal: removalOf(folder, options),
    });
  } finally {
    await Promise.all(imageFiles.map((files) => files.close()));
  }
}

function recordSources(folder: ExportFolder | undefined, options: LoadCommandOptions): [RecordSource, RecordSource] {
  if (folder) return [csvSource(folder.products, PRODUCTS), csvSource(folder.images, IMAGES)];
  const url = options.from ?? '';
  return [postgresTableSource(url, options.productsTable, PRODUCTS), postgresTableSource(url, options.imagesTable, IMAGES)];
}

function logSources(log: Logger, products: RecordSource, images: RecordSource, imageFiles: ImageFiles[]): void {
  const files = imageFiles.map((source) => `${source.label} (${source.files.size} image files)`);
  log.info({ products: products.label, images: images.label, imageFiles: files }, 'loading');
}

export function loadCommand() {
  return createCommand('data:load', 'Load an AiCore/Gumtree export into the raw tables and the raw image objects.')
    .argument('[dir]', 'export folder with Products.csv, Images.csv and images/<image id>.jpg')
    .option('--from <postgres-url>', "copy the seed's products and images tables from this source database instead")
    .option('--products-table <name>', 'products table in the --from database', 'products')
    .option('--images-table <name>', 'images table in the --from database', 'images')
    .option('--images-zip <path-or-url>', "the seed's image archive (zip), local or http(s); its <image id>.jpg files are stored")
    .option(
      '--fashion-mnist [idx-dir]',
      `the Fashion-MNIST pictures catalogue instead of a folder: 70,000 listings, one picture each, converted from the IDX files (default ${FASHION_MNIST_DIR}, Debian's dataset-fashion-mnist) into $MARKETPLACE_HOME/exports/ once`,
    )
    .option('--fashion-limit <n>', 'with --fashion-mnist: the first n pictures of each official split only (a quick run)', positiveInteger)
    .option('--batch-size <rows>', 'rows per upsert transaction', positiveInteger, 500)
    .option(
      '--full',
      'the folder is the whole catalogue: listings (and image rows) absent from it are marked removed; without it a load only adds and updates',
    )
    .option(
      '--removed-column <name>',
      'a column of the --from tables that marks a row removed (deleted_at, status); a --from copy is always full',
    )
    .option(
      '--removed-values <list>',
      'comma-separated values of --removed-column that mean removed (default: any value but empty, false, 0)',
      (v: string) =>
        v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
    )
    .option(
      '--max-removed-fraction <x>',
      'refuse a full load that would mark more than this fraction of the live rows removed',
      fraction,
      0.5,
    )
    .addHelpText(
      'after',
      '\nPrints one JSON line: {"products":{"read","loaded","refused","removed","restored",…},"images":{…},"imageFiles":{"stored","missing",…}}.\n' +
        'Removed rows stay in the raw tables, marked; clean takes them out of the catalogue and keeps them in `removals`.\n' +
        'Exit codes: 0 loaded, 1 failure, 2 bad usage or input. Database and artifact store come from\n' +
        'DATABASE_URL (unset: embedded) and ARTIFACT_ROOT (unset: $MARKETPLACE_HOME/artifacts).',
    )
    .action(async (dirArgument: string | undefined, options: LoadCommandOptions) => {
      let dir = dirArgument;
      if (options.fashionMnist) {
        if (dir !== undefined || options.from) throw new InputError('--fashion-mnist is the source: give no data folder or --from with it');
        dir = await fashionSource(options.fashionMnist, options.fashionLimit, loadConfig().home);
      }
      const folder = await resolveSource(dir, options);
      printSummary(await withRuntime('load', (runtime) => loadFromCommandLine(runtime, folder, options)));
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMain(loadCommand());
}
