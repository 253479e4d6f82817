/**
 * TF.js LayersModel → ONNX ModelProto bytes, by our own code (serving runs onnxruntime-node only).
 *
 * The model's functional graph is walked from its outputs through each symbolic tensor's layer call
 * (`layer.inboundNodes[nodeIndex]`), so multi-input / multi-output models, layers called more than
 * once (their weights are written once) and nested models (a LayersModel or Sequential used as a
 * layer) translate as they run in TF.js. Each layer call becomes the ONNX nodes of its translation
 * in ./layers.ts; weights become float32 initializers.
 *
 * Conventions of the exported graph:
 *  - inputs and outputs keep TF.js's shapes and layout (images NHWC; one Transpose to NCHW before the
 *    first conv and one back where TF's layout matters again, e.g. before Flatten or Dense);
 *  - the batch dimension is the symbolic `N`; other dimensions unknown to the model are symbolic too:
 *    `L` for a sequence axis (axis 1 of a rank-2 or rank-3 input), `H`/`W` for an image's;
 *  - int32 inputs (WeightedBag ids) stay int32; everything computed is float32;
 *  - input / output names are the model's input / output layer names unless given.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../core/platform/index.js';
import { GraphBuilder, onnx, valueInfo, type TfShape, type Value, type ValueDtype } from './graph.js';
import { BUILTIN_TRANSLATIONS, SUPPORTED_LAYERS, UnsupportedLayerError, type LayerCall, type Translate } from './layers.js';

export interface ExportOptions {
  /** Graph name (default: the model's name). */
  name?: string;
  docString?: string;
  /** ONNX input names, in `model.inputs` order (default: the input layer names). */
  inputNames?: string[];
  /** ONNX output names, in `model.outputs` order (default: the output layer names). */
  outputNames?: string[];
  /** Default opset: 17. Checked with onnxruntime-node 1.30 for 13, 17 and 21. */
  opset?: number;
  /**
   * Translations of the model's own layer classes, by class name (`getClassName()`), beside the
   * built-in ones: the exporter knows TF.js's layers, the model's author knows its custom ones.
   */
  layers?: Readonly<Record<string, Translate>>;
}

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
const PRODUCER = 'marketplace-ranking tfjs-onnx';

type SymbolicTensor = tf.SymbolicTensor;
type LayerNode = tf.layers.Layer['inboundNodes'][number];

/** The IR version that goes with an opset (ONNX 1.10–1.13: 8; 1.14–1.15: 9; 1.16: 10). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/** Symbolic names for the dimensions of a model input that the model leaves open. */
function inputDims(shape: TfShape): (number | string)[] {
  return shape.map((d, axis) => {
    if (d != null) return d;
    if (axis === 0) return 'N';
    if (axis === 1 && (shape.length === 2 || shape.length === 3)) return 'L';
    if (shape.length === 4 && axis === 1) return 'H';
    if (shape.length === 4 && axis === 2) return 'W';
    return `d${axis}`;
  });
}

function dtypeOf(tensor: SymbolicTensor, what: string): ValueDtype {
  if (tensor.dtype === 'float32' || tensor.dtype === 'int32') return tensor.dtype;
  throw new InputError(`ONNX export: ${what} has dtype ${tensor.dtype}; only float32 and int32 are supported`);
}

/** One walk of a (possibly nested) model's graph: symbolic tensor id → ONNX value. */
class Scope {
  readonly values = new Map<number, Value>();
  constructor(
    readonly g: GraphBuilder,
    /** Prefix of the value names made in this scope (a nested model's call). */
    readonly prefix: string,
    /** Layer class name → translation: the built-in ones and the model's own. */
    readonly translations: Readonly<Record<string, Translate>>,
  ) {}

  /** The values of `targets`, translating every layer call they depend on (iteratively, in topological order). */
  resolve(targets: readonly SymbolicTensor[]): Value[] {
    const stack: SymbolicTensor[] = [...targets].reverse();
    const entered = new Set<number>();
    while (stack.length > 0) {
      const tensor = stack[stack.length - 1]!;
      if (this.values.has(tensor.id)) {
        stack.pop();
        continue;
      }
      const layer = tensor.sourceLayer;
      if (layer.getClassName() === 'InputLayer') {
        throw new InputError(`ONNX export: the graph reaches input '${layer.name}', which is not among the model's inputs`);
      }
      const node = layer.inboundNodes[tensor.nodeIndex];
      if (!node) throw new Error(`ONNX export: layer '${layer.name}' has no call ${tensor.nodeIndex}`);
      const pending = node.inputTensors.filter((t) => !this.values.has(t.id));
      if (pending.length > 0) {
        if (entered.has(tensor.id)) throw new Error(`ONNX export: the graph has a cycle through layer '${layer.name}'`);
        entered.add(tensor.id);
        stack.push(...pending);
        continue;
      }
      stack.pop();
      const outputs = this.translate(layer, node, tensor.nodeIndex);
      if (outputs.length !== node.outputTensors.length) {
        throw new Error(`ONNX export: layer '${layer.name}' gave ${outputs.length} outputs for ${node.outputTensors.length}`);
      }
      node.outputTensors.forEach((t, i) => this.values.set(t.id, outputs[i]!));
    }
    return targets.map((t) => this.values.get(t.id)!);
  }

