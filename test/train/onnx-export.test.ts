/**
 * The ONNX exporter (components/train/onnx) against TF.js itself: each model is exported, loaded by
 * onnxruntime-node from the bytes, run on random inputs, and compared with `model.predict` on the
 * wasm backend (max |difference| < 1e-4). Covered: a Dense MLP (opsets 13, 17, 21); merge layers and
 * every activation; a small CNN with every conv / pool / BN / padding / depthwise layer at strides 1
 * and 2, 'same' and 'valid', on odd sizes (TF's asymmetric padding), with a nested model called twice;
 * the text tower (WeightedBag → Dense → L2Normalize, several outputs, variable L); and the pretrained
 * MobileNetV2 backbone with a Dense(256) + L2Normalize head on two images.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { createLogger } from '../../components/core/platform/log.js';
import { BACKBONE_FEATURE_DIM, BACKBONE_INPUT_SIZE, loadBackboneFrom, loadMobileNetBackbone } from '../../components/train/backbone.js';
import { HierarchicalLogits, L2Normalize, WeightedBag } from '../../components/train/model/layers.js';
import { MODEL_LAYER_TRANSLATIONS } from '../../components/train/model/onnx-layers.js';
import { exportLayersModel, UnsupportedLayerError, type ExportOptions } from '../../components/train/onnx-export/index.js';
import { initBackend, tf } from '../../components/train/tfjs-backend/backend.js';

const TOLERANCE = 1e-4;

/** How often each op occurs in exported bytes, and the initializer names. */
function graphOf(bytes: Uint8Array): { ops: Record<string, number>; initializers: string[] } {
  const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
  const ops: Record<string, number> = {};
  for (const node of graph.node ?? []) ops[node.opType!] = (ops[node.opType!] ?? 0) + 1;
  return { ops, initializers: (graph.initializer ?? []).map((t) => t.name!) };
}

before(async () => {
  await initBackend(createLogger('test', 'silent'));
});

function toOrt(t: tf.Tensor): ort.Tensor {
  return t.dtype === 'int32'
    ? new ort.Tensor('int32', t.dataSync() as Int32Array, t.shape)
    : new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape);
}

interface Checked {
  session: ort.InferenceSession;
  bytes: Uint8Array;
  maxDiff: number;
  exportMs: number;
}

/** Exports `model`, runs it in ORT on `inputs`, and checks every output against `model.predict`. */
async function check(
  model: tf.LayersModel,
  inputsList: tf.Tensor[][],
  options?: ExportOptions,
  session?: ort.InferenceSession,
): Promise<Checked> {
  const start = performance.now();
  const bytes = session ? new Uint8Array() : exportLayersModel(model, { layers: MODEL_LAYER_TRANSLATIONS, ...options });
  const exportMs = performance.now() - start;
  session ??= await ort.InferenceSession.create(bytes);
  assert.equal(session.inputNames.length, model.inputs.length);
  assert.equal(session.outputNames.length, model.outputs.length);
  let maxDiff = 0;
  for (const inputs of inputsList) {
    const predicted = model.predict(inputs.length === 1 ? inputs[0]! : inputs);
    const expected = Array.isArray(predicted) ? predicted : [predicted];
    const feeds = Object.fromEntries(session.inputNames.map((name, i) => [name, toOrt(inputs[i]!)]));
    const results = await session.run(feeds);
    session.outputNames.forEach((name, i) => {
      const got = results[name]!;
      const want = expected[i]!;
      assert.deepEqual([...got.dims], want.shape, `output ${name} has TF.js's shape`);
      const a = got.data as Float32Array;
      const b = want.dataSync();
      for (let j = 0; j < a.length; j++) {
        assert.ok(Number.isFinite(a[j]!), `output ${name}[${j}] is finite`);
        maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
      }
    });
    tf.dispose(expected);
  }
  assert.ok(maxDiff < TOLERANCE, `max |ORT - TF.js| = ${maxDiff}`);
  return { session, bytes, maxDiff, exportMs };
}

/** Random values in every BatchNormalization's statistics and scale/shift (they start at 0/1). */
function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) randomizeBatchNorms(layer, seed + 100);
    if (layer.getClassName() !== 'BatchNormalization') continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const name = layer.weights[i]!.name;
        if (name.endsWith('moving_variance')) return tf.randomUniform(w.shape, 0.5, 2, 'float32', seed + i);
        return tf.randomUniform(w.shape, name.endsWith('gamma') ? 0.5 : -0.5, name.endsWith('gamma') ? 1.5 : 0.5, 'float32', seed + i);
      }),
    );
  }
}

