/** What a local run records in `<run>/run.json`: the run, and each task's status, timings, outputs and log. */

export type TaskStatus = 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'NOT_RUN' | 'CACHED';

export interface TaskRecord {
  path: string;
  status: TaskStatus | 'RUNNING';
  startedAt?: string;
  finishedAt?: string;
  seconds?: number;
  attempts?: number;
  /** The task's process while it runs (recorded so that run.json shows what was running if the runner dies). */
  pid?: number;
  log?: string;
  parameters?: Record<string, unknown>;
  artifacts?: Record<string, string>;
  /** Output artifacts' metadata from the task's executor output (what the Kubeflow UI shows: metrics). */
  metadata?: Record<string, Record<string, unknown>>;
  error?: string;
  /** With `containers`: the local image that ran the task, and its digest. */
  image?: string;
  imageDigest?: string;
}

export interface RunRecord {
  id: string;
  pipeline: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startedAt: string;
  finishedAt?: string;
  parameters: Record<string, unknown>;
  folder: string;
  tasks: Record<string, TaskRecord>;
  error?: string;
}

/** What a finished task hands its dependants. */
export interface Outcome {
  status: TaskStatus;
  parameters: Record<string, unknown>;
  artifacts: Record<string, string>;
  metadata?: Record<string, Record<string, unknown>>;
  error?: string;
}

/** The values a task or DAG reads: parameters by value, artifacts by path. */
export interface Scope {
  parameters: Record<string, unknown>;
  artifacts: Record<string, string>;
}
