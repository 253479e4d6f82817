/**
 * Embedding throughput of the exported ONNX models in onnxruntime-node (what serving runs) against
 * TF.js inference of the same weights (what training uses: the wasm backend here, a native one where
 * installed), measured in the same run:
 *  - images: the pretrained MobileNetV2 backbone + Dense(256) + L2Normalize on 224×224 images;
 *  - texts: a text tower shaped like the project's (WeightedBag over hashed TF-IDF buckets → Dropout
 *    → Dense → L2Normalize, plus the wide WeightedBag to class logits).
 * ORT runs with its default threads (one per core) and with one thread, to separate the runtime from
 * the parallelism (TF.js's wasm backend runs on one thread in Node). Each figure: batches after one
 * warm-up batch, outputs read back to JS; the runtimes take turns batch by batch.
 * Usage: node --import tsx bench/onnx.bench.ts [--batches n] [--batch n] [--text-batch n] [--buckets n] [--quick]
 * --quick: 2 batches of 8 images and 64 texts (defaults 4, 16, 256), for `npm run bench -- --quick`.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { createLogger } from '../components/core/platform/index.js';
import { BACKBONE_INPUT_SIZE, loadMobileNetBackbone } from '../components/train/backbone.js';
import { L2Normalize, WeightedBag } from '../components/train/model/layers.js';
import { MODEL_LAYER_TRANSLATIONS } from '../components/train/model/onnx-layers.js';
import { exportLayersModel } from '../components/train/onnx-export/index.js';
import { initBackend, tf } from '../components/train/tfjs-backend/backend.js';

const { values } = parseArgs({
  options: {
    batches: { type: 'string' },
    batch: { type: 'string' },
    'text-batch': { type: 'string' },
    'text-length': { type: 'string', default: '256' },
    buckets: { type: 'string', default: String(2 ** 18) },
    quick: { type: 'boolean', default: false },
  },
});
const batches = Number(values.batches ?? (values.quick ? 2 : 4));
const imageBatch = Number(values.batch ?? (values.quick ? 8 : 16));
const textBatch = Number(values['text-batch'] ?? (values.quick ? 64 : 256));
const textLength = Number(values['text-length']);
const buckets = Number(values.buckets);

const backend = await initBackend(createLogger('bench', 'warn'));
let tfThreads = 1;
if (backend.engine === 'wasm') tfThreads = (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();

interface Result {
  model: string;
  runtime: string;
  items: number;
  unit: string;
  seconds: number;
  perSecond: number;
  baseline?: string;
}
const results: Result[] = [];
const exports: { model: string; exportSeconds: number; onnxBytes: number }[] = [];

function toOrt(t: tf.Tensor): ort.Tensor {
  return t.dtype === 'int32'
    ? new ort.Tensor('int32', t.dataSync() as Int32Array, t.shape)
    : new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
}

/**
 * TF.js vs ORT (all threads, one thread) on the same inputs; `perBatch` items per batch. The runtimes
 * take turns batch by batch, so a change in the machine's load hits all of them alike.
 */
async function compare(name: string, model: tf.LayersModel, inputs: tf.Tensor[], perBatch: number, unit: string): Promise<void> {
  const start = process.hrtime.bigint();
  const bytes = exportLayersModel(model, { layers: MODEL_LAYER_TRANSLATIONS });
  exports.push({ model: name, exportSeconds: Number(process.hrtime.bigint() - start) / 1e9, onnxBytes: bytes.length });
  const tfLabel = `TF.js ${backend.engine} (${tfThreads} thread${tfThreads === 1 ? '' : 's'})`;
  const runners: { runtime: string; run: () => Promise<void>; seconds: number; close?: () => Promise<void> }[] = [
    {
      runtime: tfLabel,
      seconds: 0,
      run: async () => {
        const out = model.predict(inputs.length === 1 ? inputs[0]! : inputs);
        const outs = Array.isArray(out) ? out : [out];
        await Promise.all(outs.map((o) => o.data()));
        tf.dispose(outs);
      },
    },
  ];
  for (const threads of [0, 1]) {
    const session = await ort.InferenceSession.create(bytes, threads ? { intraOpNumThreads: threads } : {});
    const feeds = Object.fromEntries(session.inputNames.map((n, i) => [n, toOrt(inputs[i]!)]));
    runners.push({
      runtime: `onnxruntime-node ${threads ? '(1 thread)' : `(default threads, ${os.availableParallelism()} cores)`}`,
      seconds: 0,
      run: async () => {
        const out = await session.run(feeds);
        for (const v of Object.values(out)) void v.data;
      },
      close: () => session.release(),
    });
  }
  for (const r of runners) await r.run(); // warm-up
  for (let i = 0; i < batches; i++) {
    for (const r of runners) {
      const t0 = process.hrtime.bigint();
      await r.run();
      r.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    }
  }
  const items = perBatch * batches;
  for (const r of runners) {
    await r.close?.();
    results.push({
      model: name,
      runtime: r.runtime,
      items,
      unit,
      seconds: r.seconds,
      perSecond: items / r.seconds,
      baseline: r.runtime === tfLabel ? undefined : tfLabel,
    });
  }
}