describe('ONNX export: dense models', () => {
  it('a Dense MLP (Sequential) matches TF.js at opsets 13, 17 and 21', async (t) => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 64, activation: 'relu', inputShape: [20] }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 32, activation: 'relu6' }),
        tf.layers.gaussianNoise({ stddev: 0.3 }),
        tf.layers.dense({ units: 32, activation: 'sigmoid' }),
        tf.layers.dense({ units: 16, activation: 'tanh', useBias: false }),
        tf.layers.dense({ units: 5, activation: 'softmax' }),
      ],
    });
    const x = [[tf.randomNormal([7, 20], 0, 2, 'float32', 1)], [tf.randomNormal([1, 20], 0, 2, 'float32', 2)]];
    for (const opset of [13, 17, 21]) {
      const { maxDiff, session } = await check(model, x, { opset, inputNames: ['features'], outputNames: ['probabilities'] });
      assert.deepEqual(session.inputNames, ['features']);
      assert.deepEqual(session.outputNames, ['probabilities']);
      t.diagnostic(`opset ${opset}: max |diff| ${maxDiff.toExponential(2)}`);
    }
  });

  it('merge layers, every supported activation, BN on rank 2, several outputs', async (t) => {
    const a = tf.input({ shape: [12], name: 'a' });
    const b = tf.input({ shape: [12], name: 'b' });
    const da = tf.layers.dense({ units: 16, activation: 'elu' }).apply(a) as tf.SymbolicTensor;
    const shared = tf.layers.dense({ units: 16, activation: 'selu', name: 'shared' }); // called on both inputs
    const sa = shared.apply(a) as tf.SymbolicTensor;
    const sb = shared.apply(b) as tf.SymbolicTensor;
    const act = (name: string, x: tf.SymbolicTensor) =>
      tf.layers.activation({ activation: name as 'linear' }).apply(x) as tf.SymbolicTensor;
    const merged = [
      tf.layers.add().apply([da, sa, sb]),
      tf.layers.multiply().apply([act('softplus', sa), act('softsign', sb)]),
      tf.layers.average().apply([act('hardSigmoid', da), act('swish', sb)]),
      tf.layers.maximum().apply([da, sb]),
      tf.layers.minimum().apply([act('linear', sa), act('tanh', sb)]),
      tf.layers.leakyReLU({ alpha: 0.2 }).apply(da),
      tf.layers.reLU({ maxValue: 0.5 }).apply(sb),
    ] as tf.SymbolicTensor[];
    const cat = tf.layers.concatenate().apply(merged) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ epsilon: 0.01 }).apply(cat) as tf.SymbolicTensor;
    const logits = tf.layers.dense({ units: 6, name: 'logits' }).apply(bn) as tf.SymbolicTensor;
    const probs = tf.layers.softmax().apply(logits) as tf.SymbolicTensor;
    const reshaped = tf.layers.reshape({ targetShape: [4, -1] }).apply(bn) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling1d().apply(reshaped) as tf.SymbolicTensor;
    const maxed = tf.layers.globalMaxPooling1d().apply(reshaped) as tf.SymbolicTensor;
    const steps = tf.layers.reshape({ targetShape: [8, 14] }).apply(bn) as tf.SymbolicTensor;
    const perStep = tf.layers.dense({ units: 3, activation: 'relu' }).apply(steps) as tf.SymbolicTensor; // Dense on rank 3
    const model = tf.model({ inputs: [a, b], outputs: [probs, logits, pooled, maxed, sb, perStep] });
    randomizeBatchNorms(model, 10);
    const inputs = [[tf.randomNormal([5, 12], 0, 1, 'float32', 3), tf.randomNormal([5, 12], 0, 1, 'float32', 4)]];
    const { maxDiff, session } = await check(model, inputs);
    assert.deepEqual(session.inputNames, ['a', 'b']);
    t.diagnostic(`max |diff| ${maxDiff.toExponential(2)}`);
  });
});

