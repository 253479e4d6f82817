/**
 * The shared library every component imports: configuration, logs and progress, CLI conventions,
 * the database and the artifact store, and the contracts between components (snapshot files, the
 * data profile, the serving record, HTML reports). Its surface is this file; nothing else is shared
 * by copy.
 */
export * from './errors.js';
export * from './secrets.js';
export * from './log.js';
export * from './config.js';
export * from './progress.js';
export * from './cli.js';
export * from './db/index.js';
export * from './artifacts/index.js';
export * from './runtime.js';
export * from './profile.js';
export * from './serving.js';
export * from './report-html.js';
export * from './random.js';
export * from './geo.js';
export * from './snapshots.js';
export * from './publish.js';
export * from './kfp-outputs.js';
export * from './float32-bytes.js';
export * from './tfjs-wasm.js';
export * from './text-features.js';
export * from './sentence-encoder.js';
export * from './image-pixels.js';
export * from './model-metadata.js';
export * from './metrics.js';
export * from './refs.js';
export * from './vector-index.js';
export * from './embedder.js';
export * from './index-bundle.js';
export * from './lexical/index.js';
