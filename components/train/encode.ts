/**
 * Train's first stage: the snapshot's examples as the model reads them. The featuriser is fitted on
 * the training split, picture features come from the chosen backbone (pretrained, or the scratch CNN
 * trained here first), and each split is encoded: sparse text features, picture features, labels and
 * the listing-contrastive term's query views.
 */
import { Progress, type ArtifactStore, type Logger } from '../core/platform/index.js';
import { featurizeAll, TextFeaturizer } from '../core/ml/index.js';
import { BACKBONE_FEATURE_DIM, BACKBONE_INPUT_SIZE, loadMobileNetBackbone } from './backbone.js';
import type { Encoded, ListingViews } from './batches.js';
import { readDataset, type Dataset, type Example } from './dataset.js';
import { featurizerConfigOf, type Hyperparameters } from './hyperparameters.js';
import { imageFeatures, productFeature, type FeatureExtractor } from './image-features.js';
import { pictureSide, pretrainScratchBackbone, SCRATCH_DEFAULTS } from './scratch-backbone.js';

/** Words kept per listing for span views. */
const SPAN_SOURCE_WORDS = 200;

/**
 * The listing-contrastive term's views of examples: each title featurised as the search service
 * featurises a query (`{ title }`, hashed features only), and the sub-category as the hard-negative pool.
 */
export function listingViews(examples: readonly Example[], featurizer: TextFeaturizer): ListingViews {
  const groups = new Map<string, number>();
  const featurizeQuery = (text: string) => featurizer.featurize({ title: text });
  return {
    titles: examples.map((e) => featurizeQuery(e.title)),
    titleKeys: examples.map((e) => e.title.toLowerCase().split(/\s+/).filter(Boolean).join(' ')),
    words: examples.map((e) => `${e.title} ${e.text}`.split(/\s+/).filter(Boolean).slice(0, SPAN_SOURCE_WORDS)),
    groups: Int32Array.from(examples, (e) => {
      if (!groups.has(e.subcategory)) groups.set(e.subcategory, groups.size);
      return groups.get(e.subcategory)!;
    }),
    featurizeQuery,
  };
}

async function encode(
  store: ArtifactStore,
  examples: readonly Example[],
  featurizer: TextFeaturizer,
  labels: readonly string[],
  images: ReadonlyMap<string, Float32Array>,
  featureDim: number,
  withListingViews: boolean,
  log: Logger,
): Promise<Encoded> {
  const progress = featurizer.config.sentence
    ? new Progress(log, `text features with ${featurizer.config.sentence.encoder}`, examples.length)
    : undefined;
  return {
    ids: examples.map((e) => e.id),
    docs: await featurizeAll(featurizer, examples, { store, progress }),
    images: examples.map((e) => productFeature(e.imageKeys, images, featureDim)),
    labels: Int32Array.from(examples, (e) => labels.indexOf(e.label)),
    ...(withListingViews ? { listing: listingViews(examples, featurizer) } : {}),
  };
}

/**
 * The sub-categories of the training examples, sorted, grouped under their roots (the wide part's
 * HierarchicalLogits takes the groups), and each example's sub-category index.
 */
export function subcategoriesOf(
  examples: readonly Example[],
  labels: readonly string[],
): { names: string[]; groups: number[][]; of: Int32Array } {
  const names = [...new Set(examples.map((e) => e.subcategory))].sort();
  const rootOf = new Map(examples.map((e) => [e.subcategory, e.root]));
  const groups = labels.map((label) => names.flatMap((name, index) => (rootOf.get(name) === label ? [index] : [])));
  return { names, groups, of: Int32Array.from(examples, (e) => names.indexOf(e.subcategory)) };
}

/** What the later stages need of the data. */
export interface PreparedData {
  dataset: Dataset;
  featurizer: TextFeaturizer;
  /** The picture backbone, or null when training on text alone. */
  extractor: FeatureExtractor | null;
  /** The scratch CNN's own training losses (with imageBackbone `scratch`). */
  pretrainingLosses?: number[];
  featureDim: number;
  train: Encoded;
  val: Encoded;
  withImages: boolean;
  subcategories: ReturnType<typeof subcategoriesOf> | null;
}

export async function prepareData(store: ArtifactStore, snapshotId: string, hp: Hyperparameters, log: Logger): Promise<PreparedData> {
  const dataset = await readDataset(store, snapshotId, { sample: hp.sample });
  log.info(
    {
      snapshot: snapshotId,
      train: dataset.train.length,
      validation: dataset.val.length,
      test: dataset.testIds.length,
      labels: dataset.labels.length,
    },
    'dataset',
  );
  const featurizer = TextFeaturizer.fit(dataset.train, featurizerConfigOf(hp));

  const imageKeys = [...dataset.train, ...dataset.val].flatMap((e) => e.imageKeys);
  let extractor: FeatureExtractor | null = null;
  let pretrainingLosses: number[] | undefined;
  let features = new Map<string, Float32Array>();
  // The pictures' side (from the first of them) decides `auto`, and is what the picture CNN reads.
  const side =
    imageKeys.length > 0 && (hp.imageBackbone === 'auto' || hp.imageBackbone === 'scratch')
      ? await pictureSide(store, imageKeys, SCRATCH_DEFAULTS.maxInputSize)
      : null;
  const backbone =
    hp.imageBackbone === 'auto' && side !== null ? (side < SCRATCH_DEFAULTS.maxInputSize ? 'scratch' : 'mobilenet_v2') : hp.imageBackbone;
  if (hp.imageBackbone === 'auto' && side !== null)
    log.info(
      { backbone, side },
      backbone === 'scratch' ? 'pictures are thumbnails: the picture CNN reads them at their own size' : 'image backbone',
    );
  if (backbone !== 'none' && imageKeys.length > 0) {
    if (backbone === 'scratch') {
      const scratch = await pretrainScratchBackbone(
        store,
        dataset,
        side ?? SCRATCH_DEFAULTS.maxInputSize,
        { ...SCRATCH_DEFAULTS, epochs: hp.scratchEpochs, seed: hp.seed },
        log,
      );
      extractor = scratch.extractor;
      pretrainingLosses = scratch.losses;
    } else {
      extractor = {
        id: backbone,
        model: await loadMobileNetBackbone(),
        inputSize: BACKBONE_INPUT_SIZE,
        featureDim: BACKBONE_FEATURE_DIM,
      };
    }
    features = await imageFeatures(store, extractor, imageKeys, log);
  }
  const featureDim = extractor?.featureDim ?? BACKBONE_FEATURE_DIM;
  const withListingViews = hp.listingContrastive > 0;
  const train = await encode(store, dataset.train, featurizer, dataset.labels, features, featureDim, withListingViews, log);
  const val = await encode(store, dataset.val, featurizer, dataset.labels, features, featureDim, withListingViews, log);
  const withImages = train.images.some((f) => f !== null);
  if (!withImages)
    log.info(
      imageKeys.length === 0
        ? 'no product has a picture: training on text and listing fields only'
        : 'no usable picture features: training on text only',
    );
  // Sub-category scores feed the root logits; where the labels are the sub-categories there is nothing to add.
  const subcategories = hp.subcategoryWeight > 0 && dataset.labelDepth === 1 ? subcategoriesOf(dataset.train, dataset.labels) : null;
  return {
    dataset,
    featurizer,
    extractor,
    ...(pretrainingLosses ? { pretrainingLosses } : {}),
    featureDim,
    train,
    val,
    withImages,
    subcategories,
  };
}