describe('ONNX export: convolutional models', () => {
  it('a small CNN with every conv / pool / BN / padding / depthwise layer matches TF.js', async (t) => {
    const image = tf.input({ shape: [17, 22, 3], name: 'image' });
    const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
    // A block used as a nested model, called twice (one copy of its weights).
    const blockIn = tf.input({ shape: [null, null, 12] });
    const blockOut = apply(
      tf.layers.reLU({ maxValue: 6 }),
      apply(tf.layers.batchNormalization(), apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: true }), blockIn)),
    );
    const block = tf.model({ inputs: blockIn, outputs: blockOut, name: 'block' });

    let x = apply(
      tf.layers.zeroPadding2d({
        padding: [
          [1, 2],
          [0, 1],
        ],
      }),
      image,
    ); // 20×23, padded in NHWC
    x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), x); // 10×12 (asymmetric pad)
    x = apply(tf.layers.batchNormalization({ epsilon: 1e-3 }), x);
    x = apply(tf.layers.reLU({ maxValue: 6 }), x);
    const dw = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 1, padding: 'same', depthMultiplier: 2, useBias: false }), x); // 16 ch
    const dw2 = apply(tf.layers.depthwiseConv2d({ kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'relu6' }), x); // 4×6×8
    const dil = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }), x);
    let y = apply(tf.layers.add(), [dw, dil]);
    y = apply(tf.layers.multiply(), [y, apply(tf.layers.activation({ activation: 'sigmoid' }), dw)]);
    y = apply(tf.layers.conv2d({ filters: 12, kernelSize: 1, padding: 'valid', useBias: false }), y);
    y = apply(block, y);
    y = apply(block, y); // second call of the nested model
    const maxPooled = apply(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }), y); // 5×6
    const avgSame = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), y); // 5×6, edges average fewer pixels
    const cat = apply(tf.layers.concatenate({ axis: -1 }), [maxPooled, avgSame]); // 24 ch, NCHW concat
    const conv5 = apply(tf.layers.conv2d({ filters: 10, kernelSize: [2, 3], strides: [1, 2], padding: 'valid' }), cat); // 4×2
    const avgValid = apply(tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid' }), conv5); // 2×1
    const maxValid = apply(tf.layers.maxPooling2d({ poolSize: [2, 2], strides: 1, padding: 'valid' }), dw2); // 3×5
    const gap = apply(tf.layers.globalAveragePooling2d({}), cat);
    const gapInput = apply(tf.layers.globalAveragePooling2d({}), image); // on the NHWC input itself
    const gmp = apply(tf.layers.globalMaxPooling2d({}), maxValid);
    const flat = apply(tf.layers.flatten(), avgValid); // NHWC order
    const head = apply(tf.layers.dense({ units: 7, activation: 'softmax' }), apply(tf.layers.concatenate(), [flat, gap, gmp, gapInput]));
    const featureMap = apply(tf.layers.activation({ activation: 'softmax' }), conv5); // a 4D output, softmax over channels
    const model = tf.model({ inputs: image, outputs: [head, gap, featureMap, flat] });
    randomizeBatchNorms(model, 20);

    const images = [[tf.randomUniform([3, 17, 22, 3], 0, 1, 'float32', 5)]];
    const { maxDiff, session, bytes } = await check(model, images);
    assert.deepEqual(session.inputMetadata[0], { name: 'image', isTensor: true, type: 'float32', shape: ['N', 17, 22, 3] });
    // The nested block's weights are written once for its two calls.
    assert.equal(graphOf(bytes).initializers.filter((n) => n.endsWith('/depthwise_kernel')).length, 3);
    t.diagnostic(`max |diff| ${maxDiff.toExponential(2)}, ${bytes.length} bytes`);
  });

  it('images of unknown size use SAME_UPPER padding and symbolic H, W', async (t) => {
    const image = tf.input({ shape: [null, null, 3] });
    let x = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
      .apply(image) as tf.SymbolicTensor;
    x = tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: image, outputs: x });
    const { maxDiff, session } = await check(model, [
      [tf.randomUniform([2, 15, 10, 3], 0, 1, 'float32', 6)],
      [tf.randomUniform([1, 8, 9, 3], 0, 1, 'float32', 7)],
    ]);
    assert.deepEqual(session.inputMetadata[0], { name: model.inputNames[0], isTensor: true, type: 'float32', shape: ['N', 'H', 'W', 3] });
    t.diagnostic(`max |diff| ${maxDiff.toExponential(2)}`);
  });
});