  private translate(layer: tf.layers.Layer, node: LayerNode, nodeIndex: number): Value[] {
    const inputs = node.inputTensors.map((t) => this.values.get(t.id)!);
    const base = `${this.prefix}${layer.name}${nodeIndex > 0 ? `_call${nodeIndex}` : ''}`;
    if (layer instanceof tf.LayersModel) return this.nested(layer, inputs, base);
    const className = layer.getClassName();
    const translation = this.translations[className];
    if (!translation)
      throw new UnsupportedLayerError(className, layer.name, undefined, [
        ...SUPPORTED_LAYERS,
        ...Object.keys(this.translations).filter((name) => !(name in BUILTIN_TRANSLATIONS)),
      ]);
    const call: LayerCall = { g: this.g, layer, className, base, inputs, outputShapes: node.outputTensors.map((t) => t.shape) };
    return translation(call);
  }

  /** A model used as a layer: its own graph, with its inputs bound to this call's values. */
  private nested(model: tf.LayersModel, inputs: Value[], base: string): Value[] {
    if (model.inputs.length !== inputs.length)
      throw new Error(`ONNX export: nested model '${model.name}' takes ${model.inputs.length} inputs, called with ${inputs.length}`);
    const scope = new Scope(this.g, `${base}/`, this.translations);
    model.inputs.forEach((t, i) => scope.values.set(t.id, inputs[i]!));
    return scope.resolve(model.outputs);
  }
}

function checkNames(names: string[] | undefined, count: number, what: string): void {
  if (names && names.length !== count) throw new InputError(`ONNX export: ${names.length} ${what} names for ${count} ${what}s`);
}

/** Exports `model` (its current weights, inference behaviour) as ONNX ModelProto bytes. */
export function exportLayersModel(model: tf.LayersModel, options: ExportOptions = {}): Uint8Array {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new InputError(`ONNX export: opset ${opset} is not supported (${MIN_OPSET}–${MAX_OPSET})`);
  checkNames(options.inputNames, model.inputs.length, 'input');
  checkNames(options.outputNames, model.outputs.length, 'output');
  const inputNames = options.inputNames ?? model.inputNames;
  const outputNames = options.outputNames ?? model.outputNames;
  const g = new GraphBuilder(opset);
  for (const name of [...inputNames, ...outputNames]) g.reserve(name);

  const scope = new Scope(g, '', { ...BUILTIN_TRANSLATIONS, ...options.layers });
  const inputs = model.inputs.map((tensor, i) => {
    const name = inputNames[i]!;
    const dtype = dtypeOf(tensor, `input '${name}'`);
    scope.values.set(tensor.id, { name, shape: tensor.shape, dtype, nchw: false });
    return valueInfo(name, dtype, inputDims(tensor.shape));
  });

  const results = scope.resolve(model.outputs);
  const outputs = results.map((value, i) => {
    const name = outputNames[i]!;
    // Outputs in TF.js's layout, under their own names.
    g.nodeNamed('Identity', [g.toTf(value).name], name);
    const shape = model.outputs[i]!.shape;
    return valueInfo(
      name,
      value.dtype,
      shape.map((d, axis) => d ?? (axis === 0 ? 'N' : null)),
    );
  });

  const graph = onnx.GraphProto.create({
    name: options.name ?? model.name,
    docString: options.docString ?? '',
    node: g.nodes,
    initializer: g.initializers,
    input: inputs,
    output: outputs,
  });
  const proto = onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: PRODUCER,
    producerVersion: `tfjs ${tf.version.tfjs}`,
    docString: options.docString ?? '',
    graph,
    metadataProps: [{ key: 'source', value: `TF.js LayersModel '${model.name}'` }],
  });
  return onnx.ModelProto.encode(proto).finish();
}
