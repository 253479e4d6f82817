/**
 * The part of a Kubeflow Pipelines v2 spec (IR YAML) the local runner reads, validated with zod: a
 * spec that does not have the shape it needs fails here, naming the path, before anything runs.
 */
import { z } from 'zod';

const ParameterBinding = z.union([
  z.object({ componentInputParameter: z.string(), parameterExpressionSelector: z.string().optional() }),
  z.object({ taskOutputParameter: z.object({ producerTask: z.string(), outputParameterKey: z.string() }) }),
  z.object({ runtimeValue: z.object({ constant: z.unknown() }) }),
  z.object({ taskFinalStatus: z.object({ producerTask: z.string() }) }),
]);
export type ParameterBinding = z.infer<typeof ParameterBinding>;

const ArtifactBinding = z.union([
  z.object({ componentInputArtifact: z.string() }),
  z.object({ taskOutputArtifact: z.object({ producerTask: z.string(), outputArtifactKey: z.string() }) }),
]);
export type ArtifactBinding = z.infer<typeof ArtifactBinding>;

const TaskSpec = z.object({
  componentRef: z.object({ name: z.string() }),
  dependentTasks: z.array(z.string()).optional(),
  inputs: z
    .object({
      parameters: z.record(z.string(), ParameterBinding).optional(),
      artifacts: z.record(z.string(), ArtifactBinding).optional(),
    })
    .optional(),
  cachingOptions: z.object({ enableCache: z.boolean().optional() }).optional(),
  retryPolicy: z.object({ maxRetryCount: z.number().int().optional() }).optional(),
  triggerPolicy: z.object({ condition: z.string().optional(), strategy: z.string().optional() }).optional(),
  parameterIterator: z
    .object({
      itemInput: z.string(),
      items: z.union([z.object({ raw: z.string() }), z.object({ inputParameter: z.string() })]),
    })
    .optional(),
  iteratorPolicy: z.object({ parallelismLimit: z.number().int().optional() }).optional(),
  taskInfo: z.object({ name: z.string() }),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

const Definitions = z
  .object({
    parameters: z
      .record(z.string(), z.object({ parameterType: z.string(), defaultValue: z.unknown().optional(), isOptional: z.boolean().optional() }))
      .optional(),
    artifacts: z.record(z.string(), z.object({ artifactType: z.object({ schemaTitle: z.string() }) })).optional(),
  })
  .optional();

const Dag = z.object({ tasks: z.record(z.string(), TaskSpec) });

const ComponentSpec = z.object({
  executorLabel: z.string().optional(),
  dag: Dag.optional(),
  inputDefinitions: Definitions,
  outputDefinitions: Definitions,
});
export type ComponentSpec = z.infer<typeof ComponentSpec>;

const Executor = z.object({
  container: z.object({
    image: z.string(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  }),
});
export type Executor = z.infer<typeof Executor>;

export const PipelineSpec = z.object({
  pipelineInfo: z.object({ name: z.string() }),
  schemaVersion: z.string(),
  components: z.record(z.string(), ComponentSpec),
  deploymentSpec: z.object({ executors: z.record(z.string(), Executor) }),
  root: z.object({ dag: Dag, inputDefinitions: Definitions }),
});
export type PipelineSpec = z.infer<typeof PipelineSpec>;
