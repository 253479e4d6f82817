/**
 * The search service under load on the real catalogue, with a hot swap in the middle, and against
 * the seed's serving stack measured in the same run:
 *  - load: `components/serve/main.ts` as its own process on loopback, following serving/current.json;
 *    autocannon in another process (this file run with --client), 64 connections of
 *    `GET /search?q=<catalogue titles>` in three phases (before / during / after the swap). At the
 *    start of the middle phase a second model and index (another quick train, another seed, built
 *    before the load so the build does not compete for the 2 cores) are deployed with the local
 *    target (`serving/current.json` switched); the service loads them beside the old ones and swaps.
 *    Reported: failed requests (errors + timeouts + non-2xx), p50 / p99 per phase, the server's RSS.
 *  - baseline: FastAPI + uvicorn + faiss (Debian's python3-fastapi, python3-uvicorn, python3-faiss;
 *    bench/serve_baseline.py) serving `/products/<id>/similar` from the same products.faiss,
 *    products.json and products.vectors.f32, against our `/products/:id/similar` (there is no ONNX
 *    runtime for Python in Debian, so the baseline cannot embed a text query). Throughput, p50, p99.
 *  - search modes: hybrid /search (BM25F + dense, fused) against today's dense-only search (mode=dense,
 *    the embedding and one FAISS search) on the same queries, at 64 and at 1 connection, runs
 *    interleaved so that a slow minute of a shared machine hits both; and the lexical index's memory
 *    (its typed arrays and vocabulary, as /readyz reports it) beside the FAISS product index's.
 * Usage: node --import tsx bench/serve.bench.ts [--data dir] [--seconds 60] [--compare-seconds 20] [--quick]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanCatalogue } from '../components/clean/clean.js';
import { loadGazetteer } from '../components/core/contracts/index.js';
import { takeSnapshot } from '../components/clean/snapshot.js';
import { migrate, openFsStore, openPglite, type ArtifactStore } from '../components/core/platform/index.js';
import { INDEX_FILES, INDEX_PREFIX } from '../components/core/ml/index.js';
import { deploy } from '../components/deploy/deploy.js';
import { resolveRelease } from '../components/deploy/release.js';
import { buildIndex } from '../components/index/build.js';
import { loadExportFolder } from '../components/load/load.js';
import { DEFAULTS, QUICK } from '../components/train/hyperparameters.js';
import { trainModel } from '../components/train/train.js';
import { silentLog, tempDir } from '../test/helpers.js';
import { FULL_EXPORT } from './data.js';
import { loadAutocannon } from './autocannon.js';

const autocannon = loadAutocannon();

interface Phase {
  name: string;
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** The server's resident memory when the phase ended (our server's phases only). */
  rssMb?: number;
}

// Not strict: `npm run bench -- …` hands every benchmark the same arguments.
const { values: parsed } = parseArgs({
  strict: false,
  options: {
    data: { type: 'string', default: FULL_EXPORT },
    seconds: { type: 'string' },
    'compare-seconds': { type: 'string' },
    connections: { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
    // The load generator's own role (this file in a child process): one autocannon run, its summary on stdout.
    client: { type: 'string' },
  },
});
const text = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined);
const values = {
  data: text(parsed.data) ?? FULL_EXPORT,
  seconds: text(parsed.seconds),
  'compare-seconds': text(parsed['compare-seconds']),
  connections: text(parsed.connections) ?? '64',
  quick: parsed.quick === true,
  client: text(parsed.client),
};

if (values.client) {
  // The job comes in a file: 2,000 query paths are more than one command-line argument may hold (E2BIG).
  const job = JSON.parse(readFileSync(values.client, 'utf8')) as {
    url: string;
    paths: string[];
    connections: number;
    seconds: number;
    name: string;
  };
  let next = 0;
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.seconds,
    timeout: 10,
    // Each request a different path from the list, round robin: varied queries, no cache can help.
    requests: [{ setupRequest: (request) => ({ ...request, path: job.paths[next++ % job.paths.length]! }) }],
  });
  const phase: Phase = {
    name: job.name,
    requests: result.requests.total,
    seconds: result.duration,
    perSecond: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
  console.log(JSON.stringify(phase));
  process.exit(0);
}

