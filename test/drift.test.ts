/**
 * Drift: the PSI statistics on a shifted and an unshifted sample, and the verdict of the component
 * against the catalogue and the production record.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildProfile, profileShift, psi, seededRandom, SERVING_KEY, type ProfileRow } from '../components/core/index.js';
import { checkDrift, embeddingShift, PROFILE_FILE } from '../components/drift/drift.js';
import { databaseBackends, REPO_ROOT, storeBackends, suiteStorage, tempDir } from './helpers.js';

const ROOTS = ['Appliances', 'Home & Garden', 'Phones', 'Video Games', 'Other Goods'];

function sample(seed: number, count: number, shift: { roots?: string[]; priceFactor?: number } = {}): ProfileRow[] {
  const next = seededRandom(seed);
  const roots = shift.roots ?? ROOTS;
  return Array.from({ length: count }, () => ({
    root: roots[Math.floor(next() * roots.length)]!,
    priceMinor: Math.round(10 ** (2 + next() * 3) * (shift.priceFactor ?? 1)), // £1 to £1,000
    textLength: Math.round(40 + next() * 400),
  }));
}

describe('population stability index', () => {
  it('is zero for identical shares and grows with the shift', () => {
    assert.equal(psi([0.5, 0.5], [0.5, 0.5]), 0);
    assert.ok(psi([0.5, 0.5], [0.6, 0.4]) < psi([0.5, 0.5], [0.9, 0.1]));
    assert.ok(Number.isFinite(psi([0.5, 0.5, 0], [0.4, 0.4, 0.2])), 'an empty training bin does not make it infinite');
  });

  it('stays low for another draw of the training distribution and flags a shifted one', () => {
    const profile = buildProfile(sample(1, 2000), 'snap-a', '2026-01-01T00:00:00Z');
    const same = profileShift(profile, sample(2, 500));
    for (const [feature, value] of Object.entries(same)) assert.ok(value < 0.1, `${feature} PSI ${value} on an unshifted sample`);
    const shifted = profileShift(profile, sample(3, 500, { roots: ['Phones', 'Phones', 'Video Games'], priceFactor: 10 }));
    assert.ok(shifted.category > 0.2, `category PSI ${shifted.category}`);
    assert.ok(shifted.price > 0.2, `price PSI ${shifted.price}`);
    assert.ok(shifted.textLength < 0.1, 'text lengths did not move');
  });
});

describe('embedding shift', () => {
  const draw = (seed: number, count: number, dim: number, offset: number) => {
    const next = seededRandom(seed);
    // Roughly normal (sum of uniforms), unit variance per dimension, shifted by `offset`.
    return Float32Array.from({ length: count * dim }, () => (next() + next() + next() - 1.5) * 2 + offset);
  };
  const dim = 16;
  const training = { dim, mean: new Array<number>(dim).fill(0), variance: new Array<number>(dim).fill(1) };

  it('stays small for another draw of the training distribution and grows with a shift of the mean', () => {
    const same = embeddingShift(training, draw(1, 400, dim, 0), 400);
    const moved = embeddingShift(training, draw(2, 400, dim, 0.5), 400);
    assert.ok(same < 0.1, `unshifted ${same}`);
    assert.ok(Math.abs(moved - 0.5) < 0.1, `shifted by half a standard deviation: ${moved}`);
  });
});

describe('the drift component', () => {
  const storage = suiteStorage(databaseBackends[1]!, storeBackends[1]!);

  let counter = 0;
  async function insert(rows: ProfileRow[]): Promise<void> {
    for (const row of rows) {
      counter += 1;
      await storage.db.query(
        `INSERT INTO products (id, raw_hash, title, description, text_clean, root_category, category_path, price_minor, currency)
         VALUES ($1, 'h', 't', 'd', repeat('x', $2::int), $3, '[]'::jsonb, $4, 'GBP')`,
        [`p${counter}`, row.textLength, row.root, row.priceMinor],
      );
    }
  }

  it('says drifted when nothing is in production yet', async () => {
    await insert(sample(10, 300));
    const verdict = await checkDrift({ db: storage.db, store: storage.store, threshold: 0.2 });
    assert.equal(verdict.drifted, true);
    assert.match(verdict.reason, /no model in production/);
  });

  it('compares the listings changed after training with the production model’s profile', async () => {
    const trainedAt = new Date().toISOString();
    const profile = buildProfile(sample(10, 300), 'snap-trained', trainedAt);
    await storage.store.put(`models/m1/${PROFILE_FILE}`, JSON.stringify(profile));
    await storage.store.put(SERVING_KEY, JSON.stringify({ model: { version: 'm1', key: 'models/m1' }, snapshotId: 'snap-trained', deployedAt: trainedAt }));
    await new Promise((resolve) => setTimeout(resolve, 5));

    const none = await checkDrift({ db: storage.db, store: storage.store, threshold: 0.2 });
    assert.deepEqual([none.drifted, none.newListings], [false, 0]);
    assert.match(none.reason, /fewer than the 50/);

    await insert(sample(11, 200));
    const same = await checkDrift({ db: storage.db, store: storage.store, threshold: 0.2 });
    assert.equal(same.drifted, false, same.reason);
    assert.equal(same.newListings, 200);

    await insert(sample(12, 400, { roots: ['Phones'], priceFactor: 20 }));
    const shifted = await checkDrift({ db: storage.db, store: storage.store, threshold: 0.2 });
    assert.equal(shifted.drifted, true);
    assert.match(shifted.reason, /drift: category PSI [\d.]+ above 0.2, price PSI [\d.]+ above 0.2/);
    assert.equal(shifted.embeddingShift, null, 'this profile has no embeddings');
  });

  it('refuses a malformed production record rather than calling it "none"', async () => {
    await storage.store.put(SERVING_KEY, '{"model": 3}');
    await assert.rejects(checkDrift({ db: storage.db, store: storage.store, threshold: 0.2 }), /is not a serving record/);
  });
});

describe('drift on the command line', () => {
  it('writes the verdict, the metrics and the report for the pipeline', async () => {
    const tmp = await tempDir('drift-cli-');
    try {
      const out = (name: string) => path.join(tmp.dir, 'out', name);
      const result = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'drift', 'main.ts'), '--drifted-out', out('drifted'), '--metrics', out('metrics.json'), '--report', out('report.html')],
        { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, MARKETPLACE_HOME: path.join(tmp.dir, 'home'), LOG_LEVEL: 'warn' } },
      );
      assert.equal(result.status, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { drifted: boolean }).drifted, true);
      assert.equal(await readFile(out('drifted'), 'utf8'), 'true');
      const metrics = JSON.parse(await readFile(out('metrics.json'), 'utf8')) as { metrics: { name: string; numberValue: number }[] };
      assert.deepEqual(metrics.metrics.find((m) => m.name === 'drifted'), { name: 'drifted', numberValue: 1 });
      assert.match(await readFile(out('report.html'), 'utf8'), /<h1>Drift: drifted<\/h1>/);
      const bad = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'drift', 'main.ts'), '--threshold', '-1'], { cwd: REPO_ROOT, encoding: 'utf8' });
      assert.equal(bad.status, 2);
    } finally {
      await tmp.remove();
    }
  });
});
