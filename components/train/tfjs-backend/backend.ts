/**
 * Picks the TF.js backend: tfjs-node-gpu when it is installed and a GPU is visible, else tfjs-node,
 * else wasm (SIMD), else the plain cpu backend. The native packages are optional dependencies (their
 * install downloads libtensorflow, which only works where the internet is reachable, e.g. the GPU
 * training image); a missing or broken one is logged and skipped, never fatal. Every module uses
 * `@tensorflow/tfjs`; loading a native package only registers its backend with that same engine.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { InputError, type Logger } from '../../core/platform/index.js';
import { registerWasmBackend } from '../../core/ml/index.js';
import { registerWasmKernels } from './wasm-kernels.js';

export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** Which of BACKENDS runs. */
  name: BackendChoice;
  /** TF.js's own name for it (`tensorflow`, `wasm`, `cpu`). */
  engine: string;
  version: string;
}

function gpuVisible(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}

async function tryNative(log: Logger, pkg: string): Promise<boolean> {
  try {
    await import(pkg);
    return true;
  } catch (error) {
    log.debug({ pkg, error: (error as Error).message.split('\n')[0] }, 'native TF.js backend not available');
    return false;
  }
}

async function activate(log: Logger, choice: BackendChoice): Promise<boolean> {
  switch (choice) {
    case 'tensorflow-gpu':
      return gpuVisible() && (await tryNative(log, '@tensorflow/tfjs-node-gpu')) && tf.setBackend('tensorflow');
    case 'tensorflow':
      return (await tryNative(log, '@tensorflow/tfjs-node')) && tf.setBackend('tensorflow');
    case 'wasm': {
      await registerWasmBackend();
      registerWasmKernels();
      return tf.setBackend('wasm');
    }
    case 'cpu':
      return tf.setBackend('cpu');
  }
}

let active: BackendInfo | undefined;

/**
 * Starts the best backend available, or exactly `only` when given (an error when it cannot start:
 * someone who asked for the GPU must not silently get the cpu backend, which is 35x slower).
 */
export async function initBackend(log: Logger, only?: BackendChoice): Promise<BackendInfo> {
  if (active && (!only || only === active.name)) return active;
  const candidates = only ? [only] : BACKENDS;
  for (const choice of candidates) {
    if (await activate(log, choice)) {
      await tf.ready();
      active = { name: choice, engine: tf.getBackend(), version: tf.version.tfjs };
      if (choice === 'cpu') log.warn('TF.js runs on the plain cpu backend: expect training to be slow');
      log.info(active, 'TF.js backend');
      return active;
    }
  }
  throw new InputError(
    `TF.js backend ${only} cannot start on this machine (choose one of ${BACKENDS.join(', ')}, or leave it out to take the best available)`,
  );
}

export { tf };
