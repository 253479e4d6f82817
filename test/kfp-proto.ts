/**
 * A strict check of a compiled pipeline against the KFP release's own protos (vendored in
 * fixtures/kfp-2.17/, from kubeflow/pipelines tag 2.17.0): the JSON is walked as Go's protojson
 * (google.golang.org/protobuf/encoding/protojson, what the 2.17 API server and driver use) would
 * unmarshal it, so a field the release does not know, an enum name it does not have, a value of the
 * wrong JSON type or two members of one oneof fail here rather than on the cluster.
 *
 * Where a KFP message nests a `google.protobuf.Struct` that the backend later reads as a typed
 * message, that Struct is checked as the typed message too:
 *   - PipelineSpec.deploymentSpec          -> ml_pipelines.PipelineDeploymentConfig (executors -> ExecutorSpec)
 *   - PlatformSpec.platforms.kubernetes.deploymentSpec.executors.<label>
 *                                          -> kfp_kubernetes.KubernetesExecutorConfig
 *
 * Rules, as protojson decodes (decode.go in google.golang.org/protobuf):
 *   - a key is a field's JSON name (lowerCamelCase of the proto name, or json_name) or its proto name;
 *     anything else is an unknown field; the same field twice (by either name) is an error;
 *   - `null` leaves a field unset (except google.protobuf.Value, where it is a NullValue);
 *   - a oneof takes at most one member;
 *   - enums: a value name of the enum (protojson also takes a number; we take only the enum's own
 *     numbers, as any other would be an unnamed state to the backend);
 *   - 32-bit integers: a JSON number or a decimal string, integral and in range; 64-bit integers the
 *     same (protojson writes them as strings); float/double: a number, a numeric string, "NaN",
 *     "Infinity", "-Infinity"; bool: true/false only; bytes: base64;
 *   - repeated: an array, each element checked; map: an object whose keys parse as the key type and
 *     whose values are checked (no null elements or values);
 *   - well-known types: Struct (any object), Value (any JSON), ListValue (any array), Duration
 *     ("1.5s"), Timestamp (RFC 3339), wrappers (the wrapped scalar), Any (an "@type" this root knows).
 * Every error names its JSON path (`$.root.dag.tasks["exit-handler-1"].inputs…`).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { parseAllDocuments } from 'yaml';

export const KFP_2_17_PROTOS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kfp-2.17');

/** Loads the vendored protos (proto field names kept as written, so JSON names are derived as protoc does). */
export function loadKfpProtos(dir: string = KFP_2_17_PROTOS): protobuf.Root {
  const root = new protobuf.Root();
  // kubernetes_executor_config.proto imports "pipeline_spec.proto" and pipeline_spec.proto imports
  // "google/rpc/status.proto": both resolve next to the importing file in the vendored layout;
  // google/protobuf/* come bundled with protobufjs.
  root.loadSync([path.join(dir, 'pipeline_spec.proto'), path.join(dir, 'kubernetes_executor_config.proto')], { keepCase: true });
  root.resolveAll();
  return root;
}

/** protoc's ToJsonName: drop each '_' and upper-case the letter after it. */
export function jsonName(protoName: string): string {
  let out = '';
  let upper = false;
  for (const ch of protoName) {
    if (ch === '_') upper = true;
    else {
      out += upper ? ch.toUpperCase() : ch;
      upper = false;
    }
  }
  return out;
}

function pathKey(base: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Struct nested in a message that the backend reads as a typed message: checked as that type too. */
export interface StructOverride {
  /** The JSON path of the Struct, as errors write it (`$.deploymentSpec`). */
  test(jsonPath: string): boolean;
  typeName: string;
}

interface Walk {
  root: protobuf.Root;
  errors: string[];
  overrides: readonly StructOverride[];
}

const INT32 = { min: -(2n ** 31n), max: 2n ** 31n - 1n };
const UINT32 = { min: 0n, max: 2n ** 32n - 1n };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const UINT64 = { min: 0n, max: 2n ** 64n - 1n };
const INTEGER_RANGES: Readonly<Record<string, { min: bigint; max: bigint }>> = {
  int32: INT32,
  sint32: INT32,
  sfixed32: INT32,
  uint32: UINT32,
  fixed32: UINT32,
  int64: INT64,
  sint64: INT64,
  sfixed64: INT64,
  uint64: UINT64,
  fixed64: UINT64,
};
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const FLOAT_MAX = 3.4028234663852886e38;

/** An integral value of a JSON number or decimal string, as protojson accepts it (1, "1", 1e2, "1.0"). */
function integral(value: unknown): bigint | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : undefined;
  if (typeof value !== 'string' || !JSON_NUMBER.test(value)) return undefined;
  if (/^-?\d+$/.test(value)) return BigInt(value);
  const n = Number(value);
  return Number.isInteger(n) ? BigInt(n) : undefined;
}

