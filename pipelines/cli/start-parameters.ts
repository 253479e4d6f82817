/**
 * What `npm start`'s options set of the pipeline's inputs (pipelines/marketplace/pipeline.ts); the rest
 * keep the pipeline's defaults. Apart from start.ts, whose module runs the command, so tests can import it.
 */
import { QUICK } from '../../components/train/hyperparameters.js';

export interface StartOptions {
  data?: string;
  demo?: boolean;
  fashionMnist?: string | true;
  fashionLimit?: number;
  imagesZip?: string;
  batchSize: number;
  epochs?: number;
  quick?: boolean;
  cache: boolean;
  full?: boolean;
  containers?: boolean;
  imageTag?: string;
  partitions?: number;
  trainSample?: number;
  embedShards?: number;
  indexMemoryBudgetMib?: number;
}

/** The pipeline's k/N list for N slices: ['0/N', …, 'N-1/N']. */
export function slices(count: number): string[] {
  return Array.from({ length: count }, (_, k) => `${k}/${count}`);
}

/** The pipeline inputs that the options set; the rest keep the pipeline's defaults. */
export function pipelineParameters(options: StartOptions): Record<string, unknown> {
  return {
    deployTarget: 'local',
    cleanBatchSize: options.batchSize,
    epochs: options.epochs ?? (options.quick ? QUICK.epochs : 30),
    trainQuick: options.quick ?? false,
    ...(options.partitions !== undefined ? { partitions: slices(options.partitions) } : {}),
    ...(options.trainSample !== undefined ? { trainSample: options.trainSample } : {}),
    ...(options.embedShards !== undefined ? { embedShards: slices(options.embedShards) } : {}),
    ...(options.indexMemoryBudgetMib !== undefined ? { indexMemoryBudgetMib: options.indexMemoryBudgetMib } : {}),
  };
}
