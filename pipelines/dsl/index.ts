/**
 * The pipeline DSL: typed container components, a pipeline function that wires them, and a compiler
 * to Kubeflow Pipelines v2 IR YAML. Shaped after the KFP SDK's `dsl/`, one module per concept: io
 * (parameter and artifact specs), component-spec and component, graph (tasks, groups, channels),
 * channels (what inputs accept), placeholders, context (recording), conditions, for-loop,
 * exit-handler, pipeline; compiler/ writes the IR.
 */
export { artifact, param } from './io.js';
export type { IOSpecs, ParameterType, SchemaTitle } from './io.js';
export type { ArtifactRef, ParameterRef } from './graph.js';
export { PIPELINE_JOB_ID } from './placeholders.js';
export type { ComponentDefinition, Platform, Resources, Toleration } from './component-spec.js';
export { component, type ComponentFunction, type Task } from './component.js';
export { eq, ne, when, type Conditional } from './conditions.js';
export { parallelFor } from './for-loop.js';
export { exitHandler } from './exit-handler.js';
export { pipeline, type PipelineDefinition } from './pipeline.js';
export { compilePipeline, PipelineCompileError, type CompileOptions, type CompiledPipeline } from './compiler/index.js';
export { toYaml } from './compiler/yaml.js';
