/** The evaluation report: one standalone HTML page (charts rendered to SVG on the server). */
import { chartSvg, escapeHtml, htmlReport } from '../core/platform/index.js';
import { SEARCH_MODES, type Classification } from '../core/ml/index.js';
import { headline, type Verdict } from './gate.js';
import { RECALL_KS, type Scores } from './score.js';

function confusionChart(result: Classification) {
  const values = result.confusion.flatMap((cells, i) =>
    cells.map((count, j) => ({ truth: result.labels[i], predicted: result.labels[j], count })),
  );
  return chartSvg({
    width: 420,
    height: 420,
    data: { values },
    mark: 'rect',
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: result.labels },
      y: { field: 'truth', type: 'nominal', sort: result.labels },
      color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' } },
      tooltip: [{ field: 'count' }],
    },
  });
}

const MODE_NAMES = { bm25: 'BM25F alone', dense: 'dense alone', hybrid: 'hybrid' } as const;

/** BM25F, dense and hybrid side by side on the same test queries, for each scored model. */
export function searchTable(models: readonly Scores[]): string {
  const rows = models.flatMap((scores) =>
    scores.search
      ? SEARCH_MODES.map((mode) => {
          const m = scores.search!.modes[mode];
          const cells = [m.knownItem.recallAt1, m.knownItem.recallAt10, m.knownItem.mrr, m.short.ndcgAt10, m.short.precisionAt10].map(
            (x) => `<td style="text-align:right">${x.toFixed(3)}</td>`,
          );
          const name = mode === 'hybrid' ? `<b>${MODE_NAMES[mode]}</b>` : MODE_NAMES[mode];
          return `<tr><td>${escapeHtml(scores.model)}</td><td>${name}</td>${cells.join('')}</tr>`;
        })
      : [],
  );
  if (rows.length === 0) return '<p>Not measured.</p>';
  const first = models.find((m) => m.search)!.search!;
  const head =
    '<tr><th>model</th><th>mode</th><th>known item recall@1</th><th>recall@10</th><th>MRR</th><th>short queries nDCG@10</th><th>precision@10</th></tr>';
  const counts = `<p>${first.modes.hybrid.knownItem.queries} known-item queries (a test listing’s title), ${first.modes.hybrid.short.queries} short queries (first two or three words of a test title, its last two content words); hybrid weights ${escapeHtml(JSON.stringify(first.fusion.weights))}${first.fit ? `, fitted on ${first.fit.queries} validation queries (objective ${first.fit.objective.toFixed(3)}, defaults ${first.fit.defaultObjective.toFixed(3)})` : ', the defaults (too few validation products to fit)'}.</p>`;
  return `<table style="border-collapse:collapse" cellpadding="4">${head}${rows.join('')}</table>${counts}`;
}

export async function evaluationReport(candidate: Scores, production: Scores | null, verdict: Verdict): Promise<string> {
  const combined = candidate.classification.combined;
  const perCategory = Object.entries(combined.perClass)
    .filter(([, c]) => c.support > 0)
    .map(([category, c]) => ({ category, accuracy: c.recall, support: c.support }));
  const recallCurve = [candidate, ...(production ? [production] : [])].flatMap((scores) =>
    RECALL_KS.map((k) => ({ model: scores.model, k, recall: scores.retrieval.recall[`at${k}`] ?? 0 })),
  );
  const mine = headline(candidate);
  const theirs = production ? headline(production) : {};
  const versus = Object.entries(mine).flatMap(([metric, value]) => [
    { metric, model: `new ${candidate.model}`, value },
    ...(theirs[metric] !== undefined ? [{ metric, model: `production ${production!.model}`, value: theirs[metric]! }] : []),
  ]);
  return htmlReport({
    title: `Evaluation of ${candidate.model}`,
    facts: [
      ['verdict', verdict.promote ? 'promote' : 'keep production'],
      ['reason', verdict.reason],
      ['test products', candidate.testProducts],
      ...(candidate.catalogue
        ? [
            [
              'listings searched',
              candidate.catalogue.listings < candidate.catalogue.snapshotListings
                ? `${candidate.catalogue.listings} of the snapshot's ${candidate.catalogue.snapshotListings} (an even sample, the same for both models)`
                : `all ${candidate.catalogue.listings} of the snapshot`,
            ] as [string, string],
          ]
        : []),
      ...Object.entries(mine).map(([metric, value]) => [metric, value.toFixed(4)] as [string, string]),
    ],
    figures: [
      {
        title: 'New model against production',
        note: 'Same test products, same run.',
        body: await chartSvg({
          width: 520,
          height: 260,
          data: { values: versus },
          mark: 'bar',
          encoding: {
            y: { field: 'metric', type: 'nominal' },
            x: { field: 'value', type: 'quantitative' },
            yOffset: { field: 'model' },
            color: { field: 'model', type: 'nominal' },
          },
        }),
      },
      { title: 'Confusion matrix (combined)', note: 'Rows: true root category; columns: predicted.', body: await confusionChart(combined) },
      {
        title: 'Accuracy per root category (combined)',
        note: 'Share of each category’s test products classified correctly.',
        body: await chartSvg({
          width: 480,
          height: 320,
          data: { values: perCategory },
          mark: 'bar',
          encoding: {
            y: { field: 'category', type: 'nominal', sort: '-x' },
            x: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] } },
            tooltip: [{ field: 'support' }],
          },
        }),
      },
      {
        title: 'Search quality: BM25F, dense and hybrid side by side',
        note: 'Queries made only from the held-out test products, scored the way the service ranks. Known item: the listing must come back (recall, MRR over the first 100). Short queries: graded relevance, same leaf category 2, same root 1.',
        body: searchTable([candidate, ...(production ? [production] : [])]),
      },
      {
        title: 'Retrieval recall@k',
        note: 'Query: a test product’s title; relevant: that product; exact search over the snapshot.',
        body: await chartSvg({
          width: 480,
          height: 240,
          data: { values: recallCurve },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'k', type: 'quantitative', scale: { type: 'log' } },
            y: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
            color: { field: 'model', type: 'nominal' },
          },
        }),
      },
    ],
    footer: 'Written by the evaluate component.',
  });
}
