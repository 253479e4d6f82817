/**
 * The examples train reads from a pinned snapshot: text and listing fields, the label, and the
 * model-ready image keys (duplicates left out: a repost's picture must not count twice). Test rows are
 * dropped here, as they are read, so no later step of training can touch them.
 */
import { type ArtifactStore, InputError } from '../core/platform/index.js';
import { categoryLabel, readSnapshotProducts, type LabelDepth } from '../core/contracts/index.js';
import { splitOf, type Split } from './split.js';

export interface Example {
  id: string;
  split: Exclude<Split, 'test'>;
  title: string;
  text: string;
  root: string;
  /** The first two levels of the category path (`root / sub`); the root alone where the path stops there. */
  subcategory: string;
  /** What the classifier predicts for it: its root or its sub-category (`Dataset.labelDepth`). */
  label: string;
  priceMinor: number;
  town: string | null;
  county: string | null;
  imageKeys: string[];
}

export interface Dataset {
  train: Example[];
  val: Example[];
  /** Ids of the held-out test products (their content is not kept). */
  testIds: string[];
  /** The classifier's labels, sorted: the label index is the position here. */
  labels: string[];
  /** Root categories (1), or sub-categories (2) where every training listing has the same root. */
  labelDepth: LabelDepth;
}

export interface DatasetOptions {
  /** Keep at most this many training examples (a deterministic sample): for quick runs. */
  sample?: number;
}

export async function readDataset(store: ArtifactStore, snapshotId: string, options: DatasetOptions = {}): Promise<Dataset> {
  const train: Example[] = [];
  const val: Example[] = [];
  const testIds: string[] = [];
  for await (const product of readSnapshotProducts(store, snapshotId)) {
    const split = splitOf(product.id);
    if (split === 'test') {
      testIds.push(product.id);
      continue;
    }
    const example: Example = {
      id: product.id,
      split,
      title: product.title,
      text: product.text,
      root: product.root,
      subcategory: categoryLabel(product.path, 2),
      label: product.root,
      priceMinor: product.priceMinor,
      town: product.town,
      county: product.county,
      imageKeys: product.images.filter((image) => image.duplicateOf === null).map((image) => image.key),
    };
    (split === 'train' ? train : val).push(example);
  }
  // Snapshot order is the catalogue's; sort by id so that a sample and the shuffles are reproducible.
  const byId = (a: Example, b: Example) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  train.sort(byId);
  val.sort(byId);
  testIds.sort();
  const sampledTrain = options.sample && options.sample < train.length ? everyNth(train, options.sample) : train;
  const sampledVal = options.sample && options.sample < train.length ? everyNth(val, Math.max(50, Math.round(options.sample / 8))) : val;
  // One root (a single-category shop, or the Fashion-MNIST catalogue): its sub-categories are the classes.
  const roots = new Set(sampledTrain.map((example) => example.root));
  const labelDepth: LabelDepth = roots.size === 1 ? 2 : 1;
  for (const example of [...sampledTrain, ...sampledVal]) example.label = labelDepth === 1 ? example.root : example.subcategory;
  const labels = [...new Set(sampledTrain.map((example) => example.label))].sort();
  if (labels.length < 2)
    throw new InputError(
      `snapshot ${snapshotId} has ${roots.size} root categories${labelDepth === 2 ? ` and ${labels.length} sub-categories` : ''} in its training split; a classifier needs at least 2 classes`,
    );
  if (sampledVal.length === 0)
    throw new InputError(
      `snapshot ${snapshotId} has no validation products (it has ${train.length} training products); it is too small to train on`,
    );
  return { train: sampledTrain, val: sampledVal, testIds, labels, labelDepth };
}

function everyNth<T>(items: readonly T[], count: number): T[] {
  if (count >= items.length) return [...items];
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]!);
}