describe('ONNX export: text tower', () => {
  it('WeightedBag → Dense → L2Normalize, two outputs, variable L, int32 ids', async (t) => {
    const vocab = 500;
    const ids = tf.input({ shape: [null], dtype: 'int32', name: 'token_ids' });
    const weights = tf.input({ shape: [null], name: 'token_weights' });
    const bag = new WeightedBag({ inputDim: vocab, outputDim: 48, useBias: true, name: 'bag' }).apply([ids, weights]) as tf.SymbolicTensor;
    const wide = new WeightedBag({ inputDim: vocab, outputDim: 8, initScale: 0.1, name: 'wide' }).apply([
      ids,
      weights,
    ]) as tf.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 64, activation: 'relu' }).apply(bag) as tf.SymbolicTensor;
    const dropped = tf.layers.dropout({ rate: 0.2 }).apply(hidden) as tf.SymbolicTensor;
    const projected = tf.layers.dense({ units: 32, name: 'project' }).apply(dropped) as tf.SymbolicTensor;
    const embedding = new L2Normalize({ name: 'embedding' }).apply(projected) as tf.SymbolicTensor;
    const category = tf.layers
      .dense({ units: 13, activation: 'softmax', name: 'category' })
      .apply(tf.layers.concatenate().apply([dropped, wide]) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [ids, weights], outputs: [embedding, category], name: 'text_tower' });

    const batch = (n: number, l: number, seed: number): tf.Tensor[] => {
      const tokenIds = tf.randomUniform([n, l], 0, vocab, 'int32', seed);
      // The last two positions are padding: id 0, weight 0.
      const mask = tf.concat([tf.ones([n, l - 2]), tf.zeros([n, 2])], 1);
      return [tf.mul(tokenIds, tf.cast(mask, 'int32')), tf.mul(tf.randomUniform([n, l], 0, 1, 'float32', seed + 1), mask)];
    };
    const first = await check(model, [batch(6, 9, 8)]);
    const session = first.session;
    // The same session takes other sequence lengths and batch sizes.
    await check(model, [batch(2, 31, 10), batch(1, 3, 12)], undefined, session);
    assert.deepEqual(session.inputMetadata, [
      { name: 'token_ids', isTensor: true, type: 'int32', shape: ['N', 'L'] },
      { name: 'token_weights', isTensor: true, type: 'float32', shape: ['N', 'L'] },
    ]);
    assert.deepEqual(session.outputNames, ['embedding', 'category']);
    // Unit-length embeddings, and an all-padding row gives the zero vector (ε keeps it finite), as in TF.js.
    const [zeroIds, zeroWeights] = [tf.zeros([1, 4], 'int32'), tf.zeros([1, 4])];
    const out = await session.run({ token_ids: toOrt(zeroIds), token_weights: toOrt(zeroWeights) });
    const tfOut = (model.predict([zeroIds, zeroWeights]) as tf.Tensor[])[0]!.dataSync();
    (out['embedding']!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - tfOut[i]!) < TOLERANCE));
    t.diagnostic(`max |diff| ${first.maxDiff.toExponential(2)}, export ${first.exportMs.toFixed(0)} ms, ${first.bytes.length} bytes`);
  });

  it('WeightedBag with skipOutOfRange: ids past the table count for nothing, in TF.js and ONNX', async () => {
    const ids = tf.input({ shape: [null], dtype: 'int32', name: 'ids' });
    const weights = tf.input({ shape: [null], name: 'weights' });
    const bag = new WeightedBag({ inputDim: 50, outputDim: 6, skipOutOfRange: true, name: 'bag' }).apply([
      ids,
      weights,
    ]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [ids, weights], outputs: bag });
    const inRange = [tf.tensor2d([[3, 7, 0]], [1, 3], 'int32'), tf.tensor2d([[0.5, 0.25, 0]])];
    const withExtra = [tf.tensor2d([[3, 7, 60, 99]], [1, 4], 'int32'), tf.tensor2d([[0.5, 0.25, 0.9, 0.3]])];
    const expected = (model.predict(inRange) as tf.Tensor).dataSync();
    const got = (model.predict(withExtra) as tf.Tensor).dataSync();
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6));
    await check(model, [withExtra, inRange]);
  });

  it('HierarchicalLogits: each root plus the best of its own sub-categories, in TF.js and ONNX', async () => {
    // 3 roots, 5 sub-categories of unequal groups: root 0 owns subs 1 and 3, root 1 owns 0, root 2 owns 2 and 4.
    const input = tf.input({ shape: [8], name: 'scores' });
    const logits = new HierarchicalLogits({ classes: 3, groups: [[1, 3], [0], [2, 4]], weight: 0.5, name: 'roots' }).apply(
      input,
    ) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: logits });
    const x = tf.tensor2d([
      [1, 2, 3, /* subs */ 10, -4, 7, 2, -1],
      [0, 0, 0, /* subs */ -1, -2, -3, -4, -5],
    ]);
    const expected = [
      [1 + 0.5 * Math.max(-4, 2), 2 + 0.5 * 10, 3 + 0.5 * Math.max(7, -1)],
      [0 + 0.5 * Math.max(-2, -4), 0 + 0.5 * -1, 0 + 0.5 * Math.max(-3, -5)],
    ];
    assert.deepEqual((model.predict(x) as tf.Tensor).arraySync(), expected);
    const { maxDiff } = await check(model, [[x]]);
    assert.ok(maxDiff < TOLERANCE, `ONNX differs by ${maxDiff}`);
    assert.throws(() => new HierarchicalLogits({ classes: 2, groups: [[0], []], weight: 1 }), /class 1 has no sub-category/);
  });
});

