/** The evaluation report: one standalone HTML page (charts rendered to SVG on the server). */
import { chartSvg, htmlReport, type Classification } from '../core/index.js';
import { headline, type Verdict } from './gate.js';
import { RECALL_KS, type Scores } from './score.js';

function confusionChart(result: Classification) {
  const values = result.confusion.flatMap((cells, i) => cells.map((count, j) => ({ truth: result.labels[i], predicted: result.labels[j], count })));
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

export async function evaluationReport(candidate: Scores, production: Scores | null, verdict: Verdict): Promise<string> {
  const combined = candidate.classification.combined;
  const perCategory = Object.entries(combined.perClass)
    .filter(([, c]) => c.support > 0)
    .map(([category, c]) => ({ category, accuracy: c.recall, support: c.support }));
  const recallCurve = [candidate, ...(production ? [production] : [])].flatMap((scores) => RECALL_KS.map((k) => ({ model: scores.model, k, recall: scores.retrieval.recall[`at${k}`] ?? 0 })));
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
      ...Object.entries(mine).map(([metric, value]) => [metric, value.toFixed(4)] as [string, string]),
    ],
    figures: [
      { title: 'New model against production', note: 'Same test products, same run.', body: await chartSvg({ width: 520, height: 260, data: { values: versus }, mark: 'bar', encoding: { y: { field: 'metric', type: 'nominal' }, x: { field: 'value', type: 'quantitative' }, yOffset: { field: 'model' }, color: { field: 'model', type: 'nominal' } } }) },
      { title: 'Confusion matrix (combined)', note: 'Rows: true root category; columns: predicted.', body: await confusionChart(combined) },
      { title: 'Accuracy per root category (combined)', note: 'Share of each category’s test products classified correctly.', body: await chartSvg({ width: 480, height: 320, data: { values: perCategory }, mark: 'bar', encoding: { y: { field: 'category', type: 'nominal', sort: '-x' }, x: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] } }, tooltip: [{ field: 'support' }] } }) },
      { title: 'Retrieval recall@k', note: 'Query: a test product’s title; relevant: that product; exact search over the snapshot.', body: await chartSvg({ width: 480, height: 240, data: { values: recallCurve }, mark: { type: 'line', point: true }, encoding: { x: { field: 'k', type: 'quantitative', scale: { type: 'log' } }, y: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } }, color: { field: 'model', type: 'nominal' } } }) },
    ],
    footer: 'Written by the evaluate component.',
  });
}