function checkScalar(type: string, value: unknown, at: string, errors: string[]): void {
  const range = INTEGER_RANGES[type];
  if (range) {
    if (typeof value !== 'number' && typeof value !== 'string')
      return void errors.push(`${at}: expected ${type} (a number or a decimal string), got ${kind(value)}`);
    const n = integral(value);
    if (n === undefined) return void errors.push(`${at}: ${JSON.stringify(value)} is not an integer (${type})`);
    if (n < range.min || n > range.max) errors.push(`${at}: ${JSON.stringify(value)} is out of range for ${type}`);
    return;
  }
  switch (type) {
    case 'double':
    case 'float': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && (value === 'NaN' || value === 'Infinity' || value === '-Infinity')) return;
      else if (typeof value === 'string' && JSON_NUMBER.test(value)) n = Number(value);
      else return void errors.push(`${at}: expected ${type} (a number), got ${kind(value)} ${JSON.stringify(value)}`);
      if (type === 'float' && Number.isFinite(n) && Math.abs(n) > FLOAT_MAX) errors.push(`${at}: ${n} is out of range for float`);
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') errors.push(`${at}: expected bool (true or false), got ${kind(value)} ${JSON.stringify(value)}`);
      return;
    case 'string':
      if (typeof value !== 'string') errors.push(`${at}: expected string, got ${kind(value)} ${JSON.stringify(value)}`);
      return;
    case 'bytes':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(value))
        errors.push(`${at}: expected bytes (base64), got ${kind(value)}`);
      return;
    default:
      errors.push(`${at}: unsupported scalar type ${type}`);
  }
}

function checkEnum(type: protobuf.Enum, value: unknown, at: string, errors: string[]): void {
  if (typeof value === 'string') {
    if (!(value in type.values))
      errors.push(`${at}: '${value}' is not a value of ${type.fullName.slice(1)} (${Object.keys(type.values).join(', ')})`);
    return;
  }
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (!Object.values(type.values).includes(value)) errors.push(`${at}: ${value} is not a number of ${type.fullName.slice(1)}`);
    return;
  }
  errors.push(`${at}: expected a ${type.fullName.slice(1)} name, got ${kind(value)} ${JSON.stringify(value)}`);
}

/** Any JSON value (google.protobuf.Value): only numbers JSON cannot carry are refused. */
function checkAnyJson(value: unknown, at: string, errors: string[]): void {
  if (typeof value === 'number' && !Number.isFinite(value)) errors.push(`${at}: ${value} is not a JSON number`);
  else if (Array.isArray(value)) value.forEach((v, i) => checkAnyJson(v, `${at}[${i}]`, errors));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) checkAnyJson(v, pathKey(at, k), errors);
  else if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) errors.push(`${at}: ${kind(value)} is not JSON`);
}

const WRAPPERS: Readonly<Record<string, string>> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};

