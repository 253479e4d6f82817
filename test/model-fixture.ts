/**
 * A small real catalogue for the model tests: the demo export (generated listings whose pictures
 * carry their category) loaded, cleaned and pinned as a snapshot in a temp folder, on the embedded
 * defaults. Train, evaluate, index and the search service are tested on it end to end.
 */
import path from 'node:path';
import { cleanCatalogue } from '../components/clean/clean.js';
import { loadGazetteer } from '../components/core/contracts/index.js';
import { takeSnapshot } from '../components/clean/snapshot.js';
import { migrate, openFsStore, openPglite, type ArtifactStore, type Database } from '../components/core/platform/index.js';
import { generateDemoExport } from '../components/load/demo.js';
import { loadExportFolder } from '../components/load/load.js';
import { DEFAULTS, QUICK, type Hyperparameters } from '../components/train/hyperparameters.js';
import { silentLog, tempDir } from './helpers.js';

export interface DemoCatalogue {
  dir: string;
  store: ArtifactStore;
  db: Database;
  snapshotId: string;
  products: number;
  remove(): Promise<void>;
}

export async function demoCatalogue(perCategory = 6): Promise<DemoCatalogue> {
  const tmp = await tempDir('model-');
  const store = openFsStore(path.join(tmp.dir, 'artifacts'));
  const db = await openPglite(path.join(tmp.dir, 'pg'), silentLog);
  await migrate(db);
  const exportDir = path.join(tmp.dir, 'export');
  await generateDemoExport(exportDir, { perCategory });
  await loadExportFolder(exportDir, { db, store, log: silentLog });
  await cleanCatalogue({ db, store, log: silentLog, gazetteer: loadGazetteer(), batchSize: 500 });
  const snapshot = await takeSnapshot(db, store);
  return {
    dir: tmp.dir,
    store,
    db,
    snapshotId: snapshot.id,
    products: snapshot.products,
    async remove() {
      await db.close();
      await tmp.remove();
    },
  };
}

/** Hyper-parameters small enough for a test on 2 cores, with the pretrained image backbone. */
export const TINY: Hyperparameters = {
  ...DEFAULTS,
  ...QUICK,
  epochs: 14,
  patience: 14,
  sample: undefined,
  buckets: 2 ** 12,
  maxFeatures: 256,
  textDim: 16,
  embeddingDim: 32,
  imageHidden: 64,
  batchSize: 16,
  learningRate: 1e-2,
};
