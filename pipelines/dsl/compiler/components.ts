/** `components`: each task's component spec (input and output definitions, executor label). */
import type { ComponentDefinition } from '../component-spec.js';
import type { IOSpec, ParameterSpec } from '../io.js';
import { omitEmpty, type Json, type JsonObject } from './json.js';

/** The schemaVersion the SDK writes for every artifact type. */
export const ARTIFACT_SCHEMA_VERSION = '0.0.1';

export function parameterDefinition(spec: ParameterSpec): JsonObject {
  // A final status is filled in by the backend, never by the caller: optional, as the SDK marks it.
  const optional = spec.default !== undefined || spec.type === 'TASK_FINAL_STATUS';
  return {
    defaultValue: spec.default as Json | undefined,
    description: spec.description,
    isOptional: optional ? true : undefined,
    parameterType: spec.type,
  };
}

export function componentSpec(component: ComponentDefinition, executorLabel: string): JsonObject {
  const definitions = (specs: Readonly<Record<string, IOSpec>>): JsonObject => {
    const parameters: JsonObject = {};
    const artifacts: JsonObject = {};
    for (const [name, io] of Object.entries(specs)) {
      if (io.kind === 'artifact') {
        artifacts[name] = {
          artifactType: { schemaTitle: io.schema, schemaVersion: ARTIFACT_SCHEMA_VERSION },
          ...omitEmpty({ description: io.description }),
        };
      } else {
        parameters[name] = parameterDefinition(io);
      }
    }
    return omitEmpty({ artifacts, parameters });
  };
  return {
    executorLabel,
    ...omitEmpty({ inputDefinitions: definitions(component.inputs), outputDefinitions: definitions(component.outputs) }),
  };
}