// Images: backbone + projection head.
const backbone = await loadMobileNetBackbone();
const projected = tf.layers.dense({ units: 256, name: 'image_projection' }).apply(backbone.outputs[0]!) as tf.SymbolicTensor;
const imageModel = tf.model({
  inputs: backbone.inputs,
  outputs: new L2Normalize({ name: 'image_embedding' }).apply(projected) as tf.SymbolicTensor,
});
const images = tf.randomUniform([imageBatch, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3], 0, 1, 'float32', 1);
await compare('image: MobileNetV2 + Dense(256) + L2', imageModel, [images], imageBatch, 'images');

// Texts: the text tower's shape (buckets of hashed TF-IDF features; id 0 / weight 0 is padding).
const ids = tf.input({ shape: [null], dtype: 'int32', name: 'ids' });
const weights = tf.input({ shape: [null], name: 'weights' });
const bag = new WeightedBag({ name: 'text_bag', inputDim: buckets, outputDim: 128 }).apply([ids, weights]) as tf.SymbolicTensor;
const dropped = tf.layers.dropout({ rate: 0.2 }).apply(bag) as tf.SymbolicTensor;
const textEmbedding = new L2Normalize({ name: 'text_embedding' }).apply(
  tf.layers.dense({ units: 256, name: 'text_projection' }).apply(dropped) as tf.SymbolicTensor,
) as tf.SymbolicTensor;
const wide = new WeightedBag({ name: 'text_wide', inputDim: buckets, outputDim: 13, useBias: true, initScale: 0.01 }).apply([
  ids,
  weights,
]) as tf.SymbolicTensor;
const textModel = tf.model({ inputs: [ids, weights], outputs: [textEmbedding, wide], name: 'text_tower' });
const textIds = tf.randomUniform([textBatch, textLength], 1, buckets, 'int32', 2);
const textWeights = tf.randomUniform([textBatch, textLength], 0, 1, 'float32', 3);
await compare(`text: WeightedBag(${buckets}→128) + Dense(256) + L2, wide bag`, textModel, [textIds, textWeights], textBatch, 'texts');

const lines = [
  `ONNX export benchmark: ${batches} batches after 1 warm-up; images ${imageBatch}/batch (224×224), texts ${textBatch}/batch (${textLength} features each); TF.js ${backend.version} on ${backend.engine}, onnxruntime-node ${ort.env.versions.common}, ${os.availableParallelism()} cores`,
  '',
  '| model | runtime | items | seconds | per second | vs TF.js |',
  '|---|---|---:|---:|---:|---:|',
  ...results.map((r) => {
    const base = results.find((b) => b.model === r.model && b.runtime === r.baseline);
    const ratio = base ? `${(r.perSecond / base.perSecond).toFixed(2)}x` : 'baseline';
    return `| ${r.model} | ${r.runtime} | ${r.items} ${r.unit} | ${r.seconds.toFixed(3)} | ${r.perSecond.toFixed(1)} ${r.unit}/s | ${ratio} |`;
  }),
  '',
  '| model | export seconds | ONNX size |',
  '|---|---:|---:|',
  ...exports.map((e) => `| ${e.model} | ${e.exportSeconds.toFixed(2)} | ${(e.onnxBytes / 2 ** 20).toFixed(1)} MiB |`),
];
console.log(lines.join('\n'));
console.log(
  JSON.stringify({
    benchmark: 'onnx',
    batches,
    imageBatch,
    textBatch,
    textLength,
    buckets,
    tfBackend: backend.engine,
    tfThreads,
    results,
    exports,
  }),
);
