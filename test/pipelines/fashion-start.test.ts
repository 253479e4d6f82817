/**
 * `npm start -- --fashion-mnist` runs the whole compiled pipeline on the real-pictures catalogue (a
 * slice: the first 400 pictures of each official split, `--quick`): clean keeps the 28×28 articles at
 * their own size, train labels by the ten classes (one root) and trains the picture CNN at 28×28 as its
 * image backbone, the official test pictures stay held out, and the deployed service answers a picture
 * query with listings of the picture's class far above chance. The full-size run is a benchmark
 * (docs/fashion-mnist.md).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import {
  FASHION_CLASSES,
  FASHION_ROOT,
  fashionImageId,
  MODEL_FILES,
  MODEL_PREFIX,
  ModelMetadata,
  openPublished,
  SplitFile,
} from '../../components/core/contracts/index.js';
import { openFsStore } from '../../components/core/platform/index.js';
import { buildApp, type SearchApp } from '../../components/serve/app.js';
import { ServingState, servingRecordSource } from '../../components/serve/state.js';
import { silentLog, tempDir } from '../helpers.js';
import { runStart } from '../start-cli.js';

const LIMIT = 400;

interface Summary {
  run: { status: string };
  clean: Record<'products' | 'images', { read: number; upserted: number; quarantined: number; removed: number }>;
  serving: { model: { version: string }; index: { version: string } } | null;
  metrics: Record<string, number> | null;
}

const start = (home: string) => runStart<Summary>(['--quick', '--fashion-mnist', '--fashion-limit', String(LIMIT)], home);

describe('npm start -- --fashion-mnist: the whole pipeline on real product pictures', () => {
  let home: string;
  let remove: () => Promise<void>;
  let run: Awaited<ReturnType<typeof start>>;
  let service: SearchApp | undefined;
  let state: ServingState | undefined;
  before(async () => {
    ({ dir: home, remove } = await tempDir('fashion-start-'));
    run = await start(home);
  });
  after(async () => {
    await service?.app.close();
    await state?.close();
    await remove();
  });

  it('cleans, trains, evaluates, indexes and deploys the pictures catalogue', () => {
    assert.equal(run.code, 0, run.stderr.slice(-4000));
    assert.equal(run.summary.run.status, 'SUCCEEDED');
    assert.deepEqual(run.summary.clean.products, { read: 2 * LIMIT, upserted: 2 * LIMIT, quarantined: 0, removed: 0 });
    assert.deepEqual(run.summary.clean.images, { read: 2 * LIMIT, upserted: 2 * LIMIT, quarantined: 0, removed: 0 });
    assert.ok(run.summary.serving, 'a model and index are in service');
  });

  it('trains on the ten classes with the picture CNN at 28×28, the official test pictures held out', async () => {
    const store = openFsStore(path.join(home, 'artifacts'));
    const model = await openPublished(store, MODEL_PREFIX(run.summary.serving!.model.version));
    const metadata = ModelMetadata.parse(model.manifest.metadata);
    assert.equal(metadata.labelDepth, 2);
    assert.deepEqual(metadata.labels, FASHION_CLASSES.map((name) => `${FASHION_ROOT} / ${name}`).sort());
    assert.match(metadata.image?.backbone ?? '', /^scratch-[0-9a-f]{16}$/);
    assert.equal(metadata.image?.inputSize, 28);
    const split = SplitFile.parse(JSON.parse((await model.read(MODEL_FILES.split)).toString('utf8')));
    assert.equal(split.test.length, LIMIT);
    assert.ok(
      split.test.every((id) => id.startsWith('fm-test-')),
      'the test split is the official one',
    );
    // Scored on those test pictures, per modality: the text (a neutral item number) says nothing; the pictures do.
    const metrics = run.summary.metrics!;
    assert.ok(metrics['accuracy_image']! > 0.4, `image accuracy ${metrics['accuracy_image']} (chance 0.1)`);
    assert.ok(
      metrics['accuracy_combined']! > 0.4,
      `combined accuracy ${metrics['accuracy_combined']}: the text's noise must not outvote the pictures`,
    );
  });

  it('answers a picture with listings of its class', async () => {
    const store = openFsStore(path.join(home, 'artifacts'));
    state = new ServingState({ store, log: silentLog, source: servingRecordSource(store) });
    service = await buildApp({ state, log: silentLog });
    const { app } = service;
    await state.refresh();
    const exportDir = path.join(home, 'exports', `fashion-mnist-${LIMIT}-${LIMIT}`);
    const products = parse(await readFile(path.join(exportDir, 'Products.csv'), 'utf8'), { columns: true }) as {
      id: string;
      category: string;
    }[];
    const categoryOf = new Map(products.map((p) => [p.id, p.category]));
    const queries = products.filter((p) => p.id.startsWith('fm-test-')).slice(0, 40);
    let precision = 0;
    for (const query of queries) {
      const picture = await readFile(path.join(exportDir, 'images', `${fashionImageId(query.id)}.png`));
      const answer = await app.inject({
        method: 'POST',
        url: '/search/image?k=10',
        payload: picture,
        headers: { 'content-type': 'image/png' },
      });
      assert.equal(answer.statusCode, 200, answer.body);
      const results = answer.json<{ results: { id: string }[] }>().results;
      assert.equal(results.length, 10);
      precision += results.filter((r) => categoryOf.get(r.id) === query.category).length / 10 / queries.length;
    }
    assert.ok(precision > 0.3, `picture-to-listing precision@10 ${precision.toFixed(3)} (chance 0.1)`);
  });
});
