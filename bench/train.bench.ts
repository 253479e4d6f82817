/**
 * The model on the real catalogue, against baselines measured in the same run:
 *  - quality: test accuracy / macro-F1 of our model (text and listing fields; the real export has no
 *    pictures) vs the floor a user could pick instead, word + char TF-IDF with a linear SVM
 *    (bench/train_floor.py, Debian's python3-sklearn), on the same split and the same cleaned text;
 *  - training throughput: samples/s of our TF.js loop on each backend that starts here vs the same text
 *    architecture in PyTorch on the same features and cores (bench/train_torch.py, python3-torch).
 * The accuracy difference on one test split is within noise at this size, so the bench also reports
 * McNemar's exact test on the paired test predictions (which products one model gets right and the
 * other wrong): p < 0.05 means the difference is more than chance.
 * Usage: node --import tsx bench/train.bench.ts [--data dir] [--epochs n] [--steps n] [--quick]
 * --quick: the same architecture on a sample of the training split (train's `--quick` sample; the
 * floor and PyTorch fit on the same sample), 2 epochs, 5 steps per backend, for `npm run bench -- --quick`.
 * A backend step that runs past its deadline (the plain cpu backend takes minutes a step) is reported
 * as not finished rather than holding the report up.
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cleanCatalogue } from '../components/clean/clean.js';
import { loadGazetteer } from '../components/core/contracts/index.js';
import { takeSnapshot } from '../components/clean/snapshot.js';
import { migrate, openFsStore, openPglite } from '../components/core/platform/index.js';
import { readSnapshotProducts, type SnapshotProduct } from '../components/core/contracts/index.js';
import { argmaxRow, featurizeAll, openEmbedder, TextFeaturizer } from '../components/core/ml/index.js';
import { evaluateModel } from '../components/evaluate/evaluate.js';
import { loadExportFolder } from '../components/load/load.js';
import { splitOf } from '../components/train/split.js';
import { BACKENDS } from '../components/train/tfjs-backend/backend.js';
import { readDataset } from '../components/train/dataset.js';
import { DEFAULTS, featurizerConfigOf, QUICK } from '../components/train/hyperparameters.js';
import { trainModel } from '../components/train/train.js';
import { mcnemarExactP } from './mcnemar.js';
import { silentLog, tempDir } from '../test/helpers.js';
import { FULL_EXPORT } from './data.js';

const parsed = parseArgs({
  options: {
    data: { type: 'string', default: FULL_EXPORT },
    epochs: { type: 'string' },
    steps: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = parsed.values.quick;
const values = {
  ...parsed.values,
  epochs: parsed.values.epochs ?? String(quick ? 2 : DEFAULTS.epochs),
  steps: parsed.values.steps ?? (quick ? '5' : '30'),
};
const sample = quick ? QUICK.sample : undefined;
/** Seconds each backend's throughput run may take: the plain cpu backend is orders slower than wasm. */
const deadline = (backend: string) => (backend === 'cpu' ? (quick ? 20 : 300) : quick ? 300 : 1200);
const tmp = await tempDir('bench-train-');
const home = tmp.dir;
const store = openFsStore(path.join(home, 'artifacts'));
const db = await openPglite(path.join(home, 'pg'), silentLog);
await migrate(db);
await loadExportFolder(values.data, { db, store, log: silentLog });
await cleanCatalogue({ db, store, log: silentLog, gazetteer: loadGazetteer(), batchSize: 1000 });
const snapshot = await takeSnapshot(db, store);
await db.close();
process.stderr.write(`bench: snapshot ${snapshot.id}, ${snapshot.products} products\n`);

