/**
 * The index step of the scale curve, in its own process (so its peak RSS is its own): N clustered unit
 * vectors of d (synthetic: the shape of product embeddings, categories as clusters; no model embeds
 * 10^6 listings in this run), the product index chosen by the memory budget (components/core/ml/vector-index.ts),
 * then one query a call on one OpenMP thread (CPU time) and recall@10 against exact search on held-out
 * queries. Writes the index, queries and exact labels for python3-faiss (bench/faiss_search.py, same
 * file and nprobe/efSearch) and the vectors for its build (bench/scale/faiss_build.py).
 * Usage: node --import tsx bench/scale/index-step.ts --n N --dim d --budget-bytes-per-vector b --out dir
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildVectorIndex, ivfLists, loadFaiss, QUANTIZER_EF_SEARCH } from '../../components/core/ml/vector-index.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string' },
    dim: { type: 'string', default: '256' },
    'budget-bytes-per-vector': { type: 'string', default: '300' },
    out: { type: 'string' },
    queries: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '5' },
  },
});
const n = Number(values.n);
const dim = Number(values.dim);
const queryCount = Number(values.queries);
const out = values.out!;
const k = 10;

let state = Number(values.seed) >>> 0;
const random = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 2 ** 32;
};
const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const centres = Array.from({ length: 400 }, () => Float32Array.from({ length: dim }, () => gauss()));
/** Unit vectors around 400 centres (about the number of category paths in the export). */
function clustered(count: number): Float32Array {
  const vectors = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const centre = centres[Math.floor(random() * centres.length)]!;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const value = centre[d]! + 0.9 * gauss();
      vectors[i * dim + d] = value;
      norm += value * value;
    }
    const scale = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) vectors[i * dim + d]! *= scale;
  }
  return vectors;
}

const vectors = clustered(n);
const queries = clustered(queryCount);
const faiss = loadFaiss();
const budget = Number(values['budget-bytes-per-vector']) * n;
const started = performance.now();
const built = buildVectorIndex(vectors, dim, { memoryBudgetBytes: budget, recallTarget: 0.95 });
const buildSeconds = (performance.now() - started) / 1000;

// Exact neighbours of the held-out queries, a flat index of 100,000 vectors at a time (top-k merged).
const exactLabels = new Int32Array(queryCount * k);
{
  const bestD = new Float32Array(queryCount * k).fill(-Infinity);
  for (let start = 0; start < n; start += 100_000) {
    const rows = Math.min(100_000, n - start);
    const flat = new faiss.IndexFlatIP(dim);
    flat.addFloat32(vectors.subarray(start * dim, (start + rows) * dim));
    const found = flat.searchFloat32(queries, k);
    for (let q = 0; q < queryCount; q++) {
      const merged: [number, number][] = [];
      for (let j = 0; j < k; j++)
        merged.push([bestD[q * k + j]!, exactLabels[q * k + j]!], [found.distances[q * k + j]!, found.labels[q * k + j]! + start]);
      merged.sort((a, b) => b[0] - a[0]);
      for (let j = 0; j < k; j++) [bestD[q * k + j], exactLabels[q * k + j]] = merged[j]!;
    }
  }
}

faiss.setOmpThreads(1);
const distances = new Float32Array(k);
const labels = new Int32Array(k);
let hits = 0;
const latencies: number[] = [];
const cpu = process.cpuUsage();
for (let q = 0; q < queryCount; q++) {
  const t = performance.now();
  built.index.searchInto(queries.subarray(q * dim, (q + 1) * dim), k, distances, labels);
  latencies.push(performance.now() - t);
  const truth = new Set(exactLabels.subarray(q * k, (q + 1) * k));
  for (const label of labels) if (truth.has(label)) hits += 1;
}
const used = process.cpuUsage(cpu);
latencies.sort((a, b) => a - b);

const indexFile = path.join(out, 'index.faiss');
built.index.write(indexFile);
await writeFile(path.join(out, 'queries.f32'), Buffer.from(queries.buffer));
await writeFile(path.join(out, 'truth.i32'), Buffer.from(exactLabels.buffer));
await writeFile(path.join(out, 'vectors.f32'), Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength));

console.log(
  JSON.stringify({
    n,
    dim,
    type: built.type,
    nprobe: built.nprobe ?? null,
    efSearch: built.efSearch ?? null,
    quantizerEfSearch: built.type.includes('_HNSW32,') ? QUANTIZER_EF_SEARCH : null,
    budgetBytes: budget,
    bytes: built.bytes,
    bytesPerVector: (built.bytes ?? 0) / n,
    sampleRecall: built.recall,
    heldOutRecall: hits / (queryCount * k),
    buildSeconds,
    // What buildVectorIndex trains an IVF index on: 50,000 vectors, or 39 a list if that is more.
    trainSample: Math.min(n, Math.max(50_000, 39 * ivfLists(built.type))),
    candidates: built.candidates,
    singleCpuQps: queryCount / ((used.user + used.system) / 1e6),
    p50ms: latencies[Math.floor(queryCount * 0.5)],
    p99ms: latencies[Math.floor(queryCount * 0.99)],
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    indexFile,
  }),
);
