/**
 * The listing-contrastive term (losses.ts, batches.ts) on a small synthetic catalogue: listings whose
 * titles name an item and a town, many of each per sub-category, so that the category alone cannot
 * tell one listing from its neighbours. With the term, a listing's title (featurised as the search
 * service featurises a query) finds that listing; without it, the embedding holds categories.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../components/core/platform/index.js';
import { DEFAULT_FEATURIZER, TextFeaturizer } from '../../components/core/ml/index.js';
import { makeBatch, SAME_LISTING, type Encoded } from '../../components/train/batches.js';
import type { Example } from '../../components/train/dataset.js';
import { embedDocs, knownItemRecall, trainLoop, type LoopOptions } from '../../components/train/loop.js';
import { listingInfoNce } from '../../components/train/losses.js';
import { buildTowers, type ModelShape } from '../../components/train/model/multimodal.js';
import { initBackend } from '../../components/train/tfjs-backend/backend.js';
import { listingViews } from '../../components/train/encode.js';
import { DEFAULTS } from '../../components/train/hyperparameters.js';
import { modelVersion } from '../../components/train/train.js';
import { silentLog } from '../helpers.js';

const CATEGORIES: Record<string, Record<string, string[]>> = {
  Furniture: {
    Tables: ['oak table', 'glass table', 'pine desk', 'coffee table'],
    Seating: ['corner sofa', 'armchair', 'recliner', 'bar stool'],
  },
  Bikes: { Road: ['road bike', 'racing bike', 'carbon frame', 'gravel bike'], Kids: ['balance bike', 'kids scooter', 'trike', 'bmx'] },
  Phones: { Handsets: ['iphone', 'galaxy', 'pixel', 'nokia'], Accessories: ['phone case', 'charger', 'earbuds', 'screen protector'] },
};
const TOWNS = ['leeds', 'york', 'bristol', 'camden', 'norwich', 'cardiff', 'brighton', 'glasgow', 'derby', 'bath'];
const MAKES = ['ikea', 'habitat', 'dunelm', 'argos', 'john lewis', 'next'];
const CONDITIONS = ['like new', 'some wear', 'boxed', 'fully working', 'needs a clean'];

/** Listings with unique titles (item, make, town), a description that repeats them in other words. */
function catalogue(count: number, seed: number): Example[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const seen = new Set<string>();
  const out: Example[] = [];
  while (out.length < count) {
    const root = pick(Object.keys(CATEGORIES));
    const sub = pick(Object.keys(CATEGORIES[root]!));
    const item = pick(CATEGORIES[root]![sub]!);
    const [make, town] = [pick(MAKES), pick(TOWNS)];
    const title = `${make} ${item} ${town}`;
    if (seen.has(title)) continue;
    seen.add(title);
    const k = out.length;
    out.push({
      id: `p${k}`,
      split: 'train',
      title,
      text: `${item} by ${make}, ${pick(CONDITIONS)}. Collection from ${town}.`,
      root,
      subcategory: `${root} / ${sub}`,
      label: root,
      priceMinor: 100 * (1 + Math.floor(random() * 300)),
      town,
      county: null,
      imageKeys: [],
    });
  }
  return out;
}