function python(script: string, args: string[]): Record<string, unknown> {
  const run = spawnSync('/usr/bin/python3', [path.join('bench', script), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { available: false, reason: `${script} exited ${run.status}: ${run.stderr.trim().split('\n').at(-1)}` };
  }
}

// Quality: the floor and our model on the same training examples (all, or train's quick sample), the
// same test split and the same text.
const products: SnapshotProduct[] = [];
for await (const product of readSnapshotProducts(store, snapshot.id)) products.push(product);
const dataset = await readDataset(store, snapshot.id, { sample });
const fitted = new Set([...dataset.train, ...dataset.val].map((example) => example.id));
const floorFile = path.join(home, 'floor.jsonl');
const floorPredictions = path.join(home, 'floor-predictions.jsonl');
const floorRows = products.filter((p) => splitOf(p.id) === 'test' || fitted.has(p.id));
await writeFile(
  floorFile,
  `${floorRows.map((p) => JSON.stringify({ id: p.id, split: splitOf(p.id), text: `${p.title} ${p.text}`, label: p.root })).join('\n')}\n`,
);
const floor = python('train_floor.py', [floorFile, '--predictions', floorPredictions]) as {
  test?: { accuracy: number; macroF1: number };
  fitSeconds?: number;
  reason?: string;
};
process.stderr.write(`bench: floor ${JSON.stringify(floor.test ?? floor.reason)}\n`);

const hyperparameters = { ...DEFAULTS, epochs: Number(values.epochs), sample };
const trained = await trainModel(store, { snapshotId: snapshot.id, hyperparameters }, silentLog);
const evaluation = await evaluateModel(store, { modelVersion: trained.version, snapshotId: snapshot.id, tolerance: 0 }, silentLog);
const ours = evaluation.candidate.classification;
const paired = floor.test
  ? await mcnemar(
      trained.version,
      products.filter((p) => splitOf(p.id) === 'test'),
      floorPredictions,
    )
  : null;

/**
 * The paired comparison on the test split: `oursOnly` products only our model gets right, `floorOnly`
 * only the floor does, and McNemar's exact p.
 */
async function mcnemar(version: string, test: typeof products, floorFile: string) {
  const floorSays = new Map(
    (await readFile(floorFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => {
        const row = JSON.parse(line) as { id: string; predicted: string };
        return [row.id, row.predicted] as const;
      }),
  );
  const embedder = await openEmbedder(store, version);
  const { logits } = await embedder.classifyTexts(test);
  const labels = embedder.metadata.labels;
  await embedder.close();
  let oursOnly = 0;
  let floorOnly = 0;
  test.forEach((p, k) => {
    const oursRight = labels[argmaxRow(logits, k, labels.length)] === p.root;
    const floorRight = floorSays.get(p.id) === p.root;
    if (oursRight && !floorRight) oursOnly++;
    if (floorRight && !oursRight) floorOnly++;
  });
  return { oursOnly, floorOnly, p: mcnemarExactP(oursOnly, floorOnly) };
}

// Throughput: a fixed number of steps on each backend that starts, and PyTorch on the same features.
const throughput: { runner: string; samplesPerSecond: number | null; note: string }[] = [];
for (const backend of BACKENDS) {
  const steps = backend === 'cpu' ? (quick ? '1' : '2') : values.steps;
  const seconds = deadline(backend);
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'components/train/main.ts', '--snapshot', snapshot.id, '--backend', backend, '--epochs', '1', '--max-steps', steps],
    {
      encoding: 'utf8',
      env: { ...process.env, MARKETPLACE_HOME: home, DATABASE_URL: '', ARTIFACT_ROOT: '', LOG_LEVEL: 'warn' },
      timeout: seconds * 1000,
      killSignal: 'SIGKILL',
    },
  );
  const summary = run.status === 0 ? (JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { samplesPerSecond?: number }) : null;
  const failure =
    run.signal === 'SIGKILL'
      ? `did not finish ${steps} step${steps === '1' ? '' : 's'} within ${seconds} s`
      : `does not start here: ${run.stderr.trim().split('\n').at(-1)?.slice(0, 120)}`;
  throughput.push({
    runner: `TF.js ${backend}`,
    samplesPerSecond: summary?.samplesPerSecond ?? null,
    note: summary ? `${steps} steps of ${DEFAULTS.batchSize}` : failure,
  });
}
const train = products.filter((p) => splitOf(p.id) === 'train' && fitted.has(p.id));
// The same features train reads: hashed n-grams and the sentence encoder's vector.
const featurizer = TextFeaturizer.fit(train, featurizerConfigOf(DEFAULTS));
const docs = await featurizeAll(featurizer, train, { store }); // the vectors training cached
const labels = [...new Set(train.map((p) => p.root))].sort();
const torchFile = path.join(home, 'torch.jsonl');
await writeFile(
  torchFile,
  `${train
    .map((p, k) => {
      const doc = docs[k]!;
      return JSON.stringify({
        ids: Array.from(doc.ids),
        weights: Array.from(doc.weights, (w) => Math.round(w * 1e6) / 1e6),
        label: labels.indexOf(p.root),
      });
    })
    .join('\n')}\n`,
);
const torch = python('train_torch.py', [
  torchFile,
  '--buckets',
  String(featurizer.inputDim),
  '--dim',
  String(DEFAULTS.textDim),
  '--embedding',
  String(DEFAULTS.embeddingDim),
  '--classes',
  String(labels.length),
  '--batch',
  String(DEFAULTS.batchSize),
  '--lr',
  String(DEFAULTS.learningRate),
  '--scale',
  '1',
  '--dropout',
  String(DEFAULTS.dropout),
  '--epochs',
  '1',
]) as { samplesPerSecond?: number; torch?: string; reason?: string };
throughput.push({
  runner: `PyTorch ${torch.torch ?? ''} (same text tower, 2 threads)`.trim(),
  samplesPerSecond: torch.samplesPerSecond ?? null,
  note: torch.samplesPerSecond ? '1 epoch' : String(torch.reason),
});
await tmp.remove();

