/**
 * The epoch history of a training run: what each epoch measured (losses, validation accuracy per
 * modality, known-item recall, speed), written to the model's `curves.json`, carried in each
 * checkpoint so a resumed run keeps its past epochs, and drawn as `curves.html` (two charts).
 */
import { chartSvg, htmlReport } from '../core/platform/index.js';

export interface Accuracy {
  text: number | null;
  image: number | null;
  combined: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss: number;
  valAccuracy: Accuracy;
  samplesPerSecond: number;
  seconds: number;
  /**
   * Known-item retrieval within the validation split (query: a listing's title; candidates: the
   * split's listings, full text): recall@1 and @10. Absent without listing views.
   */
  valKnownItem?: KnownItem;
}

export interface KnownItem {
  at1: number;
  at10: number;
}

export async function curvesHtml(version: string, history: readonly EpochRecord[], bestEpoch: number): Promise<string> {
  const losses = history.flatMap((h) => [
    { epoch: h.epoch, split: 'train', loss: h.trainLoss },
    { epoch: h.epoch, split: 'validation', loss: h.valLoss },
  ]);
  const accuracy = history.flatMap((h) =>
    (['text', 'image', 'combined'] as const).flatMap((modality) =>
      h.valAccuracy[modality] === null ? [] : [{ epoch: h.epoch, modality, accuracy: h.valAccuracy[modality] }],
    ),
  );
  const knownItem = history.flatMap((h) =>
    h.valKnownItem
      ? [
          { epoch: h.epoch, at: 'recall@1', recall: h.valKnownItem.at1 },
          { epoch: h.epoch, at: 'recall@10', recall: h.valKnownItem.at10 },
        ]
      : [],
  );
  const line = (values: object[], y: string, color: string) =>
    chartSvg({
      width: 520,
      height: 240,
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: y, type: 'quantitative', scale: { zero: false } },
        color: { field: color, type: 'nominal' },
      },
    });
  return htmlReport({
    title: `Training curves: ${version}`,
    facts: [
      ['epochs run', history.length],
      ['best epoch (restored)', bestEpoch],
      ['samples/s (mean)', Math.round(history.reduce((s, h) => s + h.samplesPerSecond, 0) / Math.max(1, history.length))],
    ],
    figures: [
      {
        title: 'Loss',
        note: 'Training loss includes dropout; validation loss does not. Early stopping watches the validation loss.',
        body: await line(losses, 'loss', 'split'),
      },
      {
        title: 'Validation accuracy',
        note: 'Root-category accuracy per modality on the validation split.',
        body: await line(accuracy, 'accuracy', 'modality'),
      },
      ...(knownItem.length > 0
        ? [
            {
              title: 'Validation known-item retrieval',
              note: "A listing's title (as a search query) against every validation listing: the share found first and in the top 10.",
              body: await line(knownItem, 'recall', 'at'),
            },
          ]
        : []),
    ],
    footer: 'Written by the train component.',
  });
}
