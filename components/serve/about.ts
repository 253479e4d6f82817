/**
 * What the search page's header says about the version being served: the model and index versions,
 * the snapshots behind them, the evaluation's headline figures for that model (from
 * `evaluations/<model>/metrics.json`, written by evaluate) and which of its reports exist: the EDA
 * of the index's snapshot (clean), the model's training curves (train) and its evaluation (evaluate).
 * Read from the artifact store once per version (the files of a published version never change).
 */
import { z } from 'zod';
import { errorMessage, NotFoundError, type ArtifactStore } from '../core/platform/index.js';
import type { LoadedVersion } from './loaded.js';

export const REPORT_KINDS = ['eda', 'training', 'evaluation'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

/** Model versions, index versions and snapshot ids as they appear in report URLs. */
export const ArtifactId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._=+@,-]{0,199}$/, 'an artifact id: letters, digits and ._=+@,- (at most 200)');

/** Where each report lives in the artifact store, by the id it belongs to. */
export const REPORT_KEYS: Record<ReportKind, (id: string) => string> = {
  eda: (snapshotId) => `reports/${snapshotId}/eda.html`,
  training: (modelVersion) => `models/${modelVersion}/curves.html`,
  evaluation: (modelVersion) => `evaluations/${modelVersion}/report.html`,
};

export const reportPath = (kind: ReportKind, id: string): string => `/reports/${kind}/${encodeURIComponent(id)}`;

/** The part of evaluate's metrics.json the header shows (the file holds much more: it is not checked here). */
const ModeScores = z.object({
  knownItem: z.object({ recallAt1: z.number(), recallAt10: z.number() }),
  short: z.object({ ndcgAt10: z.number() }),
});
const EvaluationDocument = z.object({
  model: z.string(),
  snapshot: z.string(),
  verdict: z.object({ promote: z.boolean(), reason: z.string() }),
  candidate: z.object({
    testProducts: z.number(),
    classification: z.object({ combined: z.object({ accuracy: z.number() }) }),
    retrieval: z.object({ recall: z.record(z.string(), z.number()), ndcgAt10: z.number() }),
    // evaluate names the lexical mode bm25.
    search: z.object({ modes: z.object({ hybrid: ModeScores, bm25: ModeScores, dense: ModeScores }) }).optional(),
  }),
});

/** Where a warning goes (the app's logger). */
export interface WarnLog {
  warn(details: object, message: string): void;
}

export interface Figure {
  /** Stable key (the evaluate metric's name). */
  metric: string;
  label: string;
  value: number;
}

export interface About {
  model: string;
  index: string;
  loadedAt: string;
  products: number;
  buyers: number;
  snapshots: { model: string; index: string };
  evaluation: { snapshot: string; testProducts: number; promoted: boolean; reason: string; figures: Figure[] } | null;
  reports: Record<ReportKind, string | null>;
  /** Every category of the index as written (roots and paths), for the category filter's suggestions. */
  categories: string[];
}

function figures(document: z.infer<typeof EvaluationDocument>): Figure[] {
  const { candidate } = document;
  const out: Figure[] = [{ metric: 'accuracy_combined', label: 'category accuracy', value: candidate.classification.combined.accuracy }];
  const recall10 = candidate.retrieval.recall['at10'];
  if (recall10 !== undefined) out.push({ metric: 'recall_at_10', label: 'retrieval recall@10', value: recall10 });
  out.push({ metric: 'ndcg_at_10', label: 'retrieval nDCG@10', value: candidate.retrieval.ndcgAt10 });
  const modes = candidate.search?.modes;
  if (modes) {
    for (const [mode, label] of [
      ['hybrid', 'hybrid'],
      ['bm25', 'lexical'],
      ['dense', 'dense'],
    ] as const) {
      out.push({
        metric: `search_${mode}_known_recall_at_10`,
        label: `${label} known-item recall@10`,
        value: modes[mode].knownItem.recallAt10,
      });
    }
    out.push({ metric: 'search_hybrid_short_ndcg_at_10', label: 'hybrid short-query nDCG@10', value: modes.hybrid.short.ndcgAt10 });
  }
  return out;
}

async function readEvaluation(store: ArtifactStore, modelVersion: string, log: WarnLog): Promise<About['evaluation']> {
  let text: string;
  try {
    text = (await store.get(`evaluations/${modelVersion}/metrics.json`)).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
  try {
    const document = EvaluationDocument.parse(JSON.parse(text));
    return {
      snapshot: document.snapshot,
      testProducts: document.candidate.testProducts,
      promoted: document.verdict.promote,
      reason: document.verdict.reason,
      figures: figures(document),
    };
  } catch (error) {
    // A metrics file of another shape must not take the page down: the header says there is none.
    log.warn({ model: modelVersion, err: errorMessage(error) }, 'evaluation metrics unreadable; the page shows none');
    return null;
  }
}

/** Reads a version's facts, cached per version (a handful are kept: swaps are rare). */
export class AboutCache {
  private readonly cache = new Map<string, Promise<About>>();

  constructor(
    private readonly store: ArtifactStore,
    private readonly log: WarnLog,
  ) {}

  get(version: LoadedVersion): Promise<About> {
    const key = `${version.modelVersion}\n${version.indexVersion}\n${version.loadedAt.toISOString()}`;
    let found = this.cache.get(key);
    if (!found) {
      found = this.read(version);
      // A failed read (the store down) is not remembered.
      found.catch(() => this.cache.delete(key));
      this.cache.set(key, found);
      while (this.cache.size > 4) this.cache.delete(this.cache.keys().next().value!);
    }
    return found;
  }

  private async read(version: LoadedVersion): Promise<About> {
    const modelSnapshot = version.embedder.metadata.snapshotId;
    const indexSnapshot = version.index.metadata.snapshotId;
    const ids: Record<ReportKind, string> = { eda: indexSnapshot, training: version.modelVersion, evaluation: version.modelVersion };
    const [evaluation, ...present] = await Promise.all([
      readEvaluation(this.store, version.modelVersion, this.log),
      ...REPORT_KINDS.map((kind) => this.store.exists(REPORT_KEYS[kind](ids[kind]))),
    ]);
    const reports = Object.fromEntries(REPORT_KINDS.map((kind, i) => [kind, present[i] ? reportPath(kind, ids[kind]) : null])) as Record<
      ReportKind,
      string | null
    >;
    return {
      model: version.modelVersion,
      index: version.indexVersion,
      loadedAt: version.loadedAt.toISOString(),
      products: version.index.productRows.length,
      buyers: version.index.buyerRows.length,
      snapshots: { model: modelSnapshot, index: indexSnapshot },
      evaluation,
      reports,
      categories: [...version.search.categories.values()].sort((a, b) => a.localeCompare(b)),
    };
  }
}
