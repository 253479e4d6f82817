/**
 * Output artifacts in the forms the Kubeflow Pipelines UI reads: system.Metrics scalars and a
 * system.ClassificationMetrics confusion matrix.
 */

export function kfpMetrics(values: Record<string, number>): { metrics: { name: string; numberValue: number }[] } {
  return { metrics: Object.entries(values).map(([name, numberValue]) => ({ name, numberValue })) };
}

export function kfpConfusionMatrix(labels: readonly string[], rows: readonly (readonly number[])[]) {
  return {
    confusionMatrix: {
      annotationSpecs: labels.map((displayName) => ({ displayName })),
      rows: rows.map((row) => ({ row: [...row] })),
    },
  };
}