describe('the listing-contrastive term', () => {
  const labels = Object.keys(CATEGORIES).sort();
  let train: Encoded;
  let val: Encoded;
  const shape: ModelShape = {
    buckets: 2 ** 12,
    sentenceDim: 0,
    textDim: 16,
    embeddingDim: 32,
    classes: labels.length,
    imageFeatureDim: 4,
    imageHidden: 4,
    dropout: 0.1,
    subcategories: null,
  };
  const options: LoopOptions = {
    epochs: 12,
    batchSize: 32,
    learningRate: 1e-2,
    patience: 12,
    seed: 5,
    imageFeatureDim: 4,
    contrastive: 0,
    temperature: 0.1,
    modalityDropout: 0,
    listingContrastive: 1,
    listingTemperature: 0.05,
    listingHardNegatives: 1,
    listingSpanShare: 0,
  };

  before(async () => {
    await initBackend(silentLog);
    const examples = catalogue(360, 1);
    const featurizer = TextFeaturizer.fit(examples, { ...DEFAULT_FEATURIZER, buckets: shape.buckets });
    const encode = (part: Example[]): Encoded => ({
      ids: part.map((e) => e.id),
      docs: part.map((e) => featurizer.featurize(e)),
      images: part.map(() => null),
      labels: Int32Array.from(part, (e) => labels.indexOf(e.label)),
      listing: listingViews(part, featurizer),
    });
    train = encode(examples.slice(0, 300));
    val = encode(examples.slice(300));
  });

  it('batches a title query per listing, hard negatives from its own sub-category outside the batch, and masks reposts', () => {
    // Make row 1 a repost of row 0 (the same title): neither may count as the other's negative.
    const views = { ...train.listing!, titleKeys: [...train.listing!.titleKeys] };
    views.titleKeys[1] = views.titleKeys[0]!;
    const data = { ...train, listing: views };
    const rows = [0, 1, 2, 3, 4, 5, 6, 7];
    const batch = makeBatch(data, rows, 4, { hardNegatives: 2, spanShare: 0, random: seededRandom(3) });
    try {
      const listing = batch.listing!;
      assert.equal(listing.n, rows.length);
      assert.deepEqual(Array.from(listing.rows.dataSync()), rows);
      // The query of row k is its title alone, featurised as a search query.
      const firstQuery = Array.from(listing.queryIds.slice([0, 0], [1, -1]).dataSync()).filter((id) => id !== 0);
      assert.deepEqual(firstQuery, Array.from(views.titles[0]!.ids));
      const negatives = listing.negativeIds!.shape[0];
      assert.ok(negatives > rows.length, `${negatives} hard negatives for ${rows.length} rows`);
      const mask = listing.mask.arraySync();
      assert.equal(mask[0]![1], SAME_LISTING);
      assert.equal(mask[1]![0], SAME_LISTING);
      assert.equal(mask[0]![0], 0);
      assert.equal(mask[2]![3], 0);
      // Each hard negative's features are those of a listing of the anchor's sub-category, not in the batch.
      const negativeIds = listing.negativeIds!.arraySync();
      const docKey = (ids: ArrayLike<number>) =>
        Array.from(ids)
          .filter((id) => id !== 0)
          .join(',');
      const rowOf = new Map(train.docs.map((doc, row) => [docKey(doc.ids), row]));
      const drawn = negativeIds.map((ids) => rowOf.get(docKey(ids))!);
      assert.ok(
        drawn.every((row) => row !== undefined && !rows.includes(row)),
        String(drawn),
      );
      const groupsOfBatch = new Set(rows.map((row) => views.groups[row]));
      assert.ok(drawn.every((row) => groupsOfBatch.has(views.groups[row])));
    } finally {
      batch.dispose();
    }
  });

  it('a span view replaces some titles with a few of the listing’s words', () => {
    const batch = makeBatch(
      train,
      Array.from({ length: 32 }, (_, k) => k),
      4,
      { hardNegatives: 0, spanShare: 1, random: seededRandom(9) },
    );
    try {
      const listing = batch.listing!;
      assert.equal(listing.negativeIds, null);
      const queries = listing.queryIds.arraySync();
      const differs = queries.filter(
        (ids, k) =>
          Array.from(ids)
            .filter((id) => id !== 0)
            .join(',') !== Array.from(train.listing!.titles[k]!.ids).join(','),
      );
      assert.ok(differs.length > 16, `${differs.length} of 32 queries are spans`);
    } finally {
      batch.dispose();
    }
  });

  it('is a symmetric InfoNCE: low when each query is its own listing, high when the queries are shuffled', () => {
    const towers = buildTowers(shape);
    const batch = makeBatch(train, [0, 1, 2, 3, 4, 5], 4, { hardNegatives: 0, spanShare: 0, random: seededRandom(1) });
    try {
      const [own, shuffled] = tf.tidy(() => {
        const queries = towers.textEmbedding.apply([batch.listing!.queryIds, batch.listing!.queryWeights]) as tf.Tensor2D;
        // Stand-in listing embeddings: the queries themselves (perfect) and the queries rolled by one (all wrong).
        const rolled = tf.concat([tf.slice(queries, [1, 0], [-1, -1]), tf.slice(queries, [0, 0], [1, -1])]);
        return [
          listingInfoNce(towers, queries, batch.listing!, 0.05, false).dataSync()[0]!,
          listingInfoNce(towers, rolled, batch.listing!, 0.05, false).dataSync()[0]!,
        ];
      });
      assert.ok(own! < shuffled!, `own ${own} vs shuffled ${shuffled}`);
    } finally {
      batch.dispose();
      tf.dispose(towers.text.weights.map((w) => w.read()));
    }
  });

  it("makes a listing's title find that listing, which the category head alone does not", async () => {
    const recall = async (listingContrastive: number) => {
      const towers = buildTowers(shape);
      const checkpoints = { load: async () => null, save: async () => {}, clear: async () => {} };
      await trainLoop(towers, train, val, { ...options, listingContrastive }, checkpoints, silentLog);
      // Both within the held-out listings and over the training ones (what the index holds).
      const result = { val: knownItemRecall(towers, val, 64)!, train: knownItemRecall(towers, train, 64)! };
      const unit = embedDocs(towers, val.listing!.titles.slice(0, 1), 8);
      assert.ok(Math.abs(Math.hypot(...unit) - 1) < 1e-4);
      return result;
    };
    const off = await recall(0);
    const on = await recall(1);
    // Without the term, recall@1 swung from about 0.5 to 0.78 between runs (the wasm backend's kernels
    // do not sum in a fixed order); with it, it is near 1. So: near 1 with it, and well above without.
    assert.ok(
      on.val.at1 >= 0.9 && on.val.at1 >= off.val.at1 + 0.15,
      `validation recall@1 with the term ${on.val.at1.toFixed(3)}, without ${off.val.at1.toFixed(3)}`,
    );
    assert.ok(
      on.train.at1 >= 0.9 && on.train.at1 >= off.train.at1 + 0.15,
      `training recall@1 with the term ${on.train.at1.toFixed(3)}, without ${off.train.at1.toFixed(3)}`,
    );
    // (Measured: without the term 0.50 / 0.34 at 1 over the training listings, and between 0.67 and 0.83
    // at 10 from run to run (the backend's reduction order); with it 1.0 throughout. The margin is
    // asserted at 1, where it is wide; at 10 only that the term does not lose and nearly every title finds its listing.)
    assert.ok(
      on.train.at10 >= off.train.at10 && on.train.at10 > 0.9,
      `training recall@10 with the term ${on.train.at10.toFixed(3)}, without ${off.train.at10.toFixed(3)}`,
    );
  });
});

describe('the listing-contrastive options', () => {
  it('are part of the model version, so a change retrains', () => {
    const base = modelVersion('snap-x', DEFAULTS);
    for (const change of [{ listingContrastive: 0 }, { listingTemperature: 0.1 }, { listingHardNegatives: 3 }, { listingSpanShare: 0.2 }]) {
      assert.notEqual(modelVersion('snap-x', { ...DEFAULTS, ...change }), base, JSON.stringify(change));
    }
  });

  it('are on by default, with the title as the query view', () => {
    assert.ok(DEFAULTS.listingContrastive > 0 && DEFAULTS.listingTemperature > 0 && DEFAULTS.listingHardNegatives >= 1);
  });
});
