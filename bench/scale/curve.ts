/**
 * `npm run bench -- --scale 100000,1000000`: the scale curve. For each N, on a synthetic catalogue of N
 * listings (bench/scale/generate.ts, cached under $TMPDIR by N and seed), each step in its own process so
 * that its peak RSS is its own, with its baseline from the same run:
 *  - load: data:load (staged COPY + SQL merge) into a fresh Postgres vs psql COPY of the same rows as the
 *    raw tables hold them (both tables); PGlite too up to 10^5;
 *  - index: the product index chosen by a memory budget (bytes per listing) over N synthetic clustered
 *    256-d unit vectors vs python3-faiss building the same type from the same vectors, and its search
 *    with the same nprobe/efSearch (one query a call on one thread, CPU time; recall@10 vs exact);
 *  - service rows: bytes per listing (V8 heap + typed arrays) of the product rows as the service holds them
 *    (columns: product-rows.ts) beside the JS objects + id Map it held before, from the same JSON;
 *  - serve (not in the default steps): bench/scale/serve-step.ts, the service over a synthetic index of N
 *    listings (load time, RSS, p50/p99 at 1 and 16 connections), against --baseline-tree when given.
 * Prints a table and one JSON line; projects 10^7 and 10^8 from the measured curve.
 * Usage: node --import tsx bench/scale/curve.ts --scale 100000,1000000 [--seed 1] [--budget 300] [--steps load,index,rows,serve]
 *          [--baseline-tree <an older checkout, for serve>]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { migrate, openPostgres } from '../../components/core/platform/index.js';
import { IMAGES, normalizeRecord, PRODUCTS, rawUpsertSpec, toUpsertRow, type RawTableShape } from '../../components/load/raw-tables.js';
import { csvSource } from '../../components/load/sources.js';
import { freshPostgresDatabase, REPO_ROOT } from '../../test/helpers.js';
import { generateCatalogue, type GeneratedCatalogue } from './generate.js';

/** The real export beside the repository (its vocabulary is recombined): ../shared/data, or MARKETPLACE_DATA. */
const SHARED_DATA = process.env['MARKETPLACE_DATA'] ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
const { values } = parseArgs({
  strict: false,
  options: {
    scale: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    budget: { type: 'string', default: '300' },
    steps: { type: 'string', default: 'load,index,rows' },
    data: { type: 'string', default: SHARED_DATA },
    'baseline-tree': { type: 'string' },
  },
});
const scales = String(values.scale)
  .split(',')
  .map((s) => Number(s.trim().replace(/e(\d+)$/i, (_, e: string) => '0'.repeat(Number(e)))));
const seed = Number(values.seed);
const steps = new Set(String(values.steps).split(','));
const budgetPerVector = Number(values.budget);
const here = import.meta.dirname;
const say = (text: string) => process.stderr.write(`scale: ${text}\n`);

