/**
 * New, changed and removed listings reach search on every run. `npm start` with no data runs the whole
 * pipeline on the generated demo catalogue and deploys a first model; then a folder with five new listings, a new price and one listing
 * gone (`--full`): too few to drift, so the production model indexes the new snapshot; then sixty new
 * listings of one kind, which drift, so a model is trained and the new snapshot indexed with whichever
 * model is promoted. After each run the search service, following the run's serving record, finds
 * every new listing by its own title; clean and snapshot never come from the cache.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { openFsStore } from '../../components/core/platform/index.js';
import { buildApp, type SearchApp } from '../../components/serve/app.js';
import { ServingState, servingRecordSource } from '../../components/serve/state.js';
import { silentLog, tempDir } from '../helpers.js';
import { runStart } from '../start-cli.js';

interface Summary {
  drifted: boolean | null;
  run: { id: string; status: string; tasks: Record<string, string> };
  clean: Record<'products' | 'images', { read: number; upserted: number; quarantined: number; removed: number }>;
  serving: { model: { version: string }; index: { version: string } } | null;
  metrics: Record<string, number> | null;
}

const start = (args: string[], home: string) => runStart<Summary>(['--quick', ...args], home);

type Row = string[];
const HEADER: Row = ['', 'id', 'product_name', 'category', 'product_description', 'price', 'location'];

async function readProducts(dir: string): Promise<Row[]> {
  return (parse(await readFile(path.join(dir, 'Products.csv'), 'utf8'), { record_delimiter: '\n' }) as Row[]).slice(1);
}
async function writeProducts(dir: string, rows: Row[]): Promise<void> {
  await writeFile(
    path.join(dir, 'Products.csv'),
    stringify([HEADER, ...rows.map((row, i) => [String(i), ...row.slice(1)])], { record_delimiter: '\n' }),
  );
}

/** A new listing in the export's format; its title (before " | in …") is what a buyer would type. */
function listing(id: string, title: string, category: string, pounds: number): Row {
  return [
    '',
    id,
    `${title} | in Leeds, West Yorkshire | Gumtree`,
    category,
    `${title}, collection only. (test listing)`,
    `£${pounds.toFixed(2)}`,
    'Leeds, West Yorkshire',
  ];
}

const tasksLike = (summary: Summary, name: string) =>
  Object.entries(summary.run.tasks).filter(
    ([task]) => task === name || task.endsWith(`/${name}`) || new RegExp(`(^|/)${name}-\\d+$`).test(task),
  );

