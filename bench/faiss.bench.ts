/**
 * Vector search: faiss-node (what the index component and the search service run) against Debian's
 * python3-faiss (the seed's stack) on the same index files and the same queries, in the same run:
 * QPS one query per call (how the service searches) and the whole batch in one call, and recall@k
 * against exact neighbours. Both indexes the project builds: exact `Flat` and `HNSW32,Flat` (with
 * the efSearch the project's builder picks for its recall target).
 * The vectors are synthetic unit vectors in clusters (the shape of product embeddings: categories),
 * so the size can be chosen; the queries are held-out points of the same clusters.
 * Usage: node --import tsx bench/faiss.bench.ts [--vectors n] [--queries n] [--dim d] [--repeat n] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as Faiss from 'faiss-node';
import { seededRandom } from '../components/core/platform/index.js';
import { buildVectorIndex } from '../components/core/ml/vector-index.js';
import { tempDir } from '../test/helpers.js';

const faiss = createRequire(import.meta.url)('faiss-node') as typeof Faiss;

// Not strict: `npm run bench -- …` hands every benchmark the same arguments.
const { values } = parseArgs({ strict: false, options: { vectors: { type: 'string' }, queries: { type: 'string' }, dim: { type: 'string', default: '128' }, repeat: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false } } });
const quick = values.quick === true;
const count = Number(values.vectors ?? (quick ? 10_000 : 50_000));
const queryCount = Number(values.queries ?? (quick ? 200 : 1000));
const dim = Number(values.dim);
const repeat = Number(values.repeat);
const k = 10;
const here = path.dirname(new URL(import.meta.url).pathname);
const tmp = await tempDir('bench-faiss-');

/** Unit vectors around 64 random centres (spread 0.5): clustered like embeddings of categories. */
function clustered(n: number, random: () => number, centres: number[][]): number[] {
  const out = new Array<number>(n * dim);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  for (let i = 0; i < n; i++) {
    const centre = centres[Math.floor(random() * centres.length)]!;
    const v = centre.map((c) => c + 0.5 * gauss() / Math.sqrt(dim));
    const norm = Math.hypot(...v);
    for (let d = 0; d < dim; d++) out[i * dim + d] = v[d]! / norm;
  }
  return out;
}
const random = seededRandom(11);
const centres = Array.from({ length: 64 }, () => Array.from({ length: dim }, () => random() * 2 - 1));
const vectors = clustered(count, random, centres);
const queries = clustered(queryCount, random, centres);

const exact = new faiss.IndexFlatIP(dim);
exact.add(vectors);
const truth = exact.search(queries, k).labels;
const queriesFile = path.join(tmp.dir, 'queries.f32');
const truthFile = path.join(tmp.dir, 'truth.i32');
await writeFile(queriesFile, Buffer.from(new Float32Array(queries).buffer));
await writeFile(truthFile, Buffer.from(new Int32Array(truth).buffer));

const recall = (labels: number[]) => {
  let found = 0;
  for (let q = 0; q < queryCount; q++) {
    const expected = new Set(truth.slice(q * k, q * k + k));
    found += labels.slice(q * k, q * k + k).filter((label) => expected.has(label)).length;
  }
  return found / (queryCount * k);
};
const bestOf = (run: () => number[]) => {
  let best = Infinity;
  let labels: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const start = performance.now();
    labels = run();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return { seconds: best, labels };
};

interface Side {
  seconds: number;
  qps: number;
  recall: number;
}
const results: { index: string; efSearch?: number; mode: 'single' | 'batch'; node: Side; python: Side | null }[] = [];
let pythonNote: string | null = null;

