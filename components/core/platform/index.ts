/**
 * The platform layer: what every component runs on and nothing about marketplaces or models —
 * errors, secrets, logs and progress, configuration, CLI conventions, the database and the artifact
 * store, HTML reports. It imports no other layer of core/.
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
export * from './report-html.js';
export * from './random.js';
export * from './geo.js';
export * from './float32-bytes.js';
export * from './idx.js';
