/** Throughput probe: samples/s of candidate Fashion-MNIST CNNs on the wasm backend (a few batches each). */
import * as tf from '@tensorflow/tfjs';
import { registerWasmBackend } from '../components/core/ml/tfjs-wasm.js';
import { registerWasmKernels } from '../components/train/tfjs-backend/wasm-kernels.js';
import { registerWasmFastGrads } from '../components/train/tfjs-backend/wasm-fast-grads.js';

type Arch = (input: tf.SymbolicTensor) => tf.SymbolicTensor;
const conv =
  (f: number, k = 3, bn = true) =>
  (x: tf.SymbolicTensor) => {
    let y = tf.layers.conv2d({ filters: f, kernelSize: k, padding: 'same', useBias: !bn }).apply(x) as tf.SymbolicTensor;
    if (bn) y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
    return tf.layers.reLU().apply(y) as tf.SymbolicTensor;
  };
const pool = (x: tf.SymbolicTensor) => tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
const head = (x: tf.SymbolicTensor, units: number) => {
  let y = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  y = tf.layers.dropout({ rate: 0.3 }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units, activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dropout({ rate: 0.3 }).apply(y) as tf.SymbolicTensor;
  return tf.layers.dense({ units: 10, activation: 'softmax' }).apply(y) as tf.SymbolicTensor;
};
const ARCHS: Record<string, Arch> = {
  'c32-p-c64-p-d128': (x) => head(pool(conv(64)(pool(conv(32)(x)))), 128),
  'c32c32-p-c64c64-p-d128': (x) => head(pool(conv(64)(conv(64)(pool(conv(32)(conv(32)(x)))))), 128),
  'c32-p-c64-p-c128-d128': (x) => head(conv(128)(pool(conv(64)(pool(conv(32)(x))))), 128),
  'c16c16-p-c32c32-p-d128': (x) => head(pool(conv(32)(conv(32)(pool(conv(16)(conv(16)(x)))))), 128),
};

const channels = Number(process.env.CH ?? 1);
const batch = Number(process.env.BATCH ?? 64);
await registerWasmBackend();
registerWasmKernels();
if (process.env.FAST) registerWasmFastGrads();
await tf.setBackend(process.env.BACKEND ?? 'wasm');
await tf.ready();
for (const [name, arch] of Object.entries(ARCHS)) {
  if (process.env.ONLY && !name.includes(process.env.ONLY)) continue;
  const input = tf.input({ shape: [28, 28, channels] });
  const model = tf.model({ inputs: input, outputs: arch(input) });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.randomUniform([batch, 28, 28, channels]);
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, k) => k % 10),
    'float32',
  );
  await model.trainOnBatch(x, y);
  const steps = Number(process.env.STEPS ?? 8);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await model.trainOnBatch(x, y);
  const sec = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (let s = 0; s < steps; s++) {
    const p = model.predict(x) as tf.Tensor;
    await p.data();
    p.dispose();
  }
  const inf = (performance.now() - t1) / 1000;
  console.log(
    JSON.stringify({
      name,
      params: model.countParams(),
      backend: tf.getBackend(),
      batch,
      trainSamplesPerSec: Math.round((steps * batch) / sec),
      inferSamplesPerSec: Math.round((steps * batch) / inf),
    }),
  );
  tf.dispose([x, y]);
  model.dispose();
}