for (const type of ['Flat', 'HNSW32,Flat'] as const) {
  const started = performance.now();
  const built = buildVectorIndex(vectors, dim, { exactUpTo: type === 'Flat' ? Infinity : 0, k });
  process.stderr.write(`bench: ${type} over ${count} vectors built in ${((performance.now() - started) / 1000).toFixed(1)} s${built.efSearch ? `, efSearch ${built.efSearch}` : ''}\n`);
  const indexFile = path.join(tmp.dir, `${type.replace(/\W/g, '_')}.faiss`);
  built.index.write(indexFile);
  const single = bestOf(() => {
    const labels: number[] = [];
    for (let q = 0; q < queryCount; q++) labels.push(...built.index.search(queries.slice(q * dim, q * dim + dim), k).labels);
    return labels;
  });
  const batch = bestOf(() => built.index.search(queries, k).labels);
  const run = spawnSync('/usr/bin/python3', [path.join(here, 'faiss_search.py'), indexFile, queriesFile, truthFile, String(dim), String(k), String(built.efSearch ?? 0), String(repeat)], { encoding: 'utf8' });
  let python: { single: Side; batch: Side; faiss: string; threads: number } | null = null;
  try {
    python = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as typeof python;
    pythonNote = `python3-faiss ${python!.faiss}, ${python!.threads} OpenMP threads`;
  } catch {
    pythonNote = `python3-faiss not available: ${run.stderr.trim().split('\n').at(-1) ?? `exit ${run.status}`}`;
  }
  for (const [mode, measured] of [['single', single], ['batch', batch]] as const) {
    results.push({ index: type, ...(built.efSearch ? { efSearch: built.efSearch } : {}), mode, node: { seconds: measured.seconds, qps: queryCount / measured.seconds, recall: recall(measured.labels) }, python: python?.[mode] ?? null });
  }
}
await tmp.remove();

// The floor: an exact scan in plain JS (Float32Array dot products, a small sorted top-k), one query at a time.
const flatVectors = Float32Array.from(vectors);
const scan = bestOf(() => {
  const labels: number[] = [];
  for (let q = 0; q < queryCount; q++) {
    const top: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += flatVectors[i * dim + d]! * queries[q * dim + d]!;
      if (top.length < k || dot > top[top.length - 1]![0]) {
        top.push([dot, i]);
        top.sort((a, b) => b[0] - a[0]);
        if (top.length > k) top.pop();
      }
    }
    labels.push(...top.map(([, i]) => i));
  }
  return labels;
});
const jsScan = { seconds: scan.seconds, qps: queryCount / scan.seconds, recall: recall(scan.labels) };
const flatSingle = results.find((r) => r.index === 'Flat' && r.mode === 'single');

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`;
const lines = [
  `FAISS benchmark: ${count} clustered unit vectors of ${dim}, ${queryCount} queries, recall@${k} against exact search, best of ${repeat}; ${machine}; ${pythonNote}`,
  '',
  '| index | queries per call | faiss-node QPS | python3-faiss QPS | QPS ratio (node / python) | recall node | recall python |',
  '|---|---|---:|---:|---:|---:|---:|',
  ...results.map((r) => `| ${r.index}${r.efSearch ? ` (efSearch ${r.efSearch})` : ''} | ${r.mode === 'single' ? '1' : String(queryCount)} | ${r.node.qps.toFixed(0)} | ${r.python ? r.python.qps.toFixed(0) : 'n/a'} | ${r.python ? `${(r.node.qps / r.python.qps).toFixed(2)}x` : 'n/a'} | ${r.node.recall.toFixed(3)} | ${r.python ? r.python.recall.toFixed(3) : 'n/a'} |`),
  '',
  `Floor: an exact brute-force scan in plain JS, one query at a time: ${jsScan.qps.toFixed(0)} QPS, recall ${jsScan.recall.toFixed(3)}; faiss-node Flat is ${flatSingle ? (flatSingle.node.qps / jsScan.qps).toFixed(2) : 'n/a'}x that.`,
];
console.log(lines.join('\n'));
console.log(JSON.stringify({ benchmark: 'faiss', vectors: count, queries: queryCount, dim, k, repeat, machine, python: pythonNote, results, jsScan }));
