/**
 * `npm start`: the main job on one machine, on the embedded defaults (PGlite, a local artifact
 * folder) unless DATABASE_URL / ARTIFACT_ROOT say otherwise. Today it runs the steps that exist (the
 * raw load when --data is given, then clean and a snapshot) and reports the catalogue; the local runner
 * of the compiled pipeline takes over as the remaining components land.
 */
import { cleanCatalogue } from '../components/clean/clean.js';
import { loadGazetteer } from '../components/clean/gazetteer/index.js';
import { publishReport } from '../components/clean/report.js';
import { takeSnapshot, type Snapshot } from '../components/clean/snapshot.js';
import path from 'node:path';
import { createCommand, positiveInteger, printSummary, runMain, withRuntime, type Database } from '../components/core/index.js';
import { generateDemoExport } from '../components/load/demo.js';
import { loadFromCommandLine, resolveSource } from '../components/load/main.js';

interface StartOptions {
  data?: string;
  demo?: boolean;
  imagesZip?: string;
  batchSize: number;
}

function printReport(snapshot: Snapshot): void {
  const roots = Object.entries(snapshot.counts.rootCategories).sort((a, b) => b[1] - a[1]);
  const rules = Object.entries(snapshot.counts.quarantineRules).sort((a, b) => b[1] - a[1]);
  const width = Math.max(20, ...roots.map(([name]) => name.length), ...rules.map(([name]) => name.length));
  const row = (name: string, count: number) => `${name.padEnd(width)}  ${String(count).padStart(8)}`;
  const lines = [
    '',
    `catalogue ${snapshot.id}: ${snapshot.products} products (${snapshot.counts.located} placed on the map), ` +
      `${snapshot.productImages} images; ${snapshot.quarantined} raw rows in quarantine`,
    '',
    `${'root category'.padEnd(width)}  products`,
    ...roots.map(([name, count]) => row(name, count)),
    '',
    `${'quarantine rule'.padEnd(width)}      rows`,
    ...rules.map(([name, count]) => row(name, count)),
    '',
  ];
  process.stderr.write(lines.join('\n'));
}

const program = createCommand('start', 'Run the main job on this machine: load the export, clean it, pin a snapshot, report the catalogue.')
  .option('--data <dir>', 'export folder (Products.csv, Images.csv, images/) to load first; default $MARKETPLACE_DATA, else what the raw tables hold')
  .option('--demo', 'load the generated demo catalogue (synthetic listings with pictures); the default when there is no data at all')
  .option('--images-zip <path-or-url>', "the seed's image archive, if the images are not in <dir>/images")
  .option('--batch-size <rows>', 'rows per transaction', positiveInteger, 500)
  .action(async (options: StartOptions) => {
    // A folder given is checked before anything is opened; then one runtime serves every step, so the
    // embedded database is opened (and locked) once.
    const given = options.data ?? process.env['MARKETPLACE_DATA'];
    let folder = given ? await resolveSource(given, {}) : undefined;
    const { load, clean, snapshot, report } = await withRuntime('start', async (runtime) => {
      const { db, store, log, config } = runtime;
      if (!folder && (options.demo || (await rawRows(db)) === 0)) {
        const dir = path.join(config.home, 'demo-export');
        const demo = await generateDemoExport(dir);
        process.stderr.write(`no data given: using the SYNTHETIC demo catalogue (${demo.products} listings, ${demo.images} generated pictures) in ${dir}\n`);
        folder = await resolveSource(dir, {});
      }
      const loaded = folder
        ? await loadFromCommandLine(runtime, folder, { imagesZip: options.imagesZip, batchSize: options.batchSize, productsTable: 'products', imagesTable: 'images' })
        : undefined;
      const counts = await cleanCatalogue({ db, store, log, gazetteer: loadGazetteer(), batchSize: options.batchSize });
      const taken = await takeSnapshot(db, store);
      return { load: loaded, clean: counts, snapshot: taken, report: (await publishReport(db, store, taken)).uri };
    });
    printReport(snapshot);
    process.stderr.write(`EDA report (open in a browser): ${report}\n`);
    printSummary({ load, clean, snapshot: { id: snapshot.id, hash: snapshot.hash, products: snapshot.products, newListings: snapshot.newListings }, report });
  });

/** Rows in the raw tables now (0 on a fresh machine). */
async function rawRows(db: Database): Promise<number> {
  return (await db.query<{ n: number }>('SELECT count(*) AS n FROM products_raw')).rows[0]?.n ?? 0;
}

await runMain(program);