/** Runs a command under /usr/bin/time: its wall seconds, peak RSS and stdout. */
function measured(command: string, args: string[], env: NodeJS.ProcessEnv = {}): { seconds: number; maxRssBytes: number; stdout: string } {
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 28,
  });
  const line =
    result.stderr
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('TIME ')) ?? '';
  const [, seconds, kb] = line.split(' ');
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr.slice(-2000)}`);
  return { seconds: Number(seconds), maxRssBytes: Number(kb) * 1024, stdout: result.stdout };
}
const lastJson = (stdout: string) =>
  JSON.parse(
    stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .at(-1) ?? '{}',
  ) as Record<string, unknown>;

async function catalogue(n: number): Promise<GeneratedCatalogue> {
  const dir = path.join(os.tmpdir(), `marketplace-scale-${n}-seed${seed}`);
  const info = path.join(dir, 'generator.json');
  if (existsSync(info)) return JSON.parse(await readFile(info, 'utf8')) as GeneratedCatalogue;
  say(`generating ${n} synthetic listings into ${dir}`);
  return generateCatalogue({ out: dir, listings: n, seed, data: String(values.data), dirty: 0.001 });
}

/** The rows as the raw tables hold them, streamed to a CSV for COPY (memory bounded). */
async function copyFile(shape: RawTableShape, file: string, out: string): Promise<{ rows: number; columns: string[] }> {
  const columns = Object.keys(rawUpsertSpec(shape).columns);
  const stream = createWriteStream(out);
  const source = csvSource(file, shape);
  const seen = new Set<string>();
  let rows = 0;
  let batch: unknown[][] = [];
  const flush = async () => {
    if (!stream.write(stringify(batch))) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
    batch = [];
  };
  for await (const record of source.records()) {
    if (!record.ok) continue;
    const normalized = normalizeRecord(shape, record.record, source.label, record.line);
    if (!normalized.ok || seen.has(normalized.row.id)) continue;
    seen.add(normalized.row.id);
    const row = toUpsertRow(normalized.row);
    batch.push(columns.map((c) => (c === 'extra' ? JSON.stringify(row[c]) : row[c])));
    rows += 1;
    if (batch.length >= 5000) await flush();
  }
  await flush();
  await new Promise<void>((resolve) => stream.end(() => resolve()));
  return { rows, columns };
}

type Row = Record<string, unknown>;
const curve: { n: number; load?: Row; index?: Row; rows?: Row; serve?: Row; generator: Row }[] = [];

for (const n of scales) {
  const generated = await catalogue(n);
  const point: (typeof curve)[number] = {
    n,
    generator: { productLines: generated.productLines, imageRows: generated.imageRows, bytes: generated.bytes },
  };
  curve.push(point);

  if (steps.has('load')) {
    const work = path.join(os.tmpdir(), `marketplace-scale-work-${n}`);
    await mkdir(work, { recursive: true });
    say(`${n}: the rows as the raw tables hold them, for psql COPY`);
    const copies = [
      {
        table: 'products_raw',
        file: path.join(work, 'products_raw.csv'),
        ...(await copyFile(PRODUCTS, generated.products, path.join(work, 'products_raw.csv'))),
      },
      {
        table: 'images_raw',
        file: path.join(work, 'images_raw.csv'),
        ...(await copyFile(IMAGES, generated.images, path.join(work, 'images_raw.csv'))),
      },
    ];
    const rows = copies.reduce((sum, c) => sum + c.rows, 0);
    // Baseline: psql \copy into freshly migrated tables (primary keys in place, as data:load has them).
    const baseDb = await freshPostgresDatabase();
    const base = await openPostgres(baseDb.url);
    await migrate(base);
    await base.close();
    say(`${n}: psql COPY`);
    const copyStarted = performance.now();
    for (const copy of copies)
      execFileSync('psql', [
        baseDb.url,
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        `\\copy ${copy.table} (${copy.columns.join(', ')}) FROM '${copy.file}' WITH (FORMAT csv)`,
      ]);
    const copySeconds = (performance.now() - copyStarted) / 1000;
    await baseDb.drop();
    // data:load into a fresh Postgres, its own process.
    const loadDb = await freshPostgresDatabase();
    say(`${n}: data:load into Postgres`);
    const home = path.join(work, 'home');
    const load = measured(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components/load/main.ts'), generated.dir], {
      DATABASE_URL: loadDb.url,
      MARKETPLACE_HOME: home,
      ARTIFACT_ROOT: `file://${path.join(home, 'artifacts')}`,
      LOG_LEVEL: 'warn',
    });
    const summary = lastJson(load.stdout);
    // The same export again into the same database: the tables are not empty, so every row goes through
    // the staging table and the SQL merge (a first load copies first occurrences straight in), and
    // nothing changes. The cost of a daily reload of the whole catalogue.
    say(`${n}: data:load again (a reload: staged and merged, nothing changes)`);
    const reload = measured(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components/load/main.ts'), generated.dir], {
      DATABASE_URL: loadDb.url,
      MARKETPLACE_HOME: home,
      ARTIFACT_ROOT: `file://${path.join(home, 'artifacts')}`,
      LOG_LEVEL: 'warn',
    });
    const reloaded = lastJson(reload.stdout);
    await loadDb.drop();
    const loadPoint: Row = {
      rows,
      copySeconds,
      copyRowsPerSecond: rows / copySeconds,
      loadSeconds: load.seconds,
      loadRowsPerSecond: rows / load.seconds,
      ratioVsCopy: copySeconds / load.seconds,
      loadMaxRssBytes: load.maxRssBytes,
      reloadSeconds: reload.seconds,
      reloadRatioVsCopy: copySeconds / reload.seconds,
      reloadMaxRssBytes: reload.maxRssBytes,
      summary: { products: summary['products'], images: summary['images'] },
      reloadSummary: { products: reloaded['products'], images: reloaded['images'] },
    };
    if (n <= 100_000) {
      say(`${n}: data:load into PGlite`);
      const pgliteHome = path.join(work, 'pglite-home');
      await rm(pgliteHome, { recursive: true, force: true });
      const pglite = measured(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components/load/main.ts'), generated.dir], {
        DATABASE_URL: '',
        MARKETPLACE_HOME: pgliteHome,
        ARTIFACT_ROOT: `file://${path.join(pgliteHome, 'artifacts')}`,
        LOG_LEVEL: 'warn',
      });
      Object.assign(loadPoint, {
        pgliteSeconds: pglite.seconds,
        pgliteRatioVsCopy: copySeconds / pglite.seconds,
        pgliteMaxRssBytes: pglite.maxRssBytes,
      });
    }
    point.load = loadPoint;
    await rm(work, { recursive: true, force: true });
  }

  if (steps.has('index')) {
    const work = path.join(os.tmpdir(), `marketplace-scale-index-${n}`);
    await mkdir(work, { recursive: true });
    say(`${n}: index within ${budgetPerVector} bytes a vector`);
    const step = measured(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(here, 'index-step.ts'),
        '--n',
        String(n),
        '--out',
        work,
        '--budget-bytes-per-vector',
        String(budgetPerVector),
      ],
      { OMP_WAIT_POLICY: 'PASSIVE' },
    );
    const ours = lastJson(step.stdout);
    const dim = Number(ours['dim']);
    say(`${n}: python3-faiss builds ${String(ours['type'])} and searches it`);
    const pyEnv = { OMP_WAIT_POLICY: 'PASSIVE' };
    const build = measured(
      '/usr/bin/python3',
      [
        path.join(here, 'faiss_build.py'),
        path.join(work, 'vectors.f32'),
        path.join(work, 'queries.f32'),
        path.join(work, 'truth.i32'),
        String(dim),
        '10',
        String(ours['type']),
        String(ours['trainSample']),
        String(ours['nprobe'] ?? 0),
        String(ours['efSearch'] ?? 0),
        String(ours['quantizerEfSearch'] ?? 0),
      ],
      pyEnv,
    );
    const search = measured(
      '/usr/bin/python3',
      [
        path.join(here, '..', 'faiss_search.py'),
        path.join(work, 'index.faiss'),
        path.join(work, 'queries.f32'),
        path.join(work, 'truth.i32'),
        String(dim),
        '10',
        String(ours['efSearch'] ?? 0),
        '1',
        '1',
        '1',
      ],
      pyEnv,
    );
    // nprobe and efSearch travel in the index file (faiss writes them), so python3-faiss searches with ours.
    const python = { build: lastJson(build.stdout), buildMaxRssBytes: build.maxRssBytes, search: lastJson(search.stdout) };
    point.index = { ...ours, maxRssBytes: step.maxRssBytes, python };
    await rm(work, { recursive: true, force: true });
  }

  if (steps.has('rows')) {
    say(`${n}: service rows in memory`);
    const step = measured(process.execPath, [
      '--expose-gc',
      '--import',
      'tsx',
      path.join(here, 'rows-step.ts'),
      '--n',
      String(n),
      '--data',
      String(values.data),
    ]);
    point.rows = { ...lastJson(step.stdout), maxRssBytes: step.maxRssBytes };
  }

  if (steps.has('serve')) {
    say(`${n}: the service over a synthetic index`);
    const baseline = values['baseline-tree'] ? ['--baseline-tree', String(values['baseline-tree'])] : [];
    const step = measured(process.execPath, [
      '--import',
      'tsx',
      path.join(here, 'serve-step.ts'),
      '--n',
      String(n),
      '--data',
      String(values.data),
      '--work',
      path.join(os.tmpdir(), 'marketplace-serve-step'),
      ...baseline,
    ]);
    point.serve = lastJson(step.stdout);
  }
}

