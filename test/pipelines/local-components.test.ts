/**
 * The product's own components under the local runner, exactly as Kubeflow would start them: the
 * front of the marketplace pipeline (clean fanned out over partitions, snapshot, drift) compiled to
 * IR and run on the embedded defaults, with KFP's placeholders for output parameters and artifacts.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, migrate, openFsStore, openPglite } from '../../components/core/platform/index.js';
import { loadExportFolder } from '../../components/load/load.js';
import { clean, drift, snapshot } from '../../pipelines/marketplace/components.js';
import { compilePipeline, param, parallelFor, pipeline, toYaml } from '../../pipelines/dsl/index.js';
import { mapCommandToCheckout, runPipeline } from '../../pipelines/local/runner.js';
import { REPO_ROOT, silentLog, tempDir } from '../helpers.js';

const front = pipeline({ name: 'marketplace-front', inputs: { partitions: param.list({ default: ['0/2', '1/2'] }) } }, (inputs) => {
  const cleaning = parallelFor(inputs.partitions, (partition) => void clean({ partition, batchSize: 2 }), { parallelism: 2 });
  const pinned = snapshot({}).after(cleaning);
  drift({ snapshot: pinned.outputs.snapshot });
});

describe('the real components under the local runner', () => {
  it('cleans in two partitions, pins a snapshot with its report, and says drifted (nothing in production yet)', async () => {
    const tmp = await tempDir('front-');
    try {
      const home = path.join(tmp.dir, 'home');
      const db = await openPglite(path.join(home, 'pg'), silentLog);
      await migrate(db);
      await loadExportFolder(path.join(REPO_ROOT, 'test', 'fixtures', 'export-7col'), {
        db,
        store: openFsStore(path.join(home, 'artifacts')),
        log: silentLog,
      });
      await db.close(); // the tasks open the embedded database themselves, one at a time

      const specYaml = toYaml(front, compilePipeline(front, { imageRegistry: 'local', imageTag: 'test', compilerVersion: 'test' }));
      const run = await runPipeline({
        specYaml,
        runsDir: path.join(home, 'runs'),
        mapCommand: mapCommandToCheckout(REPO_ROOT),
        env: { MARKETPLACE_HOME: home, LOG_LEVEL: 'warn', DATABASE_URL: '', ARTIFACT_ROOT: '' },
        log: createLogger('runner', 'silent'),
      });
      assert.equal(run.status, 'SUCCEEDED', run.error);
      const cleaned = [0, 1].map((i) => Number(run.tasks[`for-loop-1/${i}/clean`]?.parameters?.['cleaned']));
      assert.ok(cleaned.every((n) => n >= 0));
      assert.equal(cleaned[0]! + cleaned[1]!, 3 + 0, 'three clean products between the partitions; the fixture has no image files');
      const pinned = run.tasks['snapshot'];
      const description = JSON.parse(await readFile(pinned?.artifacts?.['snapshot'] ?? '', 'utf8')) as { id: string; products: number };
      assert.equal(description.products, 3);
      assert.match(await readFile(pinned?.artifacts?.['eda'] ?? '', 'utf8'), new RegExp(`Catalogue ${description.id}`));
      assert.equal(run.tasks['drift']?.parameters?.['drifted'], true);
      assert.match(await readFile(run.tasks['drift']?.artifacts?.['report'] ?? '', 'utf8'), /no model in production/);
    } finally {
      await tmp.remove();
    }
  });
});
