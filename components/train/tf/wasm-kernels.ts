/**
 * Kernels the TF.js wasm backend (4.22) lacks but training needs, built from kernels it has and
 * registered for 'wasm' only. Each one is checked against the cpu backend in test/wasm-kernels.test.ts.
 *
 * - UnsortedSegmentSum: the gradient of `tf.gather`, so of every Embedding layer. Built on ScatterNd,
 *   which sums duplicate indices exactly as a segment sum does.
 */
import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type WasmBackend = KernelArgs['backend'] & { disposeData(dataId: object): void };

function wasmKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel to build on`);
  return kernel.kernelFunc;
}

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  const reshape = wasmKernel('Reshape');
  const scatter = wasmKernel('ScatterNd');
  const count = segmentIds.shape.reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(segmentIds.shape.length);
  const indices = reshape({ inputs: { x: segmentIds }, backend, attrs: { shape: [count, 1] } }) as tf.TensorInfo;
  const updates = reshape({ inputs: { x }, backend, attrs: { shape: [count, ...rest] } }) as tf.TensorInfo;
  const out = scatter({ inputs: { indices, updates }, backend, attrs: { shape: [numSegments, ...rest] } }) as tf.TensorInfo;
  (backend as WasmBackend).disposeData(indices.dataId);
  (backend as WasmBackend).disposeData(updates.dataId);
  return out;
}

let registered = false;

/** Registers the missing kernels once; call before `tf.setBackend('wasm')`. */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
}