// Projection: per-listing figures from the largest measured N, scaled (the curve says whether they are flat).
const largest = curve.at(-1)!;
const perListing = {
  indexBytes: Number(largest.index?.['bytesPerVector'] ?? NaN),
  // The V8 heap the rows take (the RSS delta is not a measure here: the rows JSON is resident before it is parsed).
  rowsBytes: Number(largest.rows?.['heapBytesPerListing'] ?? NaN),
  loadRowsPerSecond: Number(largest.load?.['loadRowsPerSecond'] ?? NaN),
};
const projection = [1e7, 1e8].map((n) => {
  const indexGiB = (n * perListing.indexBytes) / 2 ** 30;
  const rowsGiB = (n * perListing.rowsBytes) / 2 ** 30;
  // A search replica on the EKS CPU node group (m6i.xlarge: 16 GiB, about 13.7 GiB allocatable) holds at most ~10 GiB of index + rows.
  const shardsPerReplica = Math.max(1, Math.ceil((indexGiB + rowsGiB) / 10));
  const embedShards = Math.ceil(n / 1e6);
  return {
    listings: n,
    indexGiB,
    rowsGiB,
    searchShards: shardsPerReplica,
    embedShards,
    loadHoursAtMeasuredRate: n / perListing.loadRowsPerSecond / 1.76 / 3600,
  };
});