/** Well-known types have their own JSON forms; returns false when `type` is an ordinary message. */
function checkWellKnown(walk: Walk, type: protobuf.Type, value: unknown, at: string): boolean {
  const { errors } = walk;
  const wrapped = WRAPPERS[type.fullName];
  if (wrapped) {
    checkScalar(wrapped, value, at, errors);
    return true;
  }
  switch (type.fullName) {
    case '.google.protobuf.Value':
      checkAnyJson(value, at, errors);
      return true;
    case '.google.protobuf.Struct': {
      if (!isObject(value)) {
        errors.push(`${at}: expected an object (google.protobuf.Struct), got ${kind(value)}`);
        return true;
      }
      checkAnyJson(value, at, errors);
      const override = walk.overrides.find((o) => o.test(at));
      if (override) checkMessage(walk, walk.root.lookupType(override.typeName), value, at);
      return true;
    }
    case '.google.protobuf.ListValue':
      if (!Array.isArray(value)) errors.push(`${at}: expected an array (google.protobuf.ListValue), got ${kind(value)}`);
      else checkAnyJson(value, at, errors);
      return true;
    case '.google.protobuf.Duration':
      if (typeof value !== 'string' || !/^-?\d+(\.\d{1,9})?s$/.test(value))
        errors.push(`${at}: expected a duration such as "3600s", got ${JSON.stringify(value)}`);
      return true;
    case '.google.protobuf.Timestamp':
      if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(value)) {
        errors.push(`${at}: expected an RFC 3339 timestamp, got ${JSON.stringify(value)}`);
      }
      return true;
    case '.google.protobuf.FieldMask':
      if (typeof value !== 'string') errors.push(`${at}: expected a field mask string, got ${kind(value)}`);
      return true;
    case '.google.protobuf.Any': {
      if (!isObject(value) || typeof value['@type'] !== 'string') {
        errors.push(`${at}: expected an object with "@type" (google.protobuf.Any)`);
        return true;
      }
      const typeUrl = value['@type'];
      const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
      const inner = walk.root.lookup(name);
      if (!(inner instanceof protobuf.Type)) {
        errors.push(`${at}["@type"]: unknown type ${typeUrl}`);
        return true;
      }
      const { '@type': _type, ...rest } = value;
      if (inner.fullName.startsWith('.google.protobuf.') && 'value' in rest) checkValue(walk, inner, rest['value'], pathKey(at, 'value'));
      else checkMessage(walk, inner, rest, at);
      return true;
    }
    default:
      return false;
  }
}

/** One value of a field's type (a message, an enum or a scalar); never null (callers deal with null). */
function checkValue(walk: Walk, resolved: protobuf.Type | protobuf.Enum | null, value: unknown, at: string, scalarType?: string): void {
  if (resolved instanceof protobuf.Enum) checkEnum(resolved, value, at, walk.errors);
  else if (resolved instanceof protobuf.Type) {
    if (!checkWellKnown(walk, resolved, value, at)) checkMessage(walk, resolved, value, at);
  } else checkScalar(scalarType ?? '?', value, at, walk.errors);
}

function isNullable(field: protobuf.Field): boolean {
  return field.resolvedType?.fullName === '.google.protobuf.Value' || field.resolvedType?.fullName === '.google.protobuf.NullValue';
}

function checkMapKey(keyType: string, key: string, at: string, errors: string[]): void {
  if (keyType === 'string') return;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false') errors.push(`${at}: map key '${key}' is not a bool`);
    return;
  }
  if (!/^-?\d+$/.test(key)) return void errors.push(`${at}: map key '${key}' is not an integer (${keyType})`);
  checkScalar(keyType, key, at, errors);
}

function checkMessage(walk: Walk, type: protobuf.Type, value: unknown, at: string): void {
  const { errors } = walk;
  if (!isObject(value)) {
    errors.push(`${at}: expected an object (${type.fullName.slice(1)}), got ${kind(value)}`);
    return;
  }
  const byName = new Map<string, protobuf.Field>();
  for (const field of type.fieldsArray) {
    const options: Readonly<Record<string, unknown>> = field.options ?? {};
    const custom = options['json_name'];
    byName.set(typeof custom === 'string' ? custom : jsonName(field.name), field);
    byName.set(field.name, field);
  }
  const seen = new Set<protobuf.Field>();
  const oneofs = new Map<protobuf.OneOf, string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    const at2 = pathKey(at, key);
    const field = byName.get(key);
    if (!field) {
      errors.push(`${at2}: unknown field '${key}' in ${type.fullName.slice(1)}`);
      continue;
    }
    if (seen.has(field)) {
      errors.push(`${at2}: duplicate field '${key}' (${field.name} given twice)`);
      continue;
    }
    seen.add(field);
    if (fieldValue === null && !isNullable(field)) continue; // protojson: null leaves the field unset
    if (field instanceof protobuf.MapField) {
      if (!isObject(fieldValue)) {
        errors.push(`${at2}: expected an object (map<${field.keyType}, ${field.type}>), got ${kind(fieldValue)}`);
        continue;
      }
      for (const [mapKey, mapValue] of Object.entries(fieldValue)) {
        const at3 = pathKey(at2, mapKey);
        checkMapKey(field.keyType, mapKey, at3, errors);
        if (mapValue === null && !isNullable(field)) errors.push(`${at3}: null map value`);
        else checkValue(walk, field.resolvedType, mapValue, at3, field.type);
      }
      continue;
    }
    if (field.repeated) {
      if (!Array.isArray(fieldValue)) {
        errors.push(`${at2}: expected an array (repeated ${field.type}), got ${kind(fieldValue)}`);
        continue;
      }
      fieldValue.forEach((element: unknown, i) => {
        if (element === null && !isNullable(field)) errors.push(`${at2}[${i}]: null element`);
        else checkValue(walk, field.resolvedType, element, `${at2}[${i}]`, field.type);
      });
      continue;
    }
    const oneof = field.partOf;
    if (oneof) {
      const other = oneofs.get(oneof);
      if (other !== undefined) errors.push(`${at2}: oneof ${type.fullName.slice(1)}.${oneof.name} is already set by '${other}'`);
      oneofs.set(oneof, key);
    }
    checkValue(walk, field.resolvedType, fieldValue, at2, field.type);
  }
}