const torchRate = torch.samplesPerSecond ?? null;
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(4));
const lines = [
  `Train benchmark: ${values.data}, snapshot ${snapshot.id} (${snapshot.products} products; fitted on ${dataset.train.length} training examples${sample ? ', a quick sample' : ''}), test split ${evaluation.candidate.testProducts} products, backend ${trained.metadata.backend.name}`,
  '',
  '| model | test accuracy | test macro-F1 | vs floor (accuracy points) |',
  '|---|---:|---:|---:|',
  `| floor: TF-IDF word+char, LinearSVC (scikit-learn) | ${fmt(floor.test?.accuracy)} | ${fmt(floor.test?.macroF1)} | baseline |`,
  `| ours, text and listing fields | ${fmt(ours.text.accuracy)} | ${fmt(ours.text.macroF1)} | ${floor.test ? ((ours.text.accuracy - floor.test.accuracy) * 100).toFixed(1) : 'n/a'} |`,
  `| ours, combined (fused embedding) | ${fmt(ours.combined.accuracy)} | ${fmt(ours.combined.macroF1)} | ${floor.test ? ((ours.combined.accuracy - floor.test.accuracy) * 100).toFixed(1) : 'n/a'} |`,
  '',
  paired
    ? `Paired on the test split: ${paired.oursOnly} products only ours gets right, ${paired.floorOnly} only the floor; McNemar exact p = ${paired.p.toFixed(3)} (${paired.p < 0.05 ? 'a real difference' : 'within chance'}).`
    : 'Paired test: floor not available.',
  '',
  `Training: ${Math.round(trained.metadata.trainSeconds)} s, best epoch ${trained.metadata.bestEpoch}; retrieval recall@10 ${fmt(evaluation.candidate.retrieval.recall['at10'])}, nDCG@10 ${fmt(evaluation.candidate.retrieval.ndcgAt10)}`,
  '',
  '| training runner | samples/s | vs PyTorch | note |',
  '|---|---:|---:|---|',
  ...throughput.map(
    (t) =>
      `| ${t.runner} | ${t.samplesPerSecond?.toFixed(1) ?? 'n/a'} | ${t.samplesPerSecond && torchRate ? `${(t.samplesPerSecond / torchRate).toFixed(2)}x` : 'n/a'} | ${t.note} |`,
  ),
];
console.log(lines.join('\n'));
console.log(
  JSON.stringify({
    benchmark: 'train',
    data: values.data,
    snapshot: snapshot.id,
    floor: floor.test ?? null,
    trainExamples: dataset.train.length,
    ours: {
      text: { accuracy: ours.text.accuracy, macroF1: ours.text.macroF1 },
      combined: { accuracy: ours.combined.accuracy, macroF1: ours.combined.macroF1 },
    },
    paired,
    retrieval: evaluation.candidate.retrieval,
    throughput,
  }),
);
