/**
 * Search quality in evaluate: the three modes side by side on the demo model's test split, the hybrid's
 * figures in the KFP metrics, the report's table, and the promote gate refusing a model whose hybrid
 * search is worse than production's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FUSION, SEARCH_MODES, type ModeScores } from '../components/core/ml/index.js';
import { evaluateModel } from '../components/evaluate/evaluate.js';
import { decide, headline } from '../components/evaluate/gate.js';
import { searchTable } from '../components/evaluate/report.js';
import type { Scores } from '../components/evaluate/score.js';
import { demoService, type DemoService } from './serve-fixture.js';
import { silentLog } from './helpers.js';

const mode = (r1: number, r10: number, ndcg: number): ModeScores => ({
  knownItem: { queries: 100, recallAt1: r1, recallAt10: r10, mrr: (r1 + r10) / 2 },
  short: { queries: 300, ndcgAt10: ndcg, precisionAt10: ndcg / 2 },
});

function scores(model: string, hybrid: ModeScores): Scores {
  const classified = { labels: [], accuracy: 0.85, macroF1: 0.84, confusion: [], perClass: {} };
  return {
    model,
    testProducts: 100,
    classification: { text: classified, image: null, combined: classified },
    retrieval: { queries: 100, recall: { at1: 0.5, at10: 0.9, at100: 1 }, ndcgAt10: 0.6 },
    search: { modes: { bm25: mode(0.9, 0.99, 0.4), dense: mode(0.6, 0.9, 0.5), hybrid }, fusion: DEFAULT_FUSION, fit: null },
  };
}

describe('the promote gate guards hybrid search', () => {
  const production = scores('m-old', mode(0.95, 0.99, 0.7));

  it('carries the hybrid figures as metrics', () => {
    const metrics = headline(production);
    assert.equal(metrics['search_hybrid_known_recall_at_1'], 0.95);
    assert.equal(metrics['search_hybrid_known_recall_at_10'], 0.99);
    assert.equal(metrics['search_hybrid_short_ndcg_at_10'], 0.7);
    assert.equal(metrics['search_hybrid_short_precision_at_10'], 0.35);
  });

  it('keeps production when the new model searches worse, on any of the three guards', () => {
    for (const worse of [mode(0.9, 0.99, 0.7), mode(0.95, 0.95, 0.7), mode(0.95, 0.99, 0.6)]) {
      const verdict = decide(scores('m-new', worse), production, 0.005, 'm-old');
      assert.equal(verdict.promote, false);
      assert.match(verdict.reason, /search_hybrid_/);
    }
  });

  it('promotes a model that searches as well, within the tolerance', () => {
    assert.equal(decide(scores('m-new', mode(0.948, 0.99, 0.701)), production, 0.005, 'm-old').promote, true);
  });

  it('shows BM25F, dense and hybrid side by side in the report', () => {
    const table = searchTable([scores('m-new', mode(0.97, 1, 0.8)), production]);
    assert.equal((table.match(/<tr>/g) ?? []).length, 1 + 2 * 3);
    assert.match(table, /BM25F alone/);
    assert.match(table, /dense alone/);
    assert.match(table, /<b>hybrid<\/b><\/td><td style="text-align:right">0\.970/);
  });
});

describe('evaluate on the demo model', () => {
  let demo: DemoService;
  before(async () => {
    demo = await demoService({ perCategory: 8, imageSize: 64 });
  });
  after(async () => demo?.close());

  it('scores the three search modes on the same test queries and puts the table in the report', async () => {
    const evaluation = await evaluateModel(demo.store, { modelVersion: demo.modelVersion, snapshotId: demo.snapshotId, tolerance: 0.005 }, silentLog);
    const search = evaluation.candidate.search!;
    assert.ok(search, 'search quality measured');
    const known = search.modes.hybrid.knownItem.queries;
    assert.equal(known, evaluation.candidate.testProducts);
    for (const m of SEARCH_MODES) {
      assert.equal(search.modes[m].knownItem.queries, known, `${m} on the same queries`);
      assert.equal(search.modes[m].short.queries, search.modes.hybrid.short.queries);
      const { recallAt1, recallAt10, mrr } = search.modes[m].knownItem;
      // MRR counts rank 1 fully and ranks past 10 a little: r@1 ≤ MRR ≤ r@10 + 1/11.
      assert.ok(recallAt1 <= mrr + 1e-9 && mrr <= recallAt10 + 1 / 11 + 1e-9, `${m}: r@1 ${recallAt1}, MRR ${mrr}, r@10 ${recallAt10}`);
      assert.ok(search.modes[m].short.ndcgAt10 >= 0 && search.modes[m].short.ndcgAt10 <= 1);
    }
    // Demo titles repeat (8 listings per category share 5 item names): the listing is among its namesakes.
    assert.ok(search.modes.bm25.knownItem.recallAt10 > 0.5, `BM25F recall@10 ${search.modes.bm25.knownItem.recallAt10}`);
    assert.equal(evaluation.metrics['search_hybrid_known_recall_at_10'], search.modes.hybrid.knownItem.recallAt10);
    assert.match(evaluation.report, /BM25F, dense and hybrid side by side/);
    assert.ok(await demo.store.exists(`evaluations/${demo.modelVersion}/metrics.json`));
  });
});