const quick = values.quick;
const seconds = Number(values.seconds ?? (quick ? 10 : 60));
const compareSeconds = Number(values['compare-seconds'] ?? (quick ? 5 : 20));
const connections = Number(values.connections);
const here = path.dirname(new URL(import.meta.url).pathname);
const tmp = await tempDir('bench-serve-');
const children: ChildProcess[] = [];
const stopAll = () => children.forEach((child) => child.exitCode === null && child.kill('SIGTERM'));
process.on('exit', stopAll);

let jobs = 0;
/** Runs one phase of load from a separate process, so load generation never shares the server's event loop. */
function load(name: string, url: string, paths: string[], phaseSeconds: number, clients = connections): Promise<Phase> {
  const jobFile = path.join(tmp.dir, `load-${jobs++}.json`);
  writeFileSync(jobFile, JSON.stringify({ url, paths, connections: clients, seconds: phaseSeconds, name }));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'serve.bench.ts'), '--client', jobFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`load client exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as Phase);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

async function waitFor(
  url: string,
  accept: (body: Record<string, unknown>) => boolean,
  timeoutSeconds = 120,
): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    try {
      const response = await fetch(url);
      const body = (await response.json()) as Record<string, unknown>;
      if (response.ok && accept(body)) return body;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} not ready after ${timeoutSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// The real catalogue, two quick models (different seeds) and their indexes.
const store: ArtifactStore = openFsStore(path.join(tmp.dir, 'artifacts'));
const db = await openPglite(path.join(tmp.dir, 'pg'), silentLog);
await migrate(db);
await loadExportFolder(values.data, { db, store, log: silentLog });
await cleanCatalogue({ db, store, log: silentLog, gazetteer: loadGazetteer(), batchSize: 1000 });
const snapshot = await takeSnapshot(db, store);
process.stderr.write(`bench: snapshot ${snapshot.id}, ${snapshot.products} products\n`);
const versions: { model: string; index: string }[] = [];
for (const seed of [1, 2]) {
  const model = await trainModel(store, { snapshotId: snapshot.id, hyperparameters: { ...DEFAULTS, ...QUICK, seed } }, silentLog);
  const index = await buildIndex(store, db, { modelVersion: model.version, snapshotId: snapshot.id }, silentLog);
  versions.push({ model: model.version, index: index.version });
  process.stderr.write(`bench: model ${model.version} + index ${index.version} (seed ${seed})\n`);
}
await db.close();
const [first, second] = versions as [{ model: string; index: string }, { model: string; index: string }];
const deployVersion = async (version: { model: string; index: string }) =>
  deploy({
    store,
    log: silentLog,
    release: await resolveRelease(store, { modelVersion: version.model, indexVersion: version.index, snapshotId: snapshot.id }),
    target: { kind: 'local' },
  });
await deployVersion(first);

// The service, as `npm run serve` starts it, polling the record every second.
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    path.join(here, '..', 'components', 'serve', 'main.ts'),
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--poll-seconds',
    '1',
  ],
  {
    env: { ...process.env, ARTIFACT_ROOT: pathToFileURL(path.join(tmp.dir, 'artifacts')).href, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
children.push(server);
await waitFor(`${base}/readyz`, (body) => body['index'] === first.index);

// Queries: catalogue titles (what buyers type is closest to them), and product ids for "similar".
const rows = JSON.parse((await store.get(`${INDEX_PREFIX(first.index)}/${INDEX_FILES.productRows}`)).toString('utf8')) as {
  id: string;
  title: string;
}[];
const searchPaths = rows.slice(0, 2000).map((row) => `/search?q=${encodeURIComponent(row.title.slice(0, 120))}&k=10`);
const similarPaths = rows.slice(0, 2000).map((row) => `/products/${encodeURIComponent(row.id)}/similar?k=10`);

// A warm-up long enough for V8 and ONNX Runtime to settle, so 'before' measures the service, not its start.
await load('warm-up', base, searchPaths, quick ? 5 : 10);
const rssBefore = rssMb(server.pid!);
// RSS at the end of every phase: growth with the number of requests served (a leak) shows as a rise
// from phase to phase on the same version; a new version's first load shows as one step.
const withRss = (phase: Phase): Phase => ({ ...phase, rssMb: rssMb(server.pid!) });
const phases: Phase[] = [];
phases.push(withRss(await load('before the swap', base, searchPaths, seconds / 3)));

// The swap: deployed one second into the middle phase; /readyz polled lightly to see when it lands.
const swap: { after: number | null } = { after: null };
const during = load('during the swap', base, searchPaths, seconds / 3);
const duringStarted = performance.now();
await new Promise((resolve) => setTimeout(resolve, 1000));
await deployVersion(second);
const watch = waitFor(`${base}/readyz`, (body) => body['index'] === second.index, seconds).then(
  () => (swap.after = (performance.now() - duringStarted) / 1000),
);
phases.push(withRss(await during));
await watch;
phases.push(withRss(await load('after the swap', base, searchPaths, seconds / 3)));
const rssAfter = rssMb(server.pid!);
process.stderr.write(
  `bench: swapped ${swap.after?.toFixed(1)} s into the middle phase; rss ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB\n`,
);

// Text search at fewer connections: latency without queueing (1) and a moderate load (16).
const sweep: Phase[] = [];
for (const clients of [1, 16])
  sweep.push(
    withRss(await load(`text search, ${clients} connection${clients > 1 ? 's' : ''}`, base, searchPaths, compareSeconds, clients)),
  );

// Hybrid against today's dense-only search, the same title queries: rounds of dense then hybrid,
// interleaved, at 64 connections and at 1; each figure is the median over the rounds (on a shared
// machine one slow burst of another process would otherwise decide a single run's p99).
const modePaths = (mode: string) =>
  rows.slice(0, 2000).map((row) => `/search?q=${encodeURIComponent(row.title.slice(0, 120))}&k=10&mode=${mode}`);
const rounds = quick ? 1 : 3;
const modes: Phase[] = [];
const modeLabel = (mode: string, clients: number) =>
  `${mode === 'dense' ? "today's dense-only /search" : 'hybrid /search'}, ${clients} connection${clients > 1 ? 's' : ''}`;
for (let round = 1; round <= rounds; round++) {
  for (const clients of [connections, 1]) {
    for (const mode of ['dense', 'hybrid'])
      modes.push(withRss(await load(`${modeLabel(mode, clients)}, round ${round}`, base, modePaths(mode), compareSeconds, clients)));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** One row per mode and connection count: the median of its rounds' figures. */
const medianOf = (mode: string, clients: number): Phase => {
  const runs = modes.filter((p) => p.name.startsWith(`${modeLabel(mode, clients)}, round`));
  const pick = (key: 'perSecond' | 'p50' | 'p99') => median(runs.map((p) => p[key]));
  const sum = (key: 'requests' | 'errors' | 'timeouts' | 'non2xx') => runs.reduce((total, p) => total + p[key], 0);
  return {
    name: `${modeLabel(mode, clients)} (median of ${runs.length})`,
    requests: sum('requests'),
    seconds: compareSeconds * runs.length,
    perSecond: pick('perSecond'),
    p50: pick('p50'),
    p99: pick('p99'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    non2xx: sum('non2xx'),
  };
};
const modeMedians = [connections, 1].flatMap((clients) => ['dense', 'hybrid'].map((mode) => medianOf(mode, clients)));
const ready = (await (await fetch(`${base}/readyz`)).json()) as { lexicalIndexBytes?: number; products?: number };
const lexicalMb = (ready.lexicalIndexBytes ?? NaN) / 2 ** 20;
const denseMb = (await store.get(`${INDEX_PREFIX(second.index)}/${INDEX_FILES.products}`)).length / 2 ** 20;
const modeAt = (mode: string, clients: number) => modeMedians.find((p) => p.name.startsWith(modeLabel(mode, clients)))!;
const hybridVsDense = {
  p99At64: modeAt('hybrid', connections).p99 / modeAt('dense', connections).p99,
  throughputAt64: modeAt('hybrid', connections).perSecond / modeAt('dense', connections).perSecond,
  p99At1: modeAt('hybrid', 1).p99 / modeAt('dense', 1).p99,
};

// Ours vs the baseline on "similar": the same index files, the same ids, one process each.
const ours = withRss(await load('ours: /products/:id/similar', base, similarPaths, compareSeconds));
server.kill('SIGTERM');
const baselineDir = path.join(tmp.dir, 'baseline');
await mkdir(baselineDir, { recursive: true });
for (const file of [INDEX_FILES.products, INDEX_FILES.productRows, INDEX_FILES.productVectors])
  await writeFile(path.join(baselineDir, file), await store.get(`${INDEX_PREFIX(second.index)}/${file}`));
let theirs: Phase | { name: string; available: false; reason: string };
const hasBaseline = spawnSync('/usr/bin/python3', ['-c', 'import fastapi, uvicorn, faiss'], { encoding: 'utf8' });
if (hasBaseline.status !== 0) {
  theirs = {
    name: 'baseline',
    available: false,
    reason: hasBaseline.stderr.trim().split('\n').at(-1) ?? 'python3-fastapi, python3-uvicorn or python3-faiss missing',
  };
} else {
  const pyPort = await freePort();
  const python = spawn('/usr/bin/python3', [path.join(here, 'serve_baseline.py'), baselineDir, String(pyPort)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(python);
  await waitFor(`http://127.0.0.1:${pyPort}/readyz`, () => true);
  await load('warm-up', `http://127.0.0.1:${pyPort}`, similarPaths, 2);
  theirs = {
    ...(await load(
      'baseline: FastAPI + uvicorn + faiss /products/{id}/similar',
      `http://127.0.0.1:${pyPort}`,
      similarPaths,
      compareSeconds,
    )),
  };
  python.kill('SIGTERM');
}
await tmp.remove();

