/**
 * `npm run clean`: the raw layer to the clean catalogue, then a snapshot of it.
 *   clean [--partition k/N]   clean what is new or changed (one partition only: no snapshot)
 *   clean snapshot            pin the catalogue as it is
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import {
  createCommand,
  positiveInteger,
  printSummary,
  runMain,
  withRuntime,
  writeOutputFile,
  type Runtime,
} from '../core/platform/index.js';
import { SNAPSHOT_KEY } from '../core/contracts/index.js';
import { cleanCatalogue, cleanImages, type Partition } from './clean.js';
import { loadGazetteer } from '../core/contracts/index.js';
import { DEFAULT_IMAGE_LIMITS } from './images.js';
import { publishReport } from './report.js';
import { takeSnapshot, type Snapshot } from './snapshot.js';

/** `k/N`: the rows whose id hashes to k of N partitions. */
export function parsePartition(value: string): Partition {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new InvalidArgumentError(`'${value}' is not a partition k/N with 0 <= k < N.`);
  return { index, count };
}

interface SnapshotOutputs {
  snapshot?: string;
  newListingsOut?: string;
  report?: string;
}

/** Pins a snapshot, publishes its report, and writes the files a pipeline asked for. */
async function snapshotAndReport(runtime: Runtime, outputs: SnapshotOutputs): Promise<{ snapshot: Snapshot; report: string }> {
  const snapshot = await takeSnapshot(runtime.db, runtime.store);
  const report = await publishReport(runtime.db, runtime.store, snapshot);
  await writeOutputFile(outputs.snapshot, JSON.stringify(snapshot, null, 2));
  await writeOutputFile(outputs.newListingsOut, String(snapshot.newListings));
  await writeOutputFile(outputs.report, report.html);
  return { snapshot, report: report.uri };
}

interface CleanCommandOptions {
  partition?: Partition;
  batchSize: number;
  imageSize: number;
  imageMaxPixels: number;
  cleanedOut?: string;
  snapshot?: string;
  newListingsOut?: string;
  report?: string;
}

export function cleanCommand() {
  const program = createCommand(
    'clean',
    'Clean raw listings and images into the catalogue; refused rows go to quarantine with their reason.',
  )
    .option('--partition <k/N>', 'clean only the rows whose id hashes to partition k of N (then no snapshot is taken)', parsePartition)
    .option('--batch-size <rows>', 'rows per transaction', positiveInteger, 1000)
    .option('--image-size <pixels>', 'side of the model-ready square image copies', positiveInteger, DEFAULT_IMAGE_LIMITS.size)
    .option(
      '--image-max-pixels <n>',
      'larger images are refused undecoded (decompression bombs)',
      positiveInteger,
      DEFAULT_IMAGE_LIMITS.maxPixels,
    )
    .option('--cleaned-out <file>', 'write the number of rows cleaned or changed here (a pipeline output)')
    .option('--snapshot <file>', 'also write the snapshot description (JSON) here')
    .option('--new-listings-out <file>', 'write the number of listings new since the last snapshot here')
    .option('--report <file>', 'also write the EDA report (HTML) here')
    .addHelpText(
      'after',
      '\nPrints one JSON line: {"products":{"read","upserted","quarantined"},"images":{…},"snapshot":{"id","hash"},"report":"<uri>"}.',
    )
    .action(async (options: CleanCommandOptions) => {
      const summary = await withRuntime('clean', async (runtime) => {
        const { db, store, log } = runtime;
        const gazetteer = loadGazetteer();
        const counts = await cleanCatalogue({
          db,
          store,
          log,
          gazetteer,
          partition: options.partition,
          batchSize: options.batchSize,
          images: { size: options.imageSize, maxPixels: options.imageMaxPixels },
        });
        await writeOutputFile(options.cleanedOut, String(counts.products.upserted + counts.images.upserted));
        if (options.partition) return { ...counts, partition: `${options.partition.index}/${options.partition.count}` };
        const { snapshot, report } = await snapshotAndReport(runtime, options);
        return { ...counts, snapshot: { id: snapshot.id, hash: snapshot.hash, uri: store.uri(SNAPSHOT_KEY(snapshot.id)) }, report };
      });
      printSummary(summary);
    });

  program
    .command('snapshot')
    .description('Pin the catalogue as it is now (the same catalogue gives the same snapshot), after the partitions are cleaned.')
    .option('--snapshot <file>', 'write the snapshot description (JSON) here (a pipeline output artifact)')
    .option('--new-listings-out <file>', 'write the number of listings new since the previous snapshot here')
    .option('--report <file>', 'write the EDA report (HTML) here (a pipeline output artifact)')
    .action(async (options: SnapshotOutputs) => {
      const { snapshot, report } = await withRuntime('clean', async (runtime) => {
        // Partitions clean side by side: an image whose product was cleaned in another partition was
        // refused for now ("product not in the catalogue"); one pass over all images picks it up.
        await cleanImages({ ...runtime, gazetteer: loadGazetteer() });
        return snapshotAndReport(runtime, options);
      });
      printSummary({
        snapshot: { id: snapshot.id, hash: snapshot.hash },
        products: snapshot.products,
        newListings: snapshot.newListings,
        report,
      });
    });
  return program;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(cleanCommand());
