/**
 * `npm start`: the main job on one machine, on the embedded defaults (PGlite, a local artifact
 * folder) unless DATABASE_URL / ARTIFACT_ROOT say otherwise. Until the pipeline's components exist it
 * runs the first step, the raw load, and reports what the raw catalogue holds; the local runner of the
 * compiled pipeline takes its place as the components land.
 */
import { createCommand, InputError, positiveInteger, printSummary, runMain, withRuntime, type Database } from '../components/core/index.js';
import { loadFromCommandLine } from '../components/load/main.js';

interface StartOptions {
  data?: string;
  imagesZip?: string;
  batchSize: number;
}

interface CatalogueReport {
  products: number;
  images: number;
  productsWithImages: number;
  refusals: number;
  rootCategories: Record<string, number>;
}

/** What the raw tables hold now (all loads so far, not only this one). */
async function describeRawCatalogue(db: Database): Promise<CatalogueReport> {
  const one = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
  const roots = await db.query<{ root: string; n: number }>(
    `SELECT coalesce(nullif(trim(split_part(category, ' / ', 1)), ''), '(none)') AS root, count(*) AS n
       FROM products_raw GROUP BY 1 ORDER BY 2 DESC, 1`,
  );
  return {
    products: await one('SELECT count(*) AS n FROM products_raw'),
    images: await one('SELECT count(*) AS n FROM images_raw'),
    productsWithImages: await one('SELECT count(DISTINCT p.id) AS n FROM products_raw p JOIN images_raw i ON i.product_id = p.id'),
    refusals: await one('SELECT count(*) AS n FROM load_refusals'),
    rootCategories: Object.fromEntries(roots.rows.map((row) => [row.root, row.n])),
  };
}

function printReport(report: CatalogueReport): void {
  const width = Math.max(...Object.keys(report.rootCategories).map((name) => name.length), 20);
  const lines = [
    '',
    `raw catalogue: ${report.products} products (${report.productsWithImages} with image rows), ${report.images} image rows, ${report.refusals} refused rows on record`,
    '',
    `${'root category'.padEnd(width)}  products`,
    ...Object.entries(report.rootCategories).map(([name, count]) => `${name.padEnd(width)}  ${String(count).padStart(8)}`),
    '',
  ];
  process.stderr.write(lines.join('\n'));
}

const program = createCommand('start', 'Run the main job on this machine: load the export and report the raw catalogue.')
  .option('--data <dir>', 'export folder (Products.csv, Images.csv, images/); default $MARKETPLACE_DATA')
  .option('--images-zip <path-or-url>', "the seed's image archive, if the images are not in <dir>/images")
  .option('--batch-size <rows>', 'rows per upsert transaction', positiveInteger, 500)
  .action(async (options: StartOptions) => {
    const data = options.data ?? process.env['MARKETPLACE_DATA'];
    if (!data) throw new InputError('no data: give --data <dir> (for example --data ../shared/data) or set MARKETPLACE_DATA');
    const load = await loadFromCommandLine(data, {
      imagesZip: options.imagesZip,
      batchSize: options.batchSize,
      productsTable: 'products',
      imagesTable: 'images',
    });
    const catalogue = await withRuntime('start', ({ db }) => describeRawCatalogue(db));
    printReport(catalogue);
    printSummary({ load, catalogue });
  });

await runMain(program);
