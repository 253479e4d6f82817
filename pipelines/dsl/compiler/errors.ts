/** A pipeline that cannot compile: the message names the pipeline, the task or group, and the input. */
export class PipelineCompileError extends Error {
  override name = 'PipelineCompileError';
}
