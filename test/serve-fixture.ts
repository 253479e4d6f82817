/**
 * The search service on real parts, shared by the service tests: the demo catalogue (generated
 * listings with pictures) loaded, cleaned and pinned in a temporary folder store, a small model
 * trained by the train component, indexes built by the index component, the serving record pointing
 * at them, and the Fastify app built over a ServingState that follows that record.
 */
import path from 'node:path';
import { cleanCatalogue } from '../components/clean/clean.js';
import { loadGazetteer } from '../components/core/contracts/index.js';
import { takeSnapshot } from '../components/clean/snapshot.js';
import { migrate, openFsStore, openPglite, type ArtifactStore, type Database } from '../components/core/platform/index.js';
import { SERVING_KEY, ServingRecord } from '../components/core/contracts/index.js';
import { INDEX_PREFIX } from '../components/core/ml/index.js';
import { buildIndex } from '../components/index/build.js';
import { generateDemoExport } from '../components/load/demo.js';
import { loadExportFolder } from '../components/load/load.js';
import { buildApp, type AppOptions, type SearchApp } from '../components/serve/app.js';
import { ServingState, servingRecordSource } from '../components/serve/state.js';
import { DEFAULTS, QUICK, type Hyperparameters } from '../components/train/hyperparameters.js';
import { trainModel } from '../components/train/train.js';
import { silentLog, tempDir } from './helpers.js';

/** Points `serving/current.json` at a model and an index (what a local deploy writes). */
export async function publishServing(store: ArtifactStore, modelVersion: string, indexVersion: string, snapshotId: string): Promise<void> {
  const record = ServingRecord.parse({
    model: { version: modelVersion, key: `models/${modelVersion}` },
    index: { version: indexVersion, key: INDEX_PREFIX(indexVersion) },
    snapshotId,
    deployedAt: new Date().toISOString(),
  });
  await store.put(SERVING_KEY, JSON.stringify(record));
}

export interface DemoService {
  /** The generated export (`images/demo-img-000000.jpg` is a real catalogue picture). */
  exportDir: string;
  db: Database;
  store: ArtifactStore;
  snapshotId: string;
  modelVersion: string;
  indexVersion: string;
  state: ServingState;
  service: SearchApp;
  /** Whether the model has an image tower (the demo pictures give it one). */
  imageTower: boolean;
  /** Closes the app, the state and the database and removes the folder. */
  close(): Promise<void>;
}

export interface DemoServiceOptions {
  /** Listings in each of the 13 categories. */
  perCategory?: number;
  imageSize?: number;
  hyperparameters?: Partial<Hyperparameters>;
  buyers?: number;
  /** Limits and the like for the app. */
  app?: Omit<AppOptions, 'state' | 'log'>;
}

/** Small enough for a test on 2 cores, and still a model with both towers. */
export const SERVE_HYPERPARAMETERS: Partial<Hyperparameters> = { ...QUICK, epochs: 1, sample: 200 };

export async function demoService(options: DemoServiceOptions = {}): Promise<DemoService> {
  const tmp = await tempDir('serve-');
  const closers: (() => Promise<unknown>)[] = [tmp.remove];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const exportDir = path.join(tmp.dir, 'export');
    await generateDemoExport(exportDir, { perCategory: options.perCategory ?? 6, imageSize: options.imageSize ?? 96 });
    const db = await openPglite(path.join(tmp.dir, 'pg'), silentLog);
    closers.push(() => db.close());
    await migrate(db);
    const store = openFsStore(path.join(tmp.dir, 'artifacts'));
    await loadExportFolder(exportDir, { db, store, log: silentLog });
    await cleanCatalogue({ db, store, log: silentLog, gazetteer: loadGazetteer() });
    const snapshotId = (await takeSnapshot(db, store)).id;
    const hyperparameters = { ...DEFAULTS, ...(options.hyperparameters ?? SERVE_HYPERPARAMETERS) };
    const model = await trainModel(store, { snapshotId, hyperparameters }, silentLog);
    const indexVersion = (
      await buildIndex(store, db, { modelVersion: model.version, snapshotId, buyers: options.buyers ?? 1000 }, silentLog)
    ).version;
    await publishServing(store, model.version, indexVersion, snapshotId);

    // One lexical thread, as the service runs by default: unfiltered queries are searched on it.
    const state = new ServingState({ store, log: silentLog, source: servingRecordSource(store), loadOptions: { lexicalThreads: 1 } });
    closers.push(() => state.close());
    const service = await buildApp({ ...options.app, state, log: silentLog });
    closers.push(() => service.app.close());
    const outcome = await state.refresh();
    if (outcome !== 'swapped') throw new Error(`the demo service did not load its model and index: ${outcome} (${state.lastError()})`);
    return {
      exportDir,
      db,
      store,
      snapshotId,
      modelVersion: model.version,
      indexVersion,
      state,
      service,
      imageTower: !!model.metadata.modalities.image,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
