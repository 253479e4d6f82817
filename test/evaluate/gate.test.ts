/**
 * The promote gate (evaluate/gate.ts) and the report's search table (evaluate/report.ts), on scores
 * made by hand: the first model is promoted; a model worse than production on the primary metric or
 * on any guard (text accuracy, hybrid search) is not; nor is the model already in production.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FUSION, type ModeScores } from '../../components/core/ml/index.js';
import { decide, headline } from '../../components/evaluate/gate.js';
import { searchTable } from '../../components/evaluate/report.js';
import type { Scores } from '../../components/evaluate/score.js';

describe('the promote gate', () => {
  const scores = (model: string, combined: number, text: number, recall10: number): Scores => ({
    model,
    testProducts: 100,
    classification: {
      text: { labels: [], accuracy: text, macroF1: text, confusion: [], perClass: {} },
      image: null,
      combined: { labels: [], accuracy: combined, macroF1: combined, confusion: [], perClass: {} },
    },
    retrieval: { queries: 100, recall: { at1: recall10 / 2, at10: recall10, at100: 1 }, ndcgAt10: 0.5 },
  });

  it('promotes the first model', () => assert.equal(decide(scores('m-new', 0.5, 0.5, 0.5), null, 0.005, null).promote, true));
  it('promotes a model within the tolerance on every metric', () =>
    assert.equal(decide(scores('m-new', 0.838, 0.84, 0.6), scores('m-old', 0.84, 0.84, 0.6), 0.005, 'm-old').promote, true));
  it('keeps production when the primary metric is worse', () => {
    const verdict = decide(scores('m-new', 0.8, 0.84, 0.6), scores('m-old', 0.84, 0.84, 0.6), 0.005, 'm-old');
    assert.equal(verdict.promote, false);
    assert.match(verdict.reason, /accuracy_combined 0\.8000 vs 0\.8400/);
  });
  it('keeps production when a guard metric is worse', () =>
    assert.equal(decide(scores('m-new', 0.9, 0.84, 0.4), scores('m-old', 0.84, 0.84, 0.6), 0.005, 'm-old').promote, false));
  it('keeps production when its picture search is better, and compares it only when both models read pictures', () => {
    const pictures = (model: string, precision: number): Scores => ({
      ...scores(model, 0.9, 0.84, 0.6),
      imageSearch: { queries: 100, precisionAt10: precision },
    });
    const verdict = decide(pictures('m-new', 0.7), pictures('m-old', 0.8), 0.005, 'm-old');
    assert.equal(verdict.promote, false);
    assert.match(verdict.reason, /image_search_precision_at_10 0\.7000 vs 0\.8000/);
    assert.equal(decide(pictures('m-new', 0.7), scores('m-old', 0.84, 0.84, 0.6), 0.005, 'm-old').promote, true);
  });
  it('does not promote the model already in production', () =>
    assert.equal(decide(scores('m-old', 0.9, 0.9, 0.9), scores('m-old', 0.9, 0.9, 0.9), 0.005, 'm-old').promote, false));
  it('does not promote the model already in production when evaluate did not score it twice', () => {
    // evaluate skips scoring production when it is the candidate: the gate gets no production scores.
    const verdict = decide(scores('m-old', 0.9, 0.9, 0.9), null, 0.005, 'm-old');
    assert.equal(verdict.promote, false);
    assert.match(verdict.reason, /already in production/);
  });
});

const mode = (r1: number, r10: number, ndcg: number): ModeScores => ({
  knownItem: { queries: 100, recallAt1: r1, recallAt10: r10, mrr: (r1 + r10) / 2 },
  short: { queries: 300, ndcgAt10: ndcg, precisionAt10: ndcg / 2 },
});

function searchScores(model: string, hybrid: ModeScores): Scores {
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
  const production = searchScores('m-old', mode(0.95, 0.99, 0.7));

  it('carries the hybrid figures as metrics', () => {
    const metrics = headline(production);
    assert.equal(metrics['search_hybrid_known_recall_at_1'], 0.95);
    assert.equal(metrics['search_hybrid_known_recall_at_10'], 0.99);
    assert.equal(metrics['search_hybrid_short_ndcg_at_10'], 0.7);
    assert.equal(metrics['search_hybrid_short_precision_at_10'], 0.35);
  });

  it('keeps production when the new model searches worse, on any of the three guards', () => {
    for (const worse of [mode(0.9, 0.99, 0.7), mode(0.95, 0.95, 0.7), mode(0.95, 0.99, 0.6)]) {
      const verdict = decide(searchScores('m-new', worse), production, 0.005, 'm-old');
      assert.equal(verdict.promote, false);
      assert.match(verdict.reason, /search_hybrid_/);
    }
  });

  it('promotes a model that searches as well, within the tolerance', () => {
    assert.equal(decide(searchScores('m-new', mode(0.948, 0.99, 0.701)), production, 0.005, 'm-old').promote, true);
  });

  it('shows BM25F, dense and hybrid side by side in the report', () => {
    const table = searchTable([searchScores('m-new', mode(0.97, 1, 0.8)), production]);
    assert.equal((table.match(/<tr>/g) ?? []).length, 1 + 2 * 3);
    assert.match(table, /BM25F alone/);
    assert.match(table, /dense alone/);
    assert.match(table, /<b>hybrid<\/b><\/td><td style="text-align:right">0\.970/);
  });
});
