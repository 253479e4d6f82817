/**
 * A compiled pipeline as the YAML file the Kubeflow UI uploads: the header comment the KFP SDK
 * writes, the PipelineSpec, and the platform spec as a second document. Keys are sorted and lists
 * are not indented under their key, as in the SDK's output; the same input gives the same bytes.
 */
import { stringify } from 'yaml';
import type { ParameterType } from '../io.js';
import type { PipelineDefinition } from '../pipeline.js';
import type { CompiledPipeline } from './index.js';

const PYTHON_TYPES: Record<ParameterType, string> = {
  STRING: 'str',
  NUMBER_INTEGER: 'int',
  NUMBER_DOUBLE: 'float',
  BOOLEAN: 'bool',
  STRUCT: 'dict',
  LIST: 'list',
  TASK_FINAL_STATUS: 'PipelineTaskFinalStatus',
};

/**
 * A default as the SDK's header shows it: a Python literal of the proto value, where every number is
 * a double (`100.0`, `{'A': 1.0}`).
 */
function pythonLiteral(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? value.toFixed(1) : String(value);
  if (value === null || value === undefined) return 'None';
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pythonLiteral(k)}: ${pythonLiteral(v)}`)
    .join(', ')}}`;
}

export function header(definition: PipelineDefinition): string {
  const lines = ['# PIPELINE DEFINITION', `# Name: ${definition.name}`];
  if (definition.description) {
    const [first, ...rest] = definition.description.split('\n');
    lines.push(`# Description: ${first}`, ...rest.map((line) => `#${' '.repeat(14)}${line}`));
  }
  // Sorted by name, as the SDK lists them.
  const inputs = Object.entries(definition.inputs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (inputs.length > 0) {
    lines.push('# Inputs:');
    for (const [name, spec] of inputs) {
      lines.push(
        `#    ${name}: ${PYTHON_TYPES[spec.type]}${spec.default !== undefined ? ` [Default: ${pythonLiteral(spec.default)}]` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const YAML_OPTIONS = { sortMapEntries: true, indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false } as const;

export function toYaml(definition: PipelineDefinition, compiled: CompiledPipeline): string {
  const documents = [stringify(compiled.spec, YAML_OPTIONS)];
  if (compiled.platform) documents.push(stringify(compiled.platform, YAML_OPTIONS));
  return header(definition) + documents.join('---\n');
}
