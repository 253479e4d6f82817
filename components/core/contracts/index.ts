/**
 * The contracts layer: what one component writes and another reads — snapshot files, the data
 * profile, published folders and their metadata, the serving record, the ids passed along a
 * pipeline, Kubeflow's output forms. Plain schemas and file layouts; it imports only platform/, so a
 * component that reads a contract loads no model runtime.
 */
export * from './snapshots.js';
export * from './profile.js';
export * from './publish.js';
export * from './model-metadata.js';
export * from './serving.js';
export * from './refs.js';
export * from './kfp-outputs.js';
export { loadGazetteer, type Gazetteer, type LocationReason, type LocationResult } from './gazetteer/index.js';
export { normalizeName } from './gazetteer/names.js';
export * from './fashion-mnist.js';
