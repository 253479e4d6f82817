/**
 * The evaluation metrics, as plain functions over labels and rankings: accuracy, macro-F1 and the
 * confusion matrix for classification; recall@k and nDCG@k (graded relevance) for retrieval.
 */

export interface Classification {
  labels: string[];
  accuracy: number;
  macroF1: number;
  /** rows: true label, columns: predicted label, in `labels` order. */
  confusion: number[][];
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

export function classification(truth: readonly string[], predicted: readonly string[], labels?: readonly string[]): Classification {
  if (truth.length !== predicted.length) throw new Error(`${truth.length} true labels but ${predicted.length} predictions`);
  const names = [...(labels ?? [...new Set([...truth, ...predicted])].sort())];
  const at = new Map(names.map((name, i) => [name, i]));
  const confusion = names.map(() => names.map(() => 0));
  let correct = 0;
  truth.forEach((label, i) => {
    const row = at.get(label);
    const column = at.get(predicted[i] ?? '');
    if (row === undefined || column === undefined)
      throw new Error(`label '${row === undefined ? label : predicted[i]}' is not among the labels`);
    confusion[row]![column]! += 1;
    if (row === column) correct += 1;
  });
  const perClass: Classification['perClass'] = {};
  const f1s: number[] = [];
  names.forEach((name, i) => {
    const tp = confusion[i]![i]!;
    const support = confusion[i]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((sum, row) => sum + row[i]!, 0);
    const precision = predictedCount === 0 ? 0 : tp / predictedCount;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[name] = { precision, recall, f1, support };
    // Macro-F1 over classes that occur in the truth: a class never seen cannot be judged.
    if (support > 0) f1s.push(f1);
  });
  return {
    labels: names,
    accuracy: truth.length === 0 ? 0 : correct / truth.length,
    macroF1: f1s.length === 0 ? 0 : f1s.reduce((a, b) => a + b, 0) / f1s.length,
    confusion,
    perClass,
  };
}

/** Share of the relevant items found in the top k of a ranking (1 when nothing is relevant is not defined: 0). */
export function recallAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  if (relevant.size === 0) return 0;
  return ranked.slice(0, k).filter((id) => relevant.has(id)).length / relevant.size;
}

/** Normalised discounted cumulative gain of the top k, with graded relevance (id -> gain). */
export function ndcgAtK(ranked: readonly string[], gains: ReadonlyMap<string, number>, k: number): number {
  const dcg = (list: readonly number[]) => list.slice(0, k).reduce((sum, gain, i) => sum + (2 ** gain - 1) / Math.log2(i + 2), 0);
  const ideal = dcg([...gains.values()].sort((a, b) => b - a));
  return ideal === 0 ? 0 : dcg(ranked.map((id) => gains.get(id) ?? 0)) / ideal;
}
