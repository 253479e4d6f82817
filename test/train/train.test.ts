/**
 * The train component on a small real catalogue (demo listings with pictures): the loss falls, the
 * model folder is complete, ONNX agrees with TF.js, training is idempotent, and a run resumes from its
 * checkpoint. (Evaluate and index on a trained model: test/evaluate/, test/index/.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { MODEL_FILES, MODEL_PREFIX, openPublished, publish, SplitFile, type Published } from '../../components/core/contracts/index.js';
import { DEFAULT_FEATURIZER, openEmbedder, row, SENTENCE_ENCODER, TextFeaturizer, type Embedder } from '../../components/core/ml/index.js';
import { storeCheckpoints } from '../../components/train/checkpoint.js';
import { readDataset } from '../../components/train/dataset.js';
import { trainLoop } from '../../components/train/loop.js';
import { buildTowers } from '../../components/train/model/multimodal.js';
import { MODEL_LAYER_TRANSLATIONS } from '../../components/train/model/onnx-layers.js';
import { exportLayersModel } from '../../components/train/onnx-export/index.js';
import { splitOf } from '../../components/train/split.js';
import { initBackend } from '../../components/train/tfjs-backend/backend.js';
import { trainModel, type TrainResult } from '../../components/train/train.js';
import { silentLog } from '../helpers.js';
import { demoCatalogue, TINY, type DemoCatalogue } from '../model-fixture.js';

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/** A TF.js model published as `<prefix>/model.json` + `weights.bin` (train's tfjsFiles), as loadLayersModel takes it. */
async function tfjsArtifacts(published: Published, prefix: string): Promise<tf.io.ModelArtifacts> {
  const json = JSON.parse((await published.read(`${prefix}/model.json`)).toString('utf8')) as {
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const weights = await published.read(`${prefix}/weights.bin`);
  return {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: new Uint8Array(weights).buffer,
  };
}

describe('train on the demo catalogue', () => {
  let catalogue: DemoCatalogue;
  let trained: TrainResult;

  before(async () => {
    catalogue = await demoCatalogue(10);
    trained = await trainModel(catalogue.store, { snapshotId: catalogue.snapshotId, hyperparameters: TINY }, silentLog);
  });
  after(() => catalogue.remove());

  it('trains both towers: the loss falls and validation accuracy is above chance for each modality', async () => {
    const published = await openPublished(catalogue.store, trained.key);
    const curves = JSON.parse((await published.read(MODEL_FILES.curves)).toString('utf8')) as {
      trainLoss: number;
      valKnownItem?: { at1: number; at10: number };
    }[];
    assert.ok(curves.length >= 2);
    assert.ok(curves.at(-1)!.trainLoss < curves[0]!.trainLoss, `loss ${curves.map((c) => c.trainLoss.toFixed(3)).join(' → ')}`);
    // The listing-contrastive term is on by default: each epoch scores known-item retrieval on validation.
    assert.ok(
      curves.every((c) => c.valKnownItem && c.valKnownItem.at1 <= c.valKnownItem.at10),
      JSON.stringify(curves.map((c) => c.valKnownItem)),
    );
    const { accuracy } = trained.metadata.validation;
    const chance = 1 / trained.metadata.labels.length;
    assert.equal(trained.metadata.modalities.image, true);
    assert.ok(accuracy.image! > 3 * chance && accuracy.text! > 3 * chance && accuracy.combined > 3 * chance, JSON.stringify(accuracy));
    assert.match(trained.metadata.backend.name, /^(tensorflow-gpu|tensorflow|wasm|cpu)$/);
  });

  it('publishes a complete model folder whose ONNX encoders agree with TF.js', async () => {
    const published = await openPublished(catalogue.store, trained.key);
    const names = published.manifest.files.map((f) => f.name);
    for (const file of Object.values(MODEL_FILES)) assert.ok(names.includes(file), `${file} missing from ${names.join(', ')}`);
    for (const file of ['tfjs/text_tower/model.json', 'tfjs/image_tower/weights.bin', 'tfjs/head/model.json'])
      assert.ok(names.includes(file), file);
    assert.ok(trained.metadata.onnxMaxAbsDiff < 1e-4, String(trained.metadata.onnxMaxAbsDiff));
    // The text encoder holds the deep bag only; the classifier's table (buckets and sentence ids × roots
    // and sub-categories) is in its own file, which an embedding-only process never reads.
    const bytes = (name: string) => published.manifest.files.find((f) => f.name === name)!.bytes;
    const deepBag = TINY.buckets * TINY.textDim * 4;
    const wideTable = (TINY.buckets + SENTENCE_ENCODER.dim) * trained.metadata.labels.length * 4; // roots only: a lower bound
    assert.ok(
      bytes(MODEL_FILES.textEncoder) < deepBag + wideTable,
      `text_encoder.onnx ${bytes(MODEL_FILES.textEncoder)} bytes holds the classifier's table (deep bag ${deepBag}, table ≥ ${wideTable})`,
    );
    assert.ok(bytes(MODEL_FILES.textClassifier) > wideTable, `text_classifier.onnx ${bytes(MODEL_FILES.textClassifier)} bytes`);
    const profile = JSON.parse((await published.read(MODEL_FILES.profile)).toString('utf8')) as {
      embeddings: { dim: number; mean: number[] };
    };
    assert.equal(profile.embeddings.dim, TINY.embeddingDim);
    // The text features end in the sentence encoder's vector, and the wide part scores sub-categories.
    assert.deepEqual(trained.metadata.featurizer.sentence, {
      encoder: SENTENCE_ENCODER.id,
      dim: SENTENCE_ENCODER.dim,
      weight: TINY.sentenceWeight,
      maxTokens: TINY.sentenceTokens,
    });
    const textTower = JSON.parse((await published.read('tfjs/text_tower/model.json')).toString('utf8')) as { modelTopology: unknown };
    assert.match(JSON.stringify(textTower.modelTopology), /"class_name":"HierarchicalLogits"/);
    const cached: string[] = [];
    for await (const object of catalogue.store.list('cache/sentence-vectors/')) cached.push(object.key);
    assert.ok(cached.length > 0, 'training cached the sentence vectors of the catalogue texts');
  });

  it('writes the test split down, and trains on none of it', async () => {
    const published = await openPublished(catalogue.store, trained.key);
    const split = SplitFile.parse(JSON.parse((await published.read(MODEL_FILES.split)).toString('utf8')));
    assert.ok(split.test.length > 0);
    assert.ok(split.test.every((id) => splitOf(id) === 'test'));
    const dataset = await readDataset(catalogue.store, catalogue.snapshotId);
    const test = new Set(split.test);
    assert.ok([...dataset.train, ...dataset.val].every((e) => !test.has(e.id)));
  });

  it('embeds text, pictures and products with ONNX Runtime into unit vectors in one space', async () => {
    const embedder: Embedder = await openEmbedder(catalogue.store, trained.version);
    try {
      const dim = embedder.metadata.embeddingDim;
      const texts = await embedder.embedTexts([{ title: 'wooden dining table' }, { title: '' }]);
      assert.ok(Math.abs(norm(row(texts.embeddings, 0, dim)) - 1) < 1e-4);
      const size = embedder.metadata.image!.inputSize;
      const pixels = new Float32Array(size * size * 3).fill(0.5);
      const images = await embedder.embedImages([pixels]);
      assert.ok(Math.abs(norm(row(images.embeddings, 0, dim)) - 1) < 1e-4);
      // A product without pictures gets exactly its text embedding: no invented image.
      const product = await embedder.embedProducts([{ title: 'wooden dining table', pictures: [] }]);
      assert.ok(row(product.embeddings, 0, dim).every((v, d) => Math.abs(v - texts.embeddings[d]!) < 1e-5));
      // Classifying reads the sentence encoder; the embedding is the same without it.
      const classified = await embedder.classifyTexts([{ title: 'wooden dining table', text: 'solid oak, seats six' }]);
      const embedded = await embedder.embedTexts([{ title: 'wooden dining table', text: 'solid oak, seats six' }]);
      assert.equal(classified.logits.length, embedder.metadata.labels.length);
      assert.ok(classified.embeddings.every((v, d) => Math.abs(v - embedded.embeddings[d]!) < 1e-5));
    } finally {
      await embedder.close();
    }
  });

  it('serves a model published before text_classifier.onnx (logits as the text encoder’s second output) the same way', async () => {
    // The legacy text encoder is the TF.js text tower itself ([ids, weights] → [embedding, logits]), exported whole.
    const published = await openPublished(catalogue.store, trained.key);
    const tower = await tf.loadLayersModel(tf.io.fromMemory(await tfjsArtifacts(published, 'tfjs/text_tower')));
    const legacyEncoder = exportLayersModel(tower, {
      name: 'text_encoder',
      inputNames: ['ids', 'weights'],
      outputNames: ['embedding', 'logits'],
      layers: MODEL_LAYER_TRANSLATIONS,
    });
    const legacyVersion = `${trained.version}-legacy`;
    const files = await Promise.all(
      published.manifest.files
        .filter((file) => file.name !== MODEL_FILES.textClassifier)
        .map(async (file) => ({
          name: file.name,
          body: file.name === MODEL_FILES.textEncoder ? Buffer.from(legacyEncoder) : await published.read(file.name),
        })),
    );
    await publish(catalogue.store, MODEL_PREFIX(legacyVersion), files, {
      kind: 'model',
      version: legacyVersion,
      metadata: published.manifest.metadata,
    });
    const inputs = [{ title: 'wooden dining table', text: 'solid oak, seats six' }, { title: 'mountain bike' }];
    const [current, legacy] = await Promise.all([
      openEmbedder(catalogue.store, trained.version),
      openEmbedder(catalogue.store, legacyVersion),
    ]);
    try {
      const [a, b] = [await current.classifyTexts(inputs), await legacy.classifyTexts(inputs)];
      assert.ok(
        a.logits.some((v) => v !== 0),
        'the classifier gave logits',
      );
      assert.ok(
        a.logits.every((v, k) => Math.abs(v - b.logits[k]!) < 1e-4),
        `${a.logits.slice(0, 4)} vs ${b.logits.slice(0, 4)}`,
      );
      assert.ok(a.embeddings.every((v, k) => Math.abs(v - b.embeddings[k]!) < 1e-5));
      const products = await legacy.classifyProducts(inputs);
      assert.ok(
        products.logits.every((v, k) => Math.abs(v - a.logits[k]!) < 1e-4),
        'a product without pictures is classified by its text',
      );
    } finally {
      await Promise.all([current.close(), legacy.close()]);
    }
  });

  it('finds the published model instead of training it twice', async () => {
    const again = await trainModel(catalogue.store, { snapshotId: catalogue.snapshotId, hyperparameters: TINY }, silentLog);
    assert.equal(again.reused, true);
    assert.equal(again.version, trained.version);
  });

  it('resumes a crashed run from its last finished epoch', async () => {
    await initBackend(silentLog);
    const dataset = await readDataset(catalogue.store, catalogue.snapshotId);
    const featurizer = TextFeaturizer.fit(dataset.train, { ...DEFAULT_FEATURIZER, buckets: 2 ** 10 });
    const encode = (examples: typeof dataset.train) => ({
      ids: examples.map((e) => e.id),
      docs: examples.map((e) => featurizer.featurize(e)),
      images: examples.map(() => null),
      labels: Int32Array.from(examples, (e) => dataset.labels.indexOf(e.label)),
    });
    const shape = {
      buckets: 2 ** 10,
      textDim: 8,
      embeddingDim: 8,
      classes: dataset.labels.length,
      imageFeatureDim: 4,
      imageHidden: 4,
      dropout: 0,
      subcategories: null,
      sentenceDim: 0,
    };
    const options = {
      epochs: 1,
      batchSize: 16,
      learningRate: 1e-2,
      patience: 5,
      seed: 3,
      imageFeatureDim: 4,
      contrastive: 0,
      temperature: 0.1,
      modalityDropout: 0,
      listingContrastive: 0,
      listingTemperature: 0.1,
      listingHardNegatives: 0,
      listingSpanShare: 0,
    };
    const checkpoints = storeCheckpoints(catalogue.store, 'resume-test');
    const first = await trainLoop(buildTowers(shape), encode(dataset.train), encode(dataset.val), options, checkpoints, silentLog);
    assert.equal(first.resumedFrom, null);
    // "After the crash": a new process builds fresh towers and finds the checkpoint.
    const towers = buildTowers(shape);
    const resumed = await trainLoop(
      towers,
      encode(dataset.train),
      encode(dataset.val),
      { ...options, epochs: 2 },
      storeCheckpoints(catalogue.store, 'resume-test'),
      silentLog,
    );
    assert.equal(resumed.resumedFrom, 1);
    assert.equal(resumed.history.length, 2);
    assert.deepEqual(resumed.history[0], first.history[0]);
  });

  it('trains a from-scratch CNN on the pictures when there is no pretrained backbone, and exports it', async () => {
    const scratch = await trainModel(
      catalogue.store,
      { snapshotId: catalogue.snapshotId, hyperparameters: { ...TINY, imageBackbone: 'scratch', scratchEpochs: 4 } },
      silentLog,
    );
    assert.match(scratch.metadata.image?.backbone ?? '', /^scratch-[0-9a-f]{16}$/);
    assert.equal(scratch.metadata.image?.inputSize, 64);
    assert.ok(scratch.metadata.onnxMaxAbsDiff < 1e-4);
    // Its accuracy needs more pictures and epochs than a test can afford; that it learns, it must show.
    const losses = scratch.metadata.image?.pretrainingLosses ?? [];
    assert.equal(losses.length, 4);
    assert.ok(losses.at(-1)! < losses[0]!, `scratch CNN loss ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
    assert.notEqual(scratch.metadata.validation.accuracy.image, null);
    const embedder = await openEmbedder(catalogue.store, scratch.version);
    try {
      const images = await embedder.embedImages([new Float32Array(64 * 64 * 3).fill(0.2)]);
      assert.equal(images.n, 1);
    } finally {
      await embedder.close();
    }
  });
});
