/**
 * Fashion-MNIST as the product reads it (Debian's `dataset-fashion-mnist`: 70,000 Zalando article
 * pictures, 28×28 grey, 10 classes, MIT licence; `/usr/share/datasets/fashion-mnist/*.gz`, IDX): its
 * files and classes, and the listing ids the pictures catalogue gives them. load writes the catalogue
 * with these ids; train and evaluate read the official splits by them.
 *
 * The official split is kept: the product splits by sha256 of the listing id (train/split.ts: bucket 9
 * of 10 is test, 8 validation), so each listing's id carries a suffix, the smallest that puts an
 * official test picture in the test bucket and an official training picture outside it. A model's
 * split.json then lists exactly the 10,000 official test pictures, and train never reads one;
 * validation is the ~11 % of the official training pictures whose id falls in bucket 8.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { InputError, readIdx } from '../platform/index.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_ROOT = 'Clothes, Footwear & Accessories';
/** The dataset's labels 0–9, in order. */
export const FASHION_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export type FashionKind = 'train' | 'test';

export const FASHION_FILES: Record<FashionKind, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
};

/**
 * The product's split bucket of an id (the rule of train/split.ts, which core cannot import;
 * test/load/fashion-mnist.test.ts checks the two agree): sha256(id) first four bytes mod 10; 9 is test, 8 validation.
 */
export function splitBucket(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % 10;
}

export function inTestBucket(id: string): boolean {
  return splitBucket(id) === 9;
}

/**
 * The listing id of picture `index` of the official `kind` split: `fm-<kind>-<index>-<salt>`, the salt
 * the smallest that puts it on the right side of the product's split.
 */
export function fashionListingId(kind: FashionKind, index: number): string {
  const base = `fm-${kind}-${String(index).padStart(5, '0')}`;
  for (let salt = 0; ; salt++) {
    const id = `${base}-${salt}`;
    if (inTestBucket(id) === (kind === 'test')) return id;
  }
}

/** The image id of a listing's one picture. */
export function fashionImageId(listingId: string): string {
  return `${listingId}-img`;
}

/** The pictures and labels of one official split, whole, as bytes (training reads them so). */
export async function readFashionMnist(
  dir: string,
  kind: FashionKind,
  limit = Infinity,
): Promise<{ pixels: Uint8Array; labels: Uint8Array; count: number; size: number }> {
  const images = await readIdx(path.join(dir, FASHION_FILES[kind].images), limit);
  const labels = await readIdx(path.join(dir, FASHION_FILES[kind].labels), limit);
  const [, height, width] = images.header.dims;
  if (images.header.dims.length !== 3 || height !== width)
    throw new InputError(`${FASHION_FILES[kind].images}: expected square pictures, got dims ${images.header.dims.join('x')}`);
  if (labels.count !== images.count) throw new InputError(`${kind}: ${images.count} pictures but ${labels.count} labels`);
  for (const label of labels.data)
    if (label >= FASHION_CLASSES.length) throw new InputError(`${FASHION_FILES[kind].labels}: label ${label} outside 0-9`);
  return { pixels: images.data, labels: labels.data, count: images.count, size: height! };
}

/**
 * The official training pictures split as the product splits their listings: indices whose id is in
 * the validation bucket (8), and the rest.
 */
export function splitFashionTrain(count: number): { train: number[]; val: number[] } {
  const train: number[] = [];
  const val: number[] = [];
  for (let index = 0; index < count; index++) (splitBucket(fashionListingId('train', index)) === 8 ? val : train).push(index);
  return { train, val };
}