const gib = (bytes: unknown) => `${(Number(bytes) / 2 ** 30).toFixed(2)} GiB`;
const f = (x: unknown, digits = 0) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const lines = [
  `Scale curve (${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, shared; synthetic catalogue from ${String(values.data)}, seed ${seed})`,
  '',
];
lines.push('| N | step | wall s | rows/s | peak RSS | baseline (same run) | ratio |', '|---:|---|---:|---:|---:|---|---:|');
for (const point of curve) {
  const load = point.load;
  if (load) {
    lines.push(
      `| ${point.n} | data:load -> Postgres (${f(load['rows'])} rows) | ${f(load['loadSeconds'], 1)} | ${f(load['loadRowsPerSecond'])} | ${gib(load['loadMaxRssBytes'])} | psql COPY ${f(load['copySeconds'], 1)} s, ${f(load['copyRowsPerSecond'])} rows/s | ${f(load['ratioVsCopy'], 2)}x |`,
    );
    if (load['reloadSeconds'])
      lines.push(
        `| ${point.n} | data:load again (reload: staged + merged, nothing changes) | ${f(load['reloadSeconds'], 1)} | ${f(Number(load['rows']) / Number(load['reloadSeconds']))} | ${gib(load['reloadMaxRssBytes'])} | psql COPY (first load) | ${f(load['reloadRatioVsCopy'], 2)}x |`,
      );
    if (load['pgliteSeconds'])
      lines.push(
        `| ${point.n} | data:load -> PGlite | ${f(load['pgliteSeconds'], 1)} | ${f(Number(load['rows']) / Number(load['pgliteSeconds']))} | ${gib(load['pgliteMaxRssBytes'])} | psql COPY (Postgres) | ${f(load['pgliteRatioVsCopy'], 2)}x |`,
      );
  }
  const index = point.index;
  if (index) {
    const py = index['python'] as { build: Row; search: { single?: Row } };
    lines.push(
      `| ${point.n} | index ${String(index['type'])} (${index['nprobe'] ? `nprobe ${String(index['nprobe'])}` : `efSearch ${String(index['efSearch'])}`}), budget ${budgetPerVector} B/listing | ${f(index['buildSeconds'], 1)} build | | ${gib(index['maxRssBytes'])} | python3-faiss build ${f(py.build['buildSeconds'], 1)} s | ${f(Number(py.build['buildSeconds']) / Number(index['buildSeconds']), 2)}x |`,
    );
    lines.push(
      `| ${point.n} | index size ${f(index['bytesPerVector'])} B/listing, recall@10 ${f(index['heldOutRecall'], 3)} (held-out) | | | | python3-faiss recall ${f(py.build['recall'], 3)} | |`,
    );
    lines.push(
      `| ${point.n} | one query a call, 1 thread: ${f(index['singleCpuQps'])} QPS by CPU time, p50 ${f(index['p50ms'], 2)} ms, p99 ${f(index['p99ms'], 2)} ms (wall) | | | | python3-faiss ${f(py.search.single?.['cpuQps'])} QPS | ${f(Number(index['singleCpuQps']) / Number(py.search.single?.['cpuQps']), 2)}x |`,
    );
  }
  const rows = point.rows;
  if (rows) {
    const objects = rows['objects'] as Row | undefined;
    const columns = rows['columns'] as Row | undefined;
    lines.push(
      `| ${point.n} | service product rows in columns (id table included), read in ${f(columns?.['readSeconds'], 1)} s | | | ${gib(rows['maxRssBytes'])} | JS objects + id Map ${f(objects?.['bytesPerListing'])} B, read in ${f(objects?.['readSeconds'], 1)} s | ${f(rows['heapBytesPerListing'])} B per listing (${f(rows['ratio'], 2)}x) |`,
    );
  }
  const services = (point.serve?.['services'] ?? []) as Row[];
  for (const s of services) {
    const h1 = s['hybrid1'] as Row;
    const h16 = s['hybrid16'] as Row;
    lines.push(
      `| ${point.n} | service (${String(s['tree'])}): ready in ${f(s['loadSeconds'], 1)} s; hybrid p50/p99 ${f(h1['p50'])}/${f(h1['p99'])} ms at 1 conn, ${f(h16['p50'])}/${f(h16['p99'])} ms at 16 | ${f(s['loadSeconds'], 1)} | ${f(h16['perSecond'])} req/s | ${gib(s['rssBytes'])} RSS | | |`,
    );
  }
}
lines.push(
  '',
  '| listings | product index (GiB) | product rows in columns (GiB) | search shards of <= 10 GiB | embedding shards of 10^6 |',
  '|---:|---:|---:|---:|---:|',
);
for (const p of projection)
  lines.push(
    `| ${p.listings.toExponential(0)} | ${p.indexGiB.toFixed(1)} | ${p.rowsGiB.toFixed(1)} | ${p.searchShards} | ${p.embedShards} |`,
  );
console.log(lines.join('\n'));
console.log(JSON.stringify({ benchmark: 'scale', scales, seed, budgetBytesPerListing: budgetPerVector, curve, perListing, projection }));
