/**
 * The TF.js wasm backend under Node, registered with its .wasm files found: they sit beside the
 * package's dist bundle, where the backend's own lookup (made for browsers) does not search.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export async function registerWasmBackend(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
}
