/** The benchmark report (bench/report.ts) and the paired test it quotes, on hand-made result lines. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mcnemarExactP } from '../../bench/mcnemar.js';
import { betterBy, buildReport, markdown, type Machine } from '../../bench/report.js';

const machine: Machine = { cpu: 'Test CPU', cores: 2, memoryGiB: 8, node: 'v20' };
const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} != ${expected}`);

describe("McNemar's exact test", () => {
  it('is the two-sided binomial tail of the smaller disagreement count', () => {
    assert.equal(mcnemarExactP(0, 0), 1);
    close(mcnemarExactP(5, 0), 2 / 32);
    close(mcnemarExactP(2, 10), (2 * (1 + 12 + 66)) / 4096);
    assert.equal(mcnemarExactP(3, 3), 1);
    // Thousands of disagreements neither underflow nor exceed 1.
    const p = mcnemarExactP(1000, 1200);
    assert.ok(p > 0 && p < 1e-3, String(p));
  });
});

describe('the benchmark report', () => {
  const lines = [
    {
      benchmark: 'train',
      data: 'data',
      snapshot: 'snap-1',
      trainExamples: 1200,
      floor: { accuracy: 0.8, macroF1: 0.78 },
      ours: { text: { accuracy: 0.84, macroF1: 0.8 } },
      paired: { oursOnly: 30, floorOnly: 10, p: 0.002 },
      throughput: [
        { runner: 'TF.js wasm', samplesPerSecond: 50, note: '5 steps of 64' },
        { runner: 'TF.js cpu', samplesPerSecond: null, note: 'did not finish 2 steps within 60 s' },
        { runner: 'PyTorch 1.13 (same text tower, 2 threads)', samplesPerSecond: 100, note: '1 epoch' },
      ],
    },
    {
      benchmark: 'serve',
      data: 'data',
      products: 6258,
      connections: 64,
      seconds: 60,
      compareSeconds: 20,
      swappedAfterSeconds: 3.5,
      rssMb: { before: 270, after: 280 },
      phases: [
        { name: 'before the swap', requests: 1000, perSecond: 500, p50: 40, p99: 70, errors: 0, timeouts: 0, non2xx: 0 },
        { name: 'during the swap', requests: 900, perSecond: 450, p50: 45, p99: 90, errors: 0, timeouts: 1, non2xx: 2, rssMb: 281.4 },
      ],
      sweep: [
        { name: 'text search, 1 connection', requests: 500, perSecond: 100, p50: 1, p99: 2, errors: 5, timeouts: 0, non2xx: 0, rssMb: 290 },
      ],
      ours: { perSecond: 1500, p50: 40, p99: 60 },
      baseline: { perSecond: 1000, p50: 60, p99: 90 },
    },
    { benchmark: 'load', failed: true, exitCode: 1 },
  ];
  const report = buildReport(lines, machine, true, [
    { benchmark: 'serve', seconds: 101.4 },
    { benchmark: '(whole run, servers included)', seconds: 206 },
  ]);

  it('turns each benchmark line into ratios: rates ours ÷ baseline, latencies baseline ÷ ours', () => {
    const byMeasure = new Map(report.ratios.map((r) => [`${r.benchmark}: ${r.measure}`, r]));
    close(betterBy(byMeasure.get('train: test accuracy, ours (text)')!)!, 0.84 / 0.8);
    close(betterBy(byMeasure.get('train: training samples/s, TF.js wasm')!)!, 0.5);
    assert.equal(betterBy(byMeasure.get('train: training samples/s, TF.js cpu')!), null, 'a backend that did not finish has no ratio');
    close(betterBy(byMeasure.get('serve: requests/s on /similar')!)!, 1.5);
    close(betterBy(byMeasure.get('serve: p99 latency on /similar')!)!, 1.5);
  });

  it('writes the paired test, the load phases across the swap, what was not measured and the run time', () => {
    const text = markdown(report);
    assert.match(text, /^# Benchmark report \(--quick: a sample\)/);
    assert.match(text, /1200 training examples; paired: 30 only ours right, 10 only floor, McNemar p 0\.002/);
    assert.match(
      text,
      /^64 connections for 60 s in three phases; the new model and index landed 3\.50 s into the middle one; failed requests across the swap: 3; server RSS 270 MB before the load, 280 MB after/m,
    );
    assert.match(text, /\| during the swap \| 900 \| 450 \| 45 \| 90 \| 3 \| 281 \|/);
    assert.match(
      text,
      /\| text search, 1 connection \| 500 \| 100 \| 1 \| 2 \| 5 \| 290 \|/,
      "the sweep is listed, its failures not counted as the swap's",
    );
    assert.match(text, /- load: failed \(exit code 1\), no figures/);
    assert.match(text, /did not finish 2 steps within 60 s/);
    assert.match(
      text,
      /## Run time\n\n\| benchmark \| seconds \|\n\|---\|---:\|\n\| serve \| 101 \|\n\| \(whole run, servers included\) \| 206 \|/,
    );
  });
});
