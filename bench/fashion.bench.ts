/**
 * The picture CNN's benchmarks (issue #23), on Fashion-MNIST's real pictures, baselines in the same run:
 *
 * - training samples/s of the same CNN (components/train/picture-cnn.ts; batch 64, flip + 1-pixel shift)
 *   on each TF.js backend that starts here — wasm with the project's gradients plus wasm-fast-grads.ts
 *   (what training uses), wasm with the project's gradients only (before), the plain cpu backend — and in
 *   PyTorch (bench/fashion_torch.py, the same network), in interleaved rounds (this machine is shared: one
 *   round can be several times slower than the next), medians reported;
 * - inference pictures/s of the trained model: ONNX Runtime (image_encoder.onnx, as the service runs it)
 *   against TF.js wasm, on the same 2,000 test pictures.
 *
 *   tsx bench/fashion.bench.ts [--model <dir with image_encoder.onnx and tfjs/>] [--rounds 3] [--steps 40] [--inference-only]
 *
 * Each TF.js variant runs in its own process (a kernel registration is process-wide): `--variant <name>`
 * is that child. Prints one JSON line; writes bench/report/fashion.json.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { FASHION_MNIST_DIR, readFashionMnist } from '../components/core/contracts/index.js';
import { createLogger } from '../components/core/platform/index.js';
import { buildPictureCnn, fillBatch } from '../components/train/picture-cnn.js';
import { initBackend } from '../components/train/tfjs-backend/backend.js';
import { registerWasmFastGrads } from '../components/train/tfjs-backend/wasm-fast-grads.js';
import { seededRandom } from '../components/core/platform/index.js';

const run = promisify(execFile);
const argv = process.argv.slice(2);
const flag = (name: string, fallback?: string) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : fallback;
};
const log = createLogger('bench-fashion', 'warn');
const DATA = flag('data', FASHION_MNIST_DIR)!;

type Variant = 'wasm-fast' | 'wasm-shipped' | 'cpu';

/** One child: training samples/s of the CNN on `steps` real batches (after warm-up steps: 3, on cpu 1). */
async function child(variant: Variant, steps: number): Promise<void> {
  await initBackend(log, variant === 'cpu' ? 'cpu' : 'wasm');
  if (variant === 'wasm-fast') registerWasmFastGrads();
  const warmUp = variant === 'cpu' ? 1 : 3;
  const pictures = await readFashionMnist(DATA, 'train', (steps + warmUp) * 64);
  const cnn = buildPictureCnn({ size: 28, classes: 10, dropout: 0.2 });
  cnn.classifier.compile({ optimizer: tf.train.adam(2e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const buffer = new Float32Array(64 * 28 * 28 * 3);
  const random = seededRandom(1);
  let started = 0;
  for (let step = 0; step < steps + warmUp; step++) {
    if (step === warmUp) started = performance.now();
    const indices = Array.from({ length: 64 }, (_, k) => step * 64 + k);
    fillBatch(pictures, indices, buffer, { flip: 0.5, shift: 1 }, random);
    const x = tf.tensor4d(buffer, [64, 28, 28, 3]);
    const y = tf.tensor1d(
      indices.map((i) => pictures.labels[i]!),
      'float32',
    );
    await cnn.classifier.trainOnBatch(x, y);
    tf.dispose([x, y]);
  }
  process.stdout.write(`${JSON.stringify({ variant, samplesPerSecond: (steps * 64) / ((performance.now() - started) / 1000) })}\n`);
}

async function inference(model: string | undefined): Promise<Record<string, number> | null> {
  if (!model) return null;
  await initBackend(log, 'wasm');
  const test = await readFashionMnist(DATA, 'test', 2000);
  const pixels = fillBatch(
    test,
    Array.from({ length: test.count }, (_, k) => k),
    new Float32Array(test.count * 28 * 28 * 3),
  );
  const session = await ort.InferenceSession.create(await readFile(path.join(model, 'image_encoder.onnx')));
  const tfjsModel = await tf.loadLayersModel(
    tf.io.fromMemory(
      await (async () => {
        const json = JSON.parse(await readFile(path.join(model, 'tfjs', 'model.json'), 'utf8')) as {
          modelTopology: object;
          weightsManifest: Array<{ weights: tf.io.WeightsManifestEntry[] }>;
        };
        const weights = await readFile(path.join(model, 'tfjs', 'weights.bin'));
        return {
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0]!.weights,
          weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
        };
      })(),
    ),
  );
  const batch = 100;
  const time = async (work: (x: Float32Array, n: number) => Promise<void>) => {
    await work(pixels.subarray(0, batch * 2352), batch);
    const started = performance.now();
    for (let start = 0; start < test.count; start += batch) await work(pixels.subarray(start * 2352, (start + batch) * 2352), batch);
    return test.count / ((performance.now() - started) / 1000);
  };
  const onnx = await time(async (x, n) => {
    await session.run({ pixels: new ort.Tensor('float32', x, [n, 28, 28, 3]) });
  });
  const tfjs = await time(async (x, n) => {
    const outputs = tfjsModel.predict(tf.tensor4d(x, [n, 28, 28, 3])) as tf.Tensor[];
    await Promise.all(outputs.map((t) => t.data()));
    tf.dispose(outputs);
  });
  return { onnxPicturesPerSecond: onnx, tfjsWasmPicturesPerSecond: tfjs, ratio: onnx / tfjs, pictures: test.count, batch };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const variant = flag('variant') as Variant | undefined;
  const steps = Number(flag('steps', '40'));
  if (variant) return child(variant, steps);
  if (argv.includes('--inference-only')) {
    process.stdout.write(`${JSON.stringify(await inference(flag('model')))}\n`);
    return;
  }
  const rounds = Number(flag('rounds', '3'));
  const variants: Variant[] = ['wasm-fast', 'wasm-shipped', 'cpu'];
  const samples: Record<string, number[]> = { 'wasm-fast': [], 'wasm-shipped': [], cpu: [], torch: [] };
  let torchInfo: Record<string, unknown> = {};
  const cpuTimeout = Number(flag('cpu-timeout', '180'));
  let cpuDidNotFinish: string | undefined;
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      // The plain cpu backend is two orders of magnitude slower (one warm-up and two steps took over 16
      // minutes on the shared machine): it gets one try, bounded by --cpu-timeout seconds, and a run
      // that does not finish is recorded as an upper bound.
      if (v === 'cpu' && round > 0) continue;
      const timeout = v === 'cpu' ? cpuTimeout * 1000 : 0;
      try {
        const { stdout } = await run(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(import.meta.dirname, 'fashion.bench.ts'),
            '--variant',
            v,
            '--steps',
            String(v === 'cpu' ? 1 : steps),
            '--data',
            DATA,
          ],
          { maxBuffer: 1 << 24, timeout, killSignal: 'SIGKILL' },
        );
        samples[v]!.push((JSON.parse(stdout.trim().split('\n').pop()!) as { samplesPerSecond: number }).samplesPerSecond);
      } catch (error) {
        if (v !== 'cpu') throw error;
        cpuDidNotFinish = `one warm-up and one step of 64 did not finish in ${cpuTimeout} s: under ${(64 / cpuTimeout).toFixed(2)} samples/s`;
      }
    }
    try {
      const { stdout } = await run('/usr/bin/python3', [
        path.join(import.meta.dirname, 'fashion_torch.py'),
        '--steps',
        String(steps),
        '--repeat',
        '1',
        '--data',
        DATA,
      ]);
      torchInfo = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      samples['torch']!.push(torchInfo['samplesPerSecond'] as number);
    } catch (error) {
      torchInfo = { available: false, reason: (error as Error).message.split('\n')[0] };
    }
    process.stderr.write(
      `round ${round + 1}/${rounds}: ${JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.round(v[v.length - 1] ?? NaN)])))}\n`,
    );
  }
  const training = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { median: median(v), runs: v }]));
  const result = {
    training,
    ...(cpuDidNotFinish ? { cpuDidNotFinish } : {}),
    torch: { version: torchInfo['torch'], threads: torchInfo['threads'] },
    inference: await inference(flag('model')),
    batch: 64,
    steps,
  };
  await mkdir(path.join(import.meta.dirname, 'report'), { recursive: true });
  await writeFile(path.join(import.meta.dirname, 'report', 'fashion.json'), JSON.stringify(result, null, 2));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