const failed = (phase: Phase) => phase.errors + phase.timeouts + phase.non2xx;
const row = (phase: Phase) =>
  `| ${phase.name} | ${phase.requests} | ${phase.perSecond.toFixed(0)} | ${phase.p50} | ${phase.p99} | ${failed(phase)} | ${phase.rssMb?.toFixed(0) ?? ''} |`;
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`;
const lines = [
  `Search service benchmark: ${snapshot.products} products (${values.data}), ${connections} connections on loopback, load from another process; ${machine}`,
  '',
  '| phase | requests | requests/s | p50 ms | p99 ms | failed | server RSS MB at the end |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...phases.map(row),
  ...sweep.map(row),
  ...modes.map(row),
  ...modeMedians.map(row),
  row(ours),
  ...('available' in theirs ? [`| ${theirs.name} | not available: ${theirs.reason} | | | | | |`] : [row(theirs)]),
  '',
  `Swap landed ${swap.after === null ? 'never' : `${swap.after.toFixed(1)} s`} into the middle phase; server RSS ${rssBefore.toFixed(0)} MB before the load, ${rssAfter.toFixed(0)} MB after; failed requests over the three phases: ${phases.reduce((sum, phase) => sum + failed(phase), 0)}.`,
];
lines.push(
  `Hybrid vs today's dense-only /search on the same queries (medians of ${rounds} interleaved rounds): p99 at ${connections} connections ${hybridVsDense.p99At64.toFixed(2)}x, throughput ${hybridVsDense.throughputAt64.toFixed(2)}x; p99 at 1 connection ${hybridVsDense.p99At1.toFixed(2)}x. Lexical index in memory ${lexicalMb.toFixed(1)} MB (FAISS product index file ${denseMb.toFixed(1)} MB).`,
);
let ratios: { throughput: number; p50: number; p99: number } | null = null;
if (!('available' in theirs)) {
  ratios = { throughput: ours.perSecond / theirs.perSecond, p50: ours.p50 / theirs.p50, p99: ours.p99 / theirs.p99 };
  lines.push(
    `Ours vs FastAPI + uvicorn + faiss on /similar: throughput ${ratios.throughput.toFixed(2)}x, p50 ${ratios.p50.toFixed(2)}x, p99 ${ratios.p99.toFixed(2)}x (latency: lower is better).`,
  );
}
console.log(lines.join('\n'));
console.log(
  JSON.stringify({
    benchmark: 'serve',
    data: values.data,
    products: snapshot.products,
    connections,
    seconds,
    compareSeconds,
    machine,
    versions,
    swappedAfterSeconds: swap.after,
    rssMb: { before: rssBefore, after: rssAfter },
    phases,
    sweep,
    modes: modeMedians,
    modeRounds: modes,
    hybridVsDense,
    lexicalMb,
    denseIndexMb: denseMb,
    ours,
    baseline: theirs,
    ratios,
  }),
);
process.exit(0);
