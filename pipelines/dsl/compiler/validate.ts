/** Before anything is written: every input known, present when required, of its declared type, and readable where it is read. */
import type { ArtifactRef, Graph, GroupNode, ParameterRef, Source, TaskNode } from '../graph.js';
import { isRef } from '../graph.js';
import type { IOSpec, ParameterType } from '../io.js';
import type { PipelineDefinition } from '../pipeline.js';
import { PipelineCompileError } from './errors.js';
import { ancestors, exitHandlerOf } from './groups.js';

/** Inputs: known names, required ones present, values of the declared type. */
export function validate(definition: PipelineDefinition, graph: Graph): void {
  const known = new Set(graph.tasks);
  for (const task of graph.tasks) {
    const declared = task.component.inputs;
    const where = `pipeline ${definition.name}, task '${task.name}'`;
    for (const key of Object.keys(task.inputs)) {
      if (!(key in declared)) {
        throw new PipelineCompileError(
          `${where}: unknown input '${key}' (component ${task.component.name} takes: ${Object.keys(declared).join(', ') || 'none'})`,
        );
      }
    }
    for (const [key, io] of Object.entries(declared)) {
      const value = task.inputs[key];
      if (value === undefined) {
        if (io.kind === 'parameter' && io.type === 'TASK_FINAL_STATUS') {
          if (!exitHandlerOf(graph, task))
            throw new PipelineCompileError(`${where}: input '${key}' takes a final status, so the task must be an exitHandler's exit task`);
          continue;
        }
        if (io.kind === 'artifact' || io.default === undefined) throw new PipelineCompileError(`${where}: missing required input '${key}'`);
        continue;
      }
      checkValue(`${where}, input '${key}'`, io, value);
      if (isRef(value)) checkReachable(`${where}, input '${key}'`, task.name, task.group, value.source, known);
    }
  }
  for (const group of graph.groups) {
    const where = `pipeline ${definition.name}, ${group.name}`;
    if (group.kind === 'condition') {
      const ref = group.condition.kind === 'comparison' ? group.condition.ref : group.condition;
      checkReachable(`${where} condition`, group.name, group, ref.source, known);
    }
    if (group.kind === 'loop' && !Array.isArray(group.items)) {
      checkReachable(`${where} items`, group.name, group, (group.items as ParameterRef).source, known);
    }
  }
}

/** A reference can be read where its producer's group encloses the reader. */
function checkReachable(where: string, reader: string, group: GroupNode, source: Source, known: Set<TaskNode>): void {
  if (source.from === 'task-output') {
    const producer = source.task;
    if (!known.has(producer)) throw new PipelineCompileError(`${where}: task '${producer.name}' is not part of this pipeline`);
    if (!ancestors(group).includes(producer.group)) {
      throw new PipelineCompileError(
        `${where}: '${producer.name}' runs inside ${producer.group.name}, which '${reader}' is not part of; move the reader into that group`,
      );
    }
  }
  if (source.from === 'loop-item' && !ancestors(group).includes(source.loop)) {
    throw new PipelineCompileError(`${where}: the item of ${source.loop.name} is only available inside that loop`);
  }
}

function checkValue(where: string, io: IOSpec, value: unknown): void {
  if (io.kind === 'artifact') {
    if (!isRef(value) || value.kind !== 'artifact-ref')
      throw new PipelineCompileError(`${where}: expects an artifact (${io.schema}), got ${describe(value)}`);
    if (value.schema !== io.schema) throw new PipelineCompileError(`${where}: expects ${io.schema}, got ${value.schema}`);
    return;
  }
  if (isRef(value)) {
    if (value.kind !== 'parameter-ref')
      throw new PipelineCompileError(`${where}: expects a ${io.type} parameter, got an artifact (${(value as ArtifactRef).schema})`);
    // A loop item's type is what the list holds, known only at run time.
    if (value.source.from !== 'loop-item' && value.type !== io.type) {
      throw new PipelineCompileError(`${where}: expects ${io.type}, got a ${value.type} reference`);
    }
    return;
  }
  const ok: Record<ParameterType, (v: unknown) => boolean> = {
    STRING: (v) => typeof v === 'string',
    NUMBER_INTEGER: (v) => Number.isInteger(v),
    NUMBER_DOUBLE: (v) => typeof v === 'number' && Number.isFinite(v),
    BOOLEAN: (v) => typeof v === 'boolean',
    STRUCT: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    LIST: (v) => Array.isArray(v),
    TASK_FINAL_STATUS: () => false,
  };
  if (!ok[io.type](value)) throw new PipelineCompileError(`${where}: expects ${io.type}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (isRef(value)) return value.kind === 'artifact-ref' ? `an artifact (${value.schema})` : `a ${value.type} reference`;
  return `${typeof value} ${JSON.stringify(value)}`;
}
