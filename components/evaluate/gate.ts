/**
 * The promote gate: the new model goes on only when it is not worse than production on the primary
 * metric (combined accuracy) by more than the tolerance, and not worse by more than the tolerance on
 * any guard metric (text accuracy, retrieval recall@10, nDCG@10, image accuracy and picture-to-listing
 * precision@10 when both models read pictures, and the hybrid search's known-item recall@1 and @10 and short-query nDCG@10: a model
 * whose search is worse than production's does not ship). Both models are scored on the same test
 * products in the same run.
 */
import type { ModeScores } from '../core/ml/index.js';
import type { Scores } from './score.js';

export interface Verdict {
  promote: boolean;
  reason: string;
  comparisons: { metric: string; candidate: number; production: number | null; ok: boolean }[];
}

export function headline(scores: Scores): Record<string, number> {
  return {
    accuracy_combined: scores.classification.combined.accuracy,
    accuracy_text: scores.classification.text.accuracy,
    ...(scores.classification.image ? { accuracy_image: scores.classification.image.accuracy } : {}),
    macro_f1_combined: scores.classification.combined.macroF1,
    macro_f1_text: scores.classification.text.macroF1,
    ...(scores.classification.image ? { macro_f1_image: scores.classification.image.macroF1 } : {}),
    recall_at_1: scores.retrieval.recall['at1'] ?? 0,
    recall_at_10: scores.retrieval.recall['at10'] ?? 0,
    recall_at_100: scores.retrieval.recall['at100'] ?? 0,
    ndcg_at_10: scores.retrieval.ndcgAt10,
    ...(scores.imageSearch ? { image_search_precision_at_10: scores.imageSearch.precisionAt10 } : {}),
    ...(scores.search ? searchHeadline(scores.search.modes.hybrid, 'search_hybrid') : {}),
  };
}

/** One search mode's figures under a prefix (the hybrid's are the KFP metrics and the guards). */
export function searchHeadline(mode: ModeScores, prefix: string): Record<string, number> {
  return {
    [`${prefix}_known_recall_at_1`]: mode.knownItem.recallAt1,
    [`${prefix}_known_recall_at_10`]: mode.knownItem.recallAt10,
    [`${prefix}_known_mrr`]: mode.knownItem.mrr,
    [`${prefix}_short_ndcg_at_10`]: mode.short.ndcgAt10,
    [`${prefix}_short_precision_at_10`]: mode.short.precisionAt10,
  };
}

export const PRIMARY = 'accuracy_combined';
export const GUARDS = [
  'accuracy_text',
  'accuracy_image',
  'recall_at_10',
  'ndcg_at_10',
  'image_search_precision_at_10',
  'search_hybrid_known_recall_at_1',
  'search_hybrid_known_recall_at_10',
  'search_hybrid_short_ndcg_at_10',
] as const;

export function decide(candidate: Scores, production: Scores | null, tolerance: number, productionVersion: string | null): Verdict {
  const mine = headline(candidate);
  // First: evaluate does not score the serving model against itself, so production is null here too.
  if (productionVersion === candidate.model)
    return { promote: false, reason: `model ${candidate.model} is already in production`, comparisons: [] };
  if (!production) {
    return {
      promote: true,
      reason: 'nothing is in production yet',
      comparisons: Object.entries(mine).map(([metric, value]) => ({ metric, candidate: value, production: null, ok: true })),
    };
  }
  const theirs = headline(production);
  const comparisons = [PRIMARY, ...GUARDS]
    .filter((metric) => mine[metric] !== undefined && theirs[metric] !== undefined)
    .map((metric) => ({ metric, candidate: mine[metric]!, production: theirs[metric]!, ok: mine[metric]! >= theirs[metric]! - tolerance }));
  const failed = comparisons.filter((c) => !c.ok);
  const fmt = (c: (typeof comparisons)[number]) => `${c.metric} ${c.candidate.toFixed(4)} vs ${c.production.toFixed(4)}`;
  if (failed.length > 0)
    return {
      promote: false,
      reason: `worse than production ${productionVersion} beyond the tolerance ${tolerance}: ${failed.map(fmt).join('; ')}`,
      comparisons,
    };
  const primary = comparisons[0]!;
  return {
    promote: true,
    reason: `not worse than production ${productionVersion} (${fmt(primary)}, tolerance ${tolerance}) on any guard`,
    comparisons,
  };
}