describe('new, changed and removed listings reach search on every run', () => {
  let home: string;
  let remove: () => Promise<void>;
  let service: SearchApp | undefined;
  let state: ServingState | undefined;
  before(async () => {
    ({ dir: home, remove } = await tempDir('fresh-listings-'));
  });
  after(async () => {
    await service?.app.close();
    await state?.close();
    await remove();
  });

  /** The search service over what the last run put in service. */
  async function search(q: string, k = 10) {
    const store = openFsStore(path.join(home, 'artifacts'));
    state ??= new ServingState({ store, log: silentLog, source: servingRecordSource(store) });
    service ??= await buildApp({ state, log: silentLog });
    await state.refresh();
    const answer = await service.app.inject({ method: 'GET', url: `/search?${new URLSearchParams({ q, k: String(k) })}` });
    assert.equal(answer.statusCode, 200, answer.body);
    return answer.json<{ index: string; results: { id: string; priceMinor: number }[] }>();
  }

  /** What the run's exit handler recorded (runs/<id>/status.json). */
  async function runOutcome(runId: string): Promise<string> {
    return (JSON.parse(await readFile(path.join(home, 'artifacts', 'runs', runId, 'status.json'), 'utf8')) as { outcome: string }).outcome;
  }

  function assertNothingCached(summary: Summary): void {
    for (const name of ['clean', 'snapshot']) {
      const runs = tasksLike(summary, name);
      assert.ok(runs.length > 0, `${name} ran`);
      for (const [task, status] of runs) assert.equal(status, 'SUCCEEDED', `${task} must run every time, not come from the cache`);
    }
  }

  it('a run without drift indexes the new snapshot with the production model: new listings found by title, a new price shown, a removed listing gone', async () => {
    // No data given: the generated demo catalogue, said to be synthetic; the whole compiled pipeline
    // runs, and the first model is promoted and deployed locally.
    const first = await start([], home);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /SYNTHETIC demo catalogue \(390 listings, \d+ generated pictures\)/);
    assert.equal(first.summary.run.status, 'SUCCEEDED');
    assert.equal(first.summary.clean.products.read, 390);
    assert.ok(first.summary.clean.images.upserted > 500, 'the generated pictures are decoded and cleaned');
    for (const step of ['clean', 'snapshot', 'drift', 'train', 'evaluate', 'index', 'deploy']) {
      assert.ok(
        tasksLike(first.summary, step).some(([, status]) => status === 'SUCCEEDED'),
        `${step}: ${JSON.stringify(first.summary.run.tasks)}`,
      );
    }
    // A --quick model is a smoke run (a few steps): that it was scored on pictures is what counts here.
    assert.ok((first.summary.metrics?.['accuracy_image'] ?? -1) >= 0, 'the model read the demo pictures');
    // What the Kubeflow UI would show: the artifacts' metadata from each task's executor output.
    type Tasks = Record<string, { path: string; metadata?: Record<string, Record<string, unknown>> }>;
    const { tasks } = JSON.parse(await readFile(path.join(home, 'runs', first.summary.run.id, 'run.json'), 'utf8')) as { tasks: Tasks };
    const shown = (name: string) => Object.values(tasks).find((t) => t.path.split('/').at(-1) === name)?.metadata;
    assert.equal(shown('drift')?.['metrics']?.['drifted'], 1);
    assert.equal(typeof shown('evaluate')?.['metrics']?.['accuracy_text'], 'number');
    assert.ok(
      ((shown('evaluate')?.['confusion']?.['confusionMatrix'] as { rows: unknown[] } | undefined)?.rows.length ?? 0) > 0,
      'the confusion matrix',
    );
    assert.ok(Number(shown('index')?.['metrics']?.['products']) > 300);
    assert.match(first.stderr, /metrics as the Kubeflow UI shows them/);
    const production = first.summary.serving;
    assert.match(production?.model.version ?? '', /^m-/);
    assert.match(production?.index.version ?? '', /^ix-/);

    const next = path.join(home, 'next');
    await cp(path.join(home, 'demo-export'), next, { recursive: true });
    const rows = await readProducts(next);
    const [gone, repriced, ...rest] = rows;
    // A new price inside its category's usual range (clean quarantines outliers).
    const newPrice = Math.round(Number(repriced![5]!.replace(/[£,]/g, '')) * 110);
    repriced![5] = `£${(newPrice / 100).toFixed(2)}`;
    const fresh = [
      listing('fresh-1', 'Zephyrine brass telescope tripod', 'Sports, Leisure & Travel / Fitness & Gym Equipment', 45),
      listing('fresh-2', 'Quokka patterned beanbag armchair', 'Home & Garden / Dining, Living Room Furniture', 30),
      listing('fresh-3', 'Marzipan coloured vintage typewriter', 'Office Furniture & Equipment / Desks', 60),
      listing('fresh-4', 'Ultraviolet aquarium heater kit', 'Other Goods / Miscellaneous Goods', 12),
      listing('fresh-5', 'Harpsichord tuning hammer set', 'Music, Films, Books & Games / Musical Instruments', 25),
    ];
    await writeProducts(next, [repriced!, ...rest, ...fresh]);

    const second = await start(['--data', next, '--full'], home);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.summary.drifted, false, 'six new or changed listings are no evidence of drift');
    assertNothingCached(second.summary);
    assert.ok(
      tasksLike(second.summary, 'production-model').some(([, status]) => status === 'SUCCEEDED'),
      JSON.stringify(second.summary.run.tasks),
    );
    assert.ok(!tasksLike(second.summary, 'train').some(([, status]) => status === 'SUCCEEDED'), 'nothing was retrained');
    assert.equal(second.summary.clean.products.removed, 1, 'the listing absent from the full folder is counted as removed');
    const { products } = second.summary.clean;
    assert.equal(products.read, products.upserted + products.quarantined + products.removed);
    assert.equal(second.summary.serving?.model.version, production?.model.version, 'the production model stays');
    assert.notEqual(second.summary.serving?.index.version, production?.index.version, 'a new index of the new snapshot is in service');
    assert.equal(await runOutcome(second.summary.run.id), 'succeeded', 'the exit handler verified the deploy of this run');

    for (const row of fresh) {
      const title = row[2]!.replace(/ \| in .*$/, '');
      const answer = await search(title);
      assert.equal(answer.index, second.summary.serving?.index.version);
      assert.ok(
        answer.results.some((hit) => hit.id === row[1]),
        `${title}: ${JSON.stringify(answer.results.map((h) => h.id))}`,
      );
    }
    const repricedHit = (await search(repriced![2]!.replace(/ \| in .*$/, ''), 50)).results.find((hit) => hit.id === repriced![1]);
    assert.equal(repricedHit?.priceMinor, newPrice, 'the new price is what search answers');
    const similar = await service!.app.inject({ method: 'GET', url: `/products/${encodeURIComponent(gone![1]!)}/similar` });
    assert.equal(similar.statusCode, 404, 'a removed listing is gone from search');
  });

  it('a run that drifts trains a model and indexes the new snapshot with the promoted one (or production): new listings found by title', async () => {
    const drifting = path.join(home, 'drifting');
    await cp(path.join(home, 'next'), drifting, { recursive: true });
    const kinds = ['carbon road bike', 'electric scooter', 'kayak paddle', 'climbing harness', 'ski boots', 'snowboard'];
    const added = Array.from({ length: 60 }, (_, i) =>
      listing(`drift-${i}`, `${kinds[i % kinds.length]} model Z${100 + i}`, 'Sports, Leisure & Travel / Bicycles', 900 + i * 10),
    );
    await writeProducts(drifting, [...(await readProducts(drifting)), ...added]);

    const third = await start(['--data', drifting], home);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.summary.drifted, true, 'sixty listings of one kind at ten times the prices drift');
    assertNothingCached(third.summary);
    assert.ok(
      tasksLike(third.summary, 'train').some(([, status]) => status === 'SUCCEEDED'),
      JSON.stringify(third.summary.run.tasks),
    );
    assert.equal(third.summary.clean.products.removed, 1, 'an incremental load removes nothing more');
    assert.equal(await runOutcome(third.summary.run.id), 'succeeded');
    for (const row of added.filter((_, i) => i % 6 === 0)) {
      const title = row[2]!.replace(/ \| in .*$/, '');
      const answer = await search(title);
      assert.equal(answer.index, third.summary.serving?.index.version);
      assert.ok(
        answer.results.some((hit) => hit.id === row[1]),
        `${title}: ${JSON.stringify(answer.results.map((h) => h.id))}`,
      );
    }
  });
});
