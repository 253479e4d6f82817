/**
 * The pipeline DSL: typed container components, a pipeline function that wires them, and a compiler
 * to Kubeflow Pipelines v2 IR YAML. Shaped after the KFP SDK's `@dsl.component` / `@dsl.pipeline`.
 */
export { artifact, param, PIPELINE_JOB_ID } from './types.js';
export type { ArtifactRef, IOSpecs, ParameterRef, ParameterType, SchemaTitle } from './types.js';
export { component, type ComponentDefinition, type ComponentFunction, type Platform, type Resources, type Task, type Toleration } from './component.js';
export { eq, exitHandler, ne, parallelFor, pipeline, when, type Conditional, type PipelineDefinition } from './builder.js';
export { compilePipeline, PipelineCompileError, type CompileOptions, type CompiledPipeline } from './compile.js';
export { toYaml } from './yaml.js';
