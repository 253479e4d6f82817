import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import { openFsStore } from './fs-store.js';
import { createS3Client, openS3Store } from './s3-store.js';
import type { ArtifactStore } from './store.js';

export type { ArtifactStore, Body, ObjectInfo, PutOptions } from './store.js';
export { checkKey } from './store.js';
export { openFsStore } from './fs-store.js';
export { createS3Client, openS3Store, parseS3Uri } from './s3-store.js';

/** The configured artifact store: a local folder for `file://`, S3 for `s3://`. */
export function openArtifactStore(config: Pick<Config, 'artifactRoot' | 's3'>): ArtifactStore {
  if (config.artifactRoot.startsWith('s3://')) return openS3Store(config.artifactRoot, createS3Client(config.s3));
  return openFsStore(fileURLToPath(config.artifactRoot));
}
