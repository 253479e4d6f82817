/**
 * Drift: the PSI statistics on a shifted and an unshifted sample, and the verdict of the component on
 * the snapshot it is given against the production model's training snapshot and profile.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openFsStore, seededRandom } from '../../components/core/platform/index.js';
import {
  buildProfile,
  profileRowOf,
  profileShift,
  psi,
  SERVING_KEY,
  SNAPSHOT_KEY,
  SNAPSHOT_PRODUCTS_KEY,
  type ProfileRow,
  type SnapshotProduct,
} from '../../components/core/contracts/index.js';
import { checkDrift, embeddingShift, PROFILE_FILE } from '../../components/drift/drift.js';
import { databaseBackends, REPO_ROOT, storeBackends, suiteStorage, tempDir } from '../helpers.js';

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

  /** Listings with the profile's features (text length = title + text, as train measures it). */
  const listings = (rows: ProfileRow[], from: number): SnapshotProduct[] =>
    rows.map((row, k) => ({
      id: `p${from + k}`,
      title: 't',
      text: 'x'.repeat(row.textLength - 1),
      root: row.root,
      path: [row.root],
      priceMinor: row.priceMinor,
      town: null,
      county: null,
      latitude: null,
      longitude: null,
      images: [],
    }));
  /** A snapshot as clean publishes it: its rows, then snapshot.json. */
  async function pin(id: string, products: SnapshotProduct[]): Promise<string> {
    await storage.store.put(SNAPSHOT_PRODUCTS_KEY(id), gzipSync(products.map((p) => `${JSON.stringify(p)}\n`).join('')));
    await storage.store.put(SNAPSHOT_KEY(id), JSON.stringify({ id, products: products.length }));
    return id;
  }
  const trained = listings(sample(10, 300), 0);

  it('says drifted when nothing is in production yet, counting the snapshot’s listings', async () => {
    const snapshotId = await pin('snap-trained', trained);
    const verdict = await checkDrift({ store: storage.store, snapshotId, threshold: 0.2 });
    assert.equal(verdict.drifted, true);
    assert.equal(verdict.newListings, 300);
    assert.match(verdict.reason, /no model in production/);
  });

  it('judges the listings of the given snapshot that are new or changed since the training snapshot, not the live catalogue', async () => {
    const profile = buildProfile(trained.map(profileRowOf), 'snap-trained', new Date().toISOString());
    await storage.store.put(`models/m1/${PROFILE_FILE}`, JSON.stringify(profile));
    await storage.store.put(
      SERVING_KEY,
      JSON.stringify({ model: { version: 'm1', key: 'models/m1' }, snapshotId: 'snap-trained', deployedAt: profile.createdAt }),
    );

    const none = await checkDrift({ store: storage.store, snapshotId: 'snap-trained', threshold: 0.2 });
    assert.deepEqual([none.drifted, none.newListings, none.trainingSnapshot], [false, 0, 'snap-trained']);
    assert.match(none.reason, /fewer than the 50/);

    // A changed price makes a listing new again; 200 more like the training ones: no drift.
    const repriced = trained.map((p, k) => (k < 10 ? { ...p, priceMinor: p.priceMinor + 100 } : p));
    const same = await checkDrift({
      store: storage.store,
      snapshotId: await pin('snap-same', [...repriced, ...listings(sample(11, 200), 1000)]),
      threshold: 0.2,
    });
    assert.equal(same.drifted, false, same.reason);
    assert.equal(same.newListings, 210);

    const shiftedId = await pin('snap-shifted', [...trained, ...listings(sample(12, 400, { roots: ['Phones'], priceFactor: 20 }), 2000)]);
    const shifted = await checkDrift({ store: storage.store, snapshotId: shiftedId, threshold: 0.2 });
    assert.equal(shifted.drifted, true);
    assert.equal(shifted.newListings, 400);
    assert.match(shifted.reason, /drift: category PSI [\d.]+ above 0.2, price PSI [\d.]+ above 0.2/);
    assert.equal(shifted.embeddingShift, null, 'this profile has no embeddings');
    // The earlier snapshot still judges the same: drift reads what it is given.
    assert.equal((await checkDrift({ store: storage.store, snapshotId: 'snap-same', threshold: 0.2 })).newListings, 210);
    await assert.rejects(
      checkDrift({ store: storage.store, snapshotId: 'snap-missing', threshold: 0.2 }),
      /snapshot snap-missing is not in the artifact store/,
    );
  });

  it('refuses a malformed production record rather than calling it "none"', async () => {
    await storage.store.put(SERVING_KEY, '{"model": 3}');
    await assert.rejects(checkDrift({ store: storage.store, snapshotId: 'snap-trained', threshold: 0.2 }), /is not a serving record/);
  });
});

describe('drift on the command line', () => {
  it('writes the verdict, the metrics and the report for the pipeline', async () => {
    const tmp = await tempDir('drift-cli-');
    try {
      const out = (name: string) => path.join(tmp.dir, 'out', name);
      const home = path.join(tmp.dir, 'home');
      const store = openFsStore(path.join(home, 'artifacts'));
      await store.put(SNAPSHOT_PRODUCTS_KEY('snap-0123456789abcdef'), gzipSync(''));
      await store.put(SNAPSHOT_KEY('snap-0123456789abcdef'), JSON.stringify({ id: 'snap-0123456789abcdef' }));
      const snapshotFile = out('snapshot.json');
      await mkdir(path.dirname(snapshotFile), { recursive: true });
      await writeFile(snapshotFile, JSON.stringify({ id: 'snap-0123456789abcdef' }));
      const result = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(REPO_ROOT, 'components', 'drift', 'main.ts'),
          '--snapshot',
          snapshotFile,
          '--drifted-out',
          out('drifted'),
          '--metrics',
          out('metrics.json'),
          '--report',
          out('report.html'),
          '--executor-output',
          out('executor.json'),
        ],
        { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, MARKETPLACE_HOME: home, LOG_LEVEL: 'warn' } },
      );
      assert.equal(result.status, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { drifted: boolean }).drifted, true);
      assert.equal(await readFile(out('drifted'), 'utf8'), 'true');
      const metrics = JSON.parse(await readFile(out('metrics.json'), 'utf8')) as { metrics: { name: string; numberValue: number }[] };
      assert.deepEqual(
        metrics.metrics.find((m) => m.name === 'drifted'),
        { name: 'drifted', numberValue: 1 },
      );
      assert.match(await readFile(out('report.html'), 'utf8'), /<h1>Drift: drifted<\/h1>/);
      // KFP's executor output: the metrics as the metadata of the `metrics` artifact, which the UI shows.
      const executor = JSON.parse(await readFile(out('executor.json'), 'utf8')) as {
        artifacts: Record<string, { artifacts: { metadata: Record<string, number> }[] }>;
      };
      assert.equal(executor.artifacts['metrics']?.artifacts[0]?.metadata['drifted'], 1);
      assert.equal(executor.artifacts['metrics']?.artifacts[0]?.metadata['new_listings'], 0);
      const bad = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'drift', 'main.ts'), '--snapshot', snapshotFile, '--threshold', '-1'],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      );
      assert.equal(bad.status, 2);
      const missing = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'components', 'drift', 'main.ts')], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /--snapshot/);
    } finally {
      await tmp.remove();
    }
  });
});
