/**
 * ONNX translations of the model's own layer classes (model/layers.ts), handed to the generic
 * exporter (onnx-export/) as `ExportOptions.layers`: the exporter knows TF.js's built-in layers only.
 */
import { attr, fail, one, out, variable, weight, type LayerCall, type Translate, type Value } from '../onnx-export/index.js';
import { type HierarchicalLogits, L2_EPSILON, type WeightedBag } from './layers.js';

/** WeightedBag: Σ_l w[n,l] · table[ids[n,l]] (+ bias) as Gather, Unsqueeze, Mul, ReduceSum. */
function weightedBag(call: LayerCall): Value[] {
  if (call.inputs.length !== 2) fail(call, `expected inputs [ids, weights], got ${call.inputs.length}`);
  const g = call.g;
  let ids = g.toTf(call.inputs[0]!);
  const weights = g.toTf(call.inputs[1]!);
  if (ids.dtype !== 'int32')
    ids = { ...ids, name: g.node('Cast', [ids.name], `${call.base}_ids`, [attr.int('to', 6 /* INT32 */)]), dtype: 'int32' };
  const bag = call.layer as WeightedBag;
  let idsName = ids.name;
  let weightsName = weights.name;
  if (bag.skipOutOfRange) {
    // Ids past the table count for nothing: id 0 with weight 0, as padding is.
    const limit = g.node('Cast', [g.int64s([bag.inputDim], [])], `${call.base}_limit`, [attr.int('to', 6 /* INT32 */)]);
    const inside = g.node('Less', [ids.name, limit], `${call.base}_inside`);
    const zero = g.node('Cast', [g.int64s([0], [])], `${call.base}_zero`, [attr.int('to', 6 /* INT32 */)]);
    idsName = g.node('Where', [inside, ids.name, zero], `${call.base}_ids_inside`);
    weightsName = g.node(
      'Mul',
      [weights.name, g.node('Cast', [inside], `${call.base}_mask`, [attr.int('to', 1 /* FLOAT */)])],
      `${call.base}_weights_inside`,
    );
  }
  const table = weight(call, variable(call, 'table', true), 'embeddings');
  const rows = g.node('Gather', [table, idsName], `${call.base}_rows`, [attr.int('axis', 0)]); // [N, L, D]
  const w = g.node('Unsqueeze', [weightsName, g.int64s([2])], `${call.base}_weights`); // [N, L, 1]
  const weighted = g.node('Mul', [rows, w], `${call.base}_weighted`);
  const bias = bag.useBias ? variable(call, 'bias', true) : undefined;
  let y = g.reduce('ReduceSum', weighted, [1], false, bias ? `${call.base}_sum` : call.base); // [N, D]
  if (bias) y = g.node('Add', [y, weight(call, bias, 'bias')], call.base);
  return [out(call, y, false)];
}

/** L2Normalize: x · 1/sqrt(max(Σ x², ε)) on the last axis, as the layer computes it. */
function l2Normalize(call: LayerCall): Value[] {
  const g = call.g;
  const x = g.toTf(one(call));
  const squares = g.node('Mul', [x.name, x.name], `${call.base}_square`);
  const sum = g.reduce('ReduceSum', squares, [-1], true, `${call.base}_sum`);
  const clamped = g.node('Max', [sum, g.scalar(L2_EPSILON)], `${call.base}_max`);
  const norm = g.node('Sqrt', [clamped], `${call.base}_norm`);
  const inverse = g.node('Reciprocal', [norm], `${call.base}_rsqrt`);
  return [out(call, g.node('Mul', [x.name, inverse], call.base), false)];
}

/** HierarchicalLogits: x[:, :C] + weight · max over each root's sub-category columns (Gather, ReduceMax). */
function hierarchicalLogits(call: LayerCall): Value[] {
  const g = call.g;
  const x = g.toTf(one(call));
  const layer = call.layer as HierarchicalLogits;
  const table = layer.gatherTable();
  const columns = g.node('Gather', [x.name, g.int64s(table.flat(), [table.length, table[0]!.length])], `${call.base}_columns`, [
    attr.int('axis', 1),
  ]); // [N, C, M]
  const best = g.reduce('ReduceMax', columns, [2], false, `${call.base}_best`);
  const roots = g.node('Slice', [x.name, g.int64s([0]), g.int64s([layer.classes]), g.int64s([1])], `${call.base}_roots`);
  const scaled = g.node('Mul', [best, g.scalar(layer.weight)], `${call.base}_scaled`);
  return [out(call, g.node('Add', [roots, scaled], call.base), false)];
}

/** Pass as `layers` to exportLayersModel for any model built from model/layers.ts. */
export const MODEL_LAYER_TRANSLATIONS: Readonly<Record<string, Translate>> = {
  WeightedBag: weightedBag,
  L2Normalize: l2Normalize,
  HierarchicalLogits: hierarchicalLogits,
};
