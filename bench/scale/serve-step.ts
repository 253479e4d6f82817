/**
 * The search service at N listings: load time, resident memory and latency at 1 and 16 connections,
 * for the service of this tree and (with --baseline-tree) of another checkout over the very same
 * published index, measured one after the other in the same run.
 *
 *  - A model: the demo catalogue's small model (generated listings, PGlite, clean, snapshot, one quick
 *    epoch of train), built once into --work and reused.
 *  - An index of N synthetic listings published beside it as the index component publishes one
 *    (products.json, products.vectors.f32, products.faiss, buyers, the lexical index, the manifest):
 *    rows drawn from the real export's vocabulary (titles, descriptions, category paths, prices, towns);
 *    vectors clustered by category path (unit vectors, the model's width), the product index chosen by
 *    the memory budget as `index --memory-budget-mib` would (IVF-SQ8 at these sizes); 2,000 buyers.
 *    The vectors are not the model's embeddings of the rows: what is measured is memory and latency.
 *  - Each service: `components/serve/main.ts` of its tree in its own process on loopback; load time is
 *    from spawn to /readyz answering 200; RSS (VmRSS) and peak RSS (VmHWM) read from /proc after it;
 *    then autocannon (in another process) on `GET /search?q=<catalogue titles>` (hybrid), at 1 and 16
 *    connections, and on mode=dense at 16; RSS again after the load.
 * Usage: node --import tsx bench/scale/serve-step.ts --n N [--work dir] [--data ../shared/data]
 *          [--seconds 10] [--budget 150] [--baseline-tree dir]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanCatalogue } from '../../components/clean/clean.js';
import { takeSnapshot } from '../../components/clean/snapshot.js';
import { loadGazetteer, publish, SERVING_KEY, ServingRecord } from '../../components/core/contracts/index.js';
import {
  buildVectorIndex,
  DEFAULT_FUSION,
  INDEX_FILES,
  INDEX_PREFIX,
  LEXICAL_FORMAT,
  LexicalIndex,
  type IndexedBuyer,
  type IndexedProduct,
  type IndexMetadata,
} from '../../components/core/ml/index.js';
import { bytesOfFloat32, migrate, openFsStore, openPglite, seededRandom } from '../../components/core/platform/index.js';
import { generateDemoExport } from '../../components/load/demo.js';
import { loadExportFolder } from '../../components/load/load.js';
import { DEFAULTS, QUICK } from '../../components/train/hyperparameters.js';
import { trainModel } from '../../components/train/train.js';
import { silentLog } from '../../test/helpers.js';
import { readVocabulary } from './generate.js';
import { loadAutocannon } from '../autocannon.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string' },
    work: { type: 'string' },
    data: { type: 'string', default: path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data') },
    seconds: { type: 'string', default: '10' },
    budget: { type: 'string', default: '150' },
    'baseline-tree': { type: 'string' },
    client: { type: 'string' },
  },
});

// The load generator, in its own process so that it never shares the server's event loop.
if (values.client) {
  const job = JSON.parse(readFileSync(values.client, 'utf8')) as { url: string; paths: string[]; connections: number; seconds: number };
  const autocannon = loadAutocannon();
  let next = 0;
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.seconds,
    timeout: 30,
    requests: [{ setupRequest: (request) => ({ ...request, path: job.paths[next++ % job.paths.length] }) }],
  });
  console.log(
    JSON.stringify({
      requests: result.requests.total,
      perSecond: result.requests.total / result.duration,
      p50: result.latency.p50,
      p99: result.latency.p99,
      mean: result.latency.average,
      failed: result.errors + result.timeouts + result.non2xx,
    }),
  );
  process.exit(0);
}

const n = Number(values.n);
if (!Number.isInteger(n) || n < 1) throw new Error('--n <listings> is required');
const work = path.resolve(values.work ?? path.join(process.env['TMPDIR'] ?? '/tmp', 'marketplace-serve-step'));
const seconds = Number(values.seconds);
const budgetPerListing = Number(values.budget);
const say = (message: string) => process.stderr.write(`serve-step ${n}: ${message}\n`);
const store = openFsStore(path.join(work, 'artifacts'));

// 1. The model (built once).
const modelFile = path.join(work, 'model.json');
if (!existsSync(modelFile)) {
  say('training the demo model (once)');
  await mkdir(work, { recursive: true });
  const exportDir = path.join(work, 'export');
  await generateDemoExport(exportDir, { perCategory: 6, imageSize: 64 });
  const db = await openPglite(path.join(work, 'pg'), silentLog);
  await migrate(db);
  await loadExportFolder(exportDir, { db, store, log: silentLog });
  await cleanCatalogue({ db, store, log: silentLog, gazetteer: loadGazetteer() });
  const snapshotId = (await takeSnapshot(db, store)).id;
  const model = await trainModel(store, { snapshotId, hyperparameters: { ...DEFAULTS, ...QUICK, epochs: 1, sample: 200 } }, silentLog);
  await db.close();
  writeFileSync(modelFile, JSON.stringify({ version: model.version, dim: model.metadata.embeddingDim, snapshotId }));
}
const model = JSON.parse(readFileSync(modelFile, 'utf8')) as { version: string; dim: number; snapshotId: string };
const dim = model.dim;

// 2. The index of n synthetic listings.
// Named by size and budget: another budget chooses another index, never the cached one.
const indexVersion = `ix-scale${String(n).padStart(10, '0')}-b${budgetPerListing}`;
const vocabulary = await readVocabulary(values.data!);
const random = seededRandom(7);
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
const titles: string[] = [];
const places = new Map<string, { lat: number; lon: number }>();
const placeOf = (town: string) => {
  let place = places.get(town);
  if (!place) {
    place = { lat: 50.5 + random() * 4, lon: -3.5 + random() * 4 };
    places.set(town, place);
  }
  return place;
};
let indexFacts: { type: string; bytes?: number; recall: number; seconds: number } | null = null;
const indexKey = `${INDEX_PREFIX(indexVersion)}/manifest.json`;
const published = await store.get(indexKey).then(
  () => true,
  () => false,
);
for (let i = 0; i < Math.min(n, 2000); i++) titles.push(pick(vocabulary.listings).title);
if (!published) {
  say('building the synthetic index');
  const started = performance.now();
  const rows: IndexedProduct[] = [];
  const documents: { title: string; text: string; category: string }[] = [];
  const centres = new Map<string, Float32Array>();
  const vectors = new Float32Array(n * dim);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const hex = () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  for (let i = 0; i < n; i++) {
    const listing = pick(vocabulary.listings);
    const [town, county] = pick(vocabulary.towns).split(', ');
    const id = `${hex()}-${hex().slice(0, 4)}-4${hex().slice(0, 3)}-${hex().slice(0, 4)}-${hex()}${hex().slice(0, 4)}`;
    const levels = listing.category.split(' / ');
    rows.push({
      id,
      title: listing.title,
      root: levels[0]!,
      priceMinor: Math.round(listing.pricePence * Math.exp(0.35 * gaussian())),
      town: town || null,
      county: county ?? null,
      // One place a town, as the gazetteer gives the export's towns.
      latitude: town ? placeOf(town).lat : null,
      longitude: town ? placeOf(town).lon : null,
      imageKey: `images/224/${hex()}${hex()}.jpg`,
      path: levels,
      listedAt: new Date(Date.UTC(2021, 0, 1) + random() * 3e10).toISOString(),
    });
    // The first sentence of a description: the text field, as long as a short listing's.
    documents.push({ title: listing.title, text: listing.description.split(/(?<=[.!?])\s/)[0] ?? '', category: levels.join(' ') });
    let centre = centres.get(listing.category);
    if (!centre) {
      centre = Float32Array.from({ length: dim }, gaussian);
      centres.set(listing.category, centre);
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = centre[j]! + 1.2 * gaussian();
      vectors[i * dim + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) vectors[i * dim + j]! /= norm;
  }
  say(`rows and vectors (${((performance.now() - started) / 1000).toFixed(1)} s); the product index`);
  const products = buildVectorIndex(vectors, dim, { memoryBudgetBytes: n * budgetPerListing });
  say(`${products.type}, recall ${products.recall.toFixed(3)} (${((performance.now() - started) / 1000).toFixed(1)} s); the lexical index`);
  const lexical = LexicalIndex.build(documents);
  documents.length = 0;
  const buyerCount = 2000;
  const demographicDim = 8;
  const interestWeight = 0.8;
  const buyerDim = dim + demographicDim;
  const buyerVectors = new Float32Array(buyerCount * buyerDim);
  const buyerRows: IndexedBuyer[] = [];
  for (let b = 0; b < buyerCount; b++) {
    const source = Math.floor(random() * n);
    for (let j = 0; j < dim; j++) buyerVectors[b * buyerDim + j] = vectors[source * dim + j]! * Math.sqrt(interestWeight);
    for (let j = 0; j < demographicDim; j++) buyerVectors[b * buyerDim + dim + j] = (random() - 0.5) * Math.sqrt(1 - interestWeight);
    const [town] = pick(vocabulary.towns).split(', ');
    const priceMin = Math.floor(random() * 5000);
    buyerRows.push({
      id: `buyer-${b}`,
      ageBand: pick(['18-24', '25-34', '35-44', '45-54', '55+']),
      gender: pick(['f', 'm']),
      town: town || null,
      latitude: 50.5 + random() * 4,
      longitude: -3.5 + random() * 4,
      priceMin,
      priceMax: priceMin + Math.floor(random() * 100_000),
      interests: [[rows[source]!.root, 1]],
    });
  }
  const buyers = buildVectorIndex(buyerVectors, buyerDim);
  const facts = (built: typeof products, d: number) => {
    const { index: _index, ...rest } = built;
    return { ...rest, dim: d };
  };
  const lexicalFiles = lexical.toFiles();
  const metadata: IndexMetadata = {
    modelVersion: model.version,
    snapshotId: model.snapshotId,
    products: facts(products, dim),
    buyers: { ...facts(buyers, buyerDim), demographicDim, interestWeight },
    lexical: {
      format: LEXICAL_FORMAT,
      documents: lexical.documents,
      terms: lexical.header.terms.length,
      postings: lexical.header.postings,
      params: lexical.header.params,
      fusion: DEFAULT_FUSION,
      fit: null,
      listedAt: { createTime: n, firstSeen: 0, unknown: 0 },
    },
    buildSeconds: (performance.now() - started) / 1000,
  };
  say('publishing');
  await publish(
    store,
    INDEX_PREFIX(indexVersion),
    [
      { name: INDEX_FILES.products, body: Buffer.from(products.index.toBuffer()) },
      { name: INDEX_FILES.productRows, body: Buffer.from(JSON.stringify(rows)) },
      { name: INDEX_FILES.productVectors, body: bytesOfFloat32(vectors) },
      { name: INDEX_FILES.buyers, body: Buffer.from(buyers.index.toBuffer()) },
      { name: INDEX_FILES.buyerRows, body: Buffer.from(JSON.stringify(buyerRows)) },
      { name: INDEX_FILES.lexicalHeader, body: lexicalFiles.header },
      { name: INDEX_FILES.lexicalPostings, body: lexicalFiles.postings },
    ],
    { kind: 'index', version: indexVersion, metadata },
  );
  indexFacts = { type: products.type, bytes: products.bytes, recall: products.recall, seconds: (performance.now() - started) / 1000 };
  writeFileSync(path.join(work, `${indexVersion}.json`), JSON.stringify(indexFacts));
} else indexFacts = JSON.parse(readFileSync(path.join(work, `${indexVersion}.json`), 'utf8')) as typeof indexFacts;
await store.put(
  SERVING_KEY,
  JSON.stringify(
    ServingRecord.parse({
      model: { version: model.version, key: `models/${model.version}` },
      index: { version: indexVersion, key: INDEX_PREFIX(indexVersion) },
      snapshotId: model.snapshotId,
      deployedAt: new Date().toISOString(),
    }),
  ),
);

// 3. Each service over it.
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
const memory = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kib('VmRSS') * 1024, peakRssBytes: kib('VmHWM') * 1024 };
};
let jobs = 0;
function load(url: string, paths: string[], connections: number): Promise<Record<string, number>> {
  const jobFile = path.join(work, `job-${process.pid}-${jobs++}.json`);
  writeFileSync(jobFile, JSON.stringify({ url, paths, connections, seconds }));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--client', jobFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`client: ${out}`))));
  });
}

const queries = titles.slice(0, 500).map((title) => `/search?q=${encodeURIComponent(title)}&k=20`);
const denseQueries = queries.map((q) => `${q}&mode=dense`);
// What a buyer types: a title's first two words (evaluate's "first2" queries). A whole title is a
// known-item search, the lexical worst case (every word of it read).
const shortQueries = titles.slice(0, 500).map((title) => `/search?q=${encodeURIComponent(title.split(/\s+/).slice(0, 2).join(' '))}&k=20`);
const trees = [
  ...(values['baseline-tree'] ? [{ name: 'baseline', root: path.resolve(values['baseline-tree']) }] : []),
  { name: 'this tree', root: path.resolve(import.meta.dirname, '..', '..') },
];
const services: Record<string, unknown>[] = [];
for (const tree of trees) {
  const port = await freePort();
  say(`${tree.name}: starting the service (${tree.root})`);
  const started = performance.now();
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(tree.root, 'components', 'serve', 'main.ts')], {
    cwd: tree.root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ARTIFACT_ROOT: pathToFileURL(path.join(work, 'artifacts')).href,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`${tree.name}: the service exited ${server.exitCode}`);
      const ready = await fetch(`${url}/readyz`).then(
        (response) => response.status === 200,
        () => false,
      );
      if (ready) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const loadSeconds = (performance.now() - started) / 1000;
    const loaded = memory(server.pid!);
    const ready = (await (await fetch(`${url}/readyz`)).json()) as { lexicalIndexBytes?: number };
    say(`${tree.name}: ready in ${loadSeconds.toFixed(1)} s, RSS ${(loaded.rssBytes / 2 ** 20).toFixed(0)} MiB; under load`);
    // A short warm-up (JIT, the first queries' pages).
    await load(url, queries, 4);
    const one = await load(url, queries, 1);
    const sixteen = await load(url, queries, 16);
    const short = await load(url, shortQueries, 16);
    const dense = await load(url, denseQueries, 16);
    const after = memory(server.pid!);
    services.push({
      tree: tree.name,
      root: tree.root,
      loadSeconds,
      rssBytes: loaded.rssBytes,
      rssBytesPerListing: loaded.rssBytes / n,
      peakRssBytesLoading: loaded.peakRssBytes,
      rssBytesAfterLoad: after.rssBytes,
      lexicalIndexBytes: ready.lexicalIndexBytes ?? null,
      hybrid1: one,
      hybrid16: sixteen,
      short16: short,
      dense16: dense,
    });
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
}

const mib = (bytes: unknown) => `${(Number(bytes) / 2 ** 20).toFixed(0)} MiB`;
const ms = (x: unknown) => `${Number(x).toFixed(1)}`;
const lines = [
  `Service at ${n} listings (index ${indexFacts?.type}, ${indexFacts?.bytes ?? '?'} B, recall@10 ${indexFacts?.recall.toFixed(3)}; ${dim}-d; demo model)`,
  '',
  '| service | load s | RSS loaded | RSS / listing | peak RSS loading | hybrid 1 conn p50 / p99 ms (req/s) | hybrid 16 conn p50 / p99 ms (req/s) | two-word queries, 16 conn p50 / p99 ms (req/s) | dense 16 conn p50 / p99 ms | failed |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...services.map((s) => {
    const h1 = s['hybrid1'] as Record<string, number>;
    const h16 = s['hybrid16'] as Record<string, number>;
    const s16 = s['short16'] as Record<string, number>;
    const d16 = s['dense16'] as Record<string, number>;
    return `| ${String(s['tree'])} | ${Number(s['loadSeconds']).toFixed(1)} | ${mib(s['rssBytes'])} | ${Number(s['rssBytesPerListing']).toFixed(0)} B | ${mib(s['peakRssBytesLoading'])} | ${ms(h1['p50'])} / ${ms(h1['p99'])} (${ms(h1['perSecond'])}) | ${ms(h16['p50'])} / ${ms(h16['p99'])} (${ms(h16['perSecond'])}) | ${ms(s16['p50'])} / ${ms(s16['p99'])} (${ms(s16['perSecond'])}) | ${ms(d16['p50'])} / ${ms(d16['p99'])} | ${h1['failed']! + h16['failed']! + s16['failed']! + d16['failed']!} |`;
  }),
];
console.log(lines.join('\n'));
console.log(JSON.stringify({ benchmark: 'serve-scale', n, dim, index: indexFacts, services }));