/** Errors of `value` as the JSON of message `typeName` (empty when protojson would take it). */
export function checkJson(
  root: protobuf.Root,
  typeName: string,
  value: unknown,
  options: { at?: string; overrides?: readonly StructOverride[] } = {},
): string[] {
  const walk: Walk = { root, errors: [], overrides: options.overrides ?? [] };
  checkValue(walk, root.lookupType(typeName), value, options.at ?? '$');
  return walk.errors;
}

/** The Structs of a PipelineSpec and a PlatformSpec that the 2.17 backend reads as typed messages. */
const PIPELINE_OVERRIDES: readonly StructOverride[] = [
  { test: (at) => at === '$.deploymentSpec' || at === '$.deployment_spec', typeName: 'ml_pipelines.PipelineDeploymentConfig' },
];
const PLATFORM_OVERRIDES: readonly StructOverride[] = [
  {
    // platforms.kubernetes.(deploymentSpec|deployment_spec).executors.<label>
    test: (at) =>
      /^\$\.platforms\.kubernetes\.(deploymentSpec|deployment_spec)\.executors(\.[A-Za-z_][A-Za-z0-9_]*|\["(?:[^"\\]|\\.)*"\])$/.test(at),
    typeName: 'kfp_kubernetes.KubernetesExecutorConfig',
  },
];

export function checkPipelineSpec(root: protobuf.Root, spec: unknown): string[] {
  return checkJson(root, 'ml_pipelines.PipelineSpec', spec, { overrides: PIPELINE_OVERRIDES });
}

export function checkPlatformSpec(root: protobuf.Root, platform: unknown): string[] {
  return checkJson(root, 'ml_pipelines.PlatformSpec', platform, { overrides: PLATFORM_OVERRIDES });
}

/**
 * A compiled pipeline file: document 1 is the PipelineSpec, document 2 (when present) the
 * PlatformSpec. Errors are prefixed with the document they are in.
 */
export function checkCompiledYaml(root: protobuf.Root, yamlText: string): { documents: number; errors: string[] } {
  const documents = parseAllDocuments(yamlText);
  if (!Array.isArray(documents)) return { documents: 0, errors: ['not a YAML stream'] };
  const errors: string[] = [];
  documents.forEach((doc, i) => {
    for (const e of doc.errors) errors.push(`document ${i + 1}: YAML: ${e.message}`);
  });
  if (errors.length > 0) return { documents: documents.length, errors };
  if (documents.length < 1 || documents.length > 2)
    return { documents: documents.length, errors: [`expected 1 or 2 YAML documents, got ${documents.length}`] };
  const [spec, platform] = documents.map((d) => d.toJS() as unknown);
  errors.push(...checkPipelineSpec(root, spec).map((e) => `PipelineSpec ${e}`));
  if (documents.length === 2) errors.push(...checkPlatformSpec(root, platform).map((e) => `PlatformSpec ${e}`));
  return { documents: documents.length, errors };
}
