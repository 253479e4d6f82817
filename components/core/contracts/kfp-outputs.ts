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

/**
 * Where KFP's launcher reads the executor output after the command exits (2.17:
 * backend/src/v2/component/launcher_v2.go `OutputMetadataFilepath`; the driver sets
 * `executorInput.outputs.outputFile` to it). No placeholder names it: a component writes it here.
 */
export const KFP_EXECUTOR_OUTPUT = '/tmp/kfp_outputs/output_metadata.json';

/**
 * An ExecutorOutput (pipeline_spec.proto) in protojson: each output artifact's metadata. The launcher
 * merges it into the artifact it records in ML Metadata, which is what the UI's Metrics and
 * confusion-matrix views read (not the artifact file). Metrics metadata is `{name: value}`, as the
 * SDK's `Metrics.log_metric` writes it; ClassificationMetrics metadata is `{confusionMatrix: …}`.
 */
export function executorOutput(artifacts: Readonly<Record<string, Record<string, unknown>>>) {
  return { artifacts: Object.fromEntries(Object.entries(artifacts).map(([name, metadata]) => [name, { artifacts: [{ metadata }] }])) };
}

/** The numeric entries of an artifact's metadata (what the UI's metrics view lists), rounded to 4 places for display. */
export function metadataScalars(metadata: Readonly<Record<string, unknown>>): [string, number][] {
  return Object.entries(metadata)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, value]) => [name, Number(value.toFixed(4))]);
}

/** Metrics scalars as artifact metadata (the form the launcher records and the UI shows). */
export function metricsMetadata(metrics: ReturnType<typeof kfpMetrics>): Record<string, number> {
  return Object.fromEntries(metrics.metrics.map((m) => [m.name, m.numberValue]));
}