describe('ONNX export: pretrained MobileNetV2 backbone', () => {
  it('backbone + Dense(256) + L2Normalize matches TF.js on two images', async (t) => {
    const backbone = await loadMobileNetBackbone();
    assert.equal(backbone, await loadMobileNetBackbone(), 'loaded once');
    assert.deepEqual(backbone.inputs[0]!.shape, [null, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3]);
    assert.deepEqual(backbone.outputs[0]!.shape, [null, BACKBONE_FEATURE_DIM]);
    const projected = tf.layers.dense({ units: 256, name: 'image_project' }).apply(backbone.outputs[0]!) as tf.SymbolicTensor;
    const embedding = new L2Normalize({ name: 'image_embedding' }).apply(projected) as tf.SymbolicTensor;
    const model = tf.model({ inputs: backbone.inputs, outputs: embedding });

    // One image of uniform random pixels, one drawn by sharp (gradient and shapes), both / 255.
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><defs><linearGradient id="g"><stop offset="0" stop-color="#1e90ff"/><stop offset="1" stop-color="#ffd700"/></linearGradient></defs><rect width="320" height="240" fill="url(#g)"/><circle cx="110" cy="120" r="70" fill="#c0392b"/><rect x="190" y="60" width="90" height="120" fill="#2ecc71"/></svg>`;
    const drawn = await sharp(Buffer.from(svg))
      .resize(BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer();
    const pixels = new Float32Array(2 * BACKBONE_INPUT_SIZE * BACKBONE_INPUT_SIZE * 3);
    pixels.set(tf.randomUniform([BACKBONE_INPUT_SIZE * BACKBONE_INPUT_SIZE * 3], 0, 1, 'float32', 9).dataSync());
    drawn.forEach((v, i) => (pixels[BACKBONE_INPUT_SIZE * BACKBONE_INPUT_SIZE * 3 + i] = v / 255));
    const images = tf.tensor4d(pixels, [2, BACKBONE_INPUT_SIZE, BACKBONE_INPUT_SIZE, 3]);

    const { maxDiff, bytes, exportMs, session } = await check(model, [[images]]);
    assert.deepEqual(session.inputMetadata[0], { name: 'input_1', isTensor: true, type: 'float32', shape: ['N', 224, 224, 3] });
    // One transpose (NHWC → NCHW before the first conv); the pooled 1×1 map flattens without one.
    const { ops } = graphOf(bytes);
    assert.equal(ops['Transpose'], 1);
    assert.equal(ops['Conv'], 52);
    // The two images give distinct embeddings.
    const e = (model.predict(images) as tf.Tensor).arraySync() as number[][];
    assert.ok(e[0]!.some((v, i) => Math.abs(v - e[1]![i]!) > 1e-3));
    t.diagnostic(`export ${exportMs.toFixed(0)} ms, ${(bytes.length / 2 ** 20).toFixed(2)} MiB, max |diff| ${maxDiff.toExponential(2)}`);
  });
});

describe('backbone from a user-provided TF.js model', () => {
  it('loads a saved LayersModel folder (or file: URL), cut at the feature layer, and exports it', async () => {
    const image = tf.input({ shape: [16, 16, 3] });
    const conv = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
      .apply(image) as tf.SymbolicTensor;
    const features = tf.layers.globalAveragePooling2d({ name: 'features' }).apply(conv) as tf.SymbolicTensor;
    const classes = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(features) as tf.SymbolicTensor;
    const saved = tf.model({ inputs: image, outputs: classes });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'backbone-'));
    try {
      await saved.save(
        tf.io.withSaveHandler(async (artifacts) => {
          const data = artifacts.weightData!;
          const weights = Array.isArray(data) ? Buffer.concat(data.map((d) => Buffer.from(d))) : Buffer.from(data);
          await writeFile(path.join(dir, 'group1-shard1of1.bin'), weights);
          const manifest = [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }];
          await writeFile(
            path.join(dir, 'model.json'),
            JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest: manifest }),
          );
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 11);
      const expected = tf.model({ inputs: image, outputs: features }).predict(x) as tf.Tensor;
      for (const where of [dir, pathToFileURL(path.join(dir, 'model.json')).href]) {
        const backbone = await loadBackboneFrom(where, 'features');
        assert.deepEqual(backbone.outputs[0]!.shape, [null, 4]);
        const got = backbone.predict(x) as tf.Tensor;
        assert.ok(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]! < 1e-6);
        await check(backbone, [[x]]);
      }
      await assert.rejects(loadBackboneFrom(dir, 'no_such_layer'), /has no layer 'no_such_layer'/);
      await assert.rejects(loadBackboneFrom(path.join(dir, 'missing')), /does not exist/);
      assert.deepEqual((await loadBackboneFrom(dir)).outputs[0]!.shape, [null, 3], 'without a feature layer: the model as saved');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX export: errors', () => {
  it('an unsupported layer is named with its class', () => {
    const x = tf.input({ shape: [6, 4] });
    const y = tf.layers.conv1d({ filters: 2, kernelSize: 3, name: 'my_conv1d' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: y });
    assert.throws(
      () => exportLayersModel(model),
      (error: unknown) => {
        assert.ok(error instanceof UnsupportedLayerError);
        assert.equal(error.layerClass, 'Conv1D');
        assert.equal(error.layerName, 'my_conv1d');
        assert.match(error.message, /layer class Conv1D \(layer 'my_conv1d'\) is not supported/);
        return true;
      },
    );
  });

  it("the exporter knows TF.js's layers only: a model's own layer class needs its translation handed in", () => {
    const x = tf.input({ shape: [4] });
    const model = tf.model({ inputs: x, outputs: new L2Normalize({ name: 'norm' }).apply(x) as tf.SymbolicTensor });
    assert.throws(() => exportLayersModel(model), /layer class L2Normalize \(layer 'norm'\) is not supported/);
    assert.ok(exportLayersModel(model, { layers: MODEL_LAYER_TRANSLATIONS }).byteLength > 0);
    // The refusal lists the translations it was given, so a user sees what was known.
    const sequence = tf.input({ shape: [6, 4] });
    const conv = tf.model({
      inputs: sequence,
      outputs: tf.layers.conv1d({ filters: 2, kernelSize: 3 }).apply(sequence) as tf.SymbolicTensor,
    });
    assert.throws(() => exportLayersModel(conv, { layers: MODEL_LAYER_TRANSLATIONS }), /Conv1D .*supported: .*Dense.*L2Normalize/);
  });

  it('an unsupported activation and a bad opset are refused clearly', () => {
    const x = tf.input({ shape: [3] });
    const model = tf.model({
      inputs: x,
      outputs: tf.layers.dense({ units: 2, activation: 'logSoftmax' as 'linear', name: 'd' }).apply(x) as tf.SymbolicTensor,
    });
    assert.throws(() => exportLayersModel(model), /layer 'd' \(Dense\): activation 'logSoftmax' is not supported/);
    assert.throws(() => exportLayersModel(model, { opset: 11 }), /opset 11 is not supported/);
    assert.throws(() => exportLayersModel(model, { outputNames: ['a', 'b'] }), /2 output names for 1 outputs/);
  });
});
