/**
 * A pictures catalogue from Fashion-MNIST (Debian's `dataset-fashion-mnist`: 70,000 Zalando article
 * pictures, 28×28 grey, 10 classes, MIT licence; `/usr/share/datasets/fashion-mnist/*.gz`, IDX format),
 * written in the export layout the rest of the product reads: `Products.csv`, `Images.csv` and one PNG
 * per listing in `images/` (lossless: the pictures' own bytes, at their own size).
 *
 * - Titles and descriptions are neutral and the same for every class ("Pre-loved item 00042"), price and
 *   town are drawn from one distribution for all classes, reproducibly (seeded by the picture's number):
 *   nothing but the picture tells the class, so what the product learns and finds here is the pictures.
 * - Category: `Clothes, Footwear & Accessories / <class>` (a class name keeps its own slash:
 *   'T-shirt/top'; category paths split on ' / ' first).
 * - The official split is kept: the product splits by sha256 of the listing id (train/split.ts: 9 of 10
 *   buckets train or validation, 1 test), so each listing's id carries a suffix, the smallest that puts
 *   an official test picture in the test bucket and an official training picture outside it. The
 *   model's split.json then lists exactly the 10,000 official test pictures, and train never reads one;
 *   validation is the ~11 % of the official training pictures whose id falls in bucket 8.
 * - Streams: pictures are read from the gzipped IDX one at a time and written as they come (a few PNG
 *   encodes in flight), so 70,000 pictures never sit in memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import sharp from 'sharp';
import { idxRecords, InputError, seededRandom, type IdxHeader } from '../core/platform/index.js';
import {
  FASHION_CLASSES,
  FASHION_FILES,
  FASHION_MNIST_DIR,
  FASHION_ROOT,
  fashionImageId,
  fashionListingId,
  type FashionKind,
} from '../core/contracts/index.js';
import { PLACES } from './places.js';

export interface FashionCatalogueOptions {
  /** Keep at most this many pictures of each split (the first ones): for tests and quick runs. */
  limitTrain?: number;
  limitTest?: number;
  seed?: number;
  /** Called every 1,000 pictures. */
  onProgress?: (written: number) => void;
}

export interface FashionCatalogueSummary {
  products: number;
  images: number;
  train: number;
  test: number;
  perClass: Record<string, number>;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function* pairs(
  dir: string,
  kind: FashionKind,
  limit: number,
): AsyncGenerator<{ index: number; pixels: Buffer; label: number; size: number }> {
  const images = idxRecords(path.join(dir, FASHION_FILES[kind].images));
  const labels = idxRecords(path.join(dir, FASHION_FILES[kind].labels));
  const imageHeader = (await images.next()).value as IdxHeader | undefined;
  const labelHeader = (await labels.next()).value as IdxHeader | undefined;
  if (!imageHeader || !labelHeader) throw new InputError(`${dir}: empty ${kind} files`);
  const [count, height, width] = imageHeader.dims;
  if (imageHeader.dims.length !== 3 || height !== width)
    throw new InputError(`${FASHION_FILES[kind].images}: expected square pictures, got dims ${imageHeader.dims.join('x')}`);
  if (labelHeader.dims[0] !== count) throw new InputError(`${kind}: ${count} pictures but ${labelHeader.dims[0]} labels`);
  for (let index = 0; index < Math.min(count!, limit); index++) {
    const pixels = (await images.next()).value as Buffer;
    const label = ((await labels.next()).value as Buffer)[0]!;
    if (label >= FASHION_CLASSES.length) throw new InputError(`${FASHION_FILES[kind].labels}: label ${label} at ${index} outside 0-9`);
    yield { index, pixels, label, size: height! };
  }
  await images.return(undefined);
  await labels.return(undefined);
}

/** Writes the catalogue into `outDir`; returns the counts. */
export async function writeFashionCatalogue(
  dir: string,
  outDir: string,
  options: FashionCatalogueOptions = {},
): Promise<FashionCatalogueSummary> {
  const seed = options.seed ?? 2017;
  await mkdir(path.join(outDir, 'images'), { recursive: true });
  const products = createWriteStream(path.join(outDir, 'Products.csv'));
  const images = createWriteStream(path.join(outDir, 'Images.csv'));
  await write(
    products,
    stringify([['', 'id', 'product_name', 'category', 'product_description', 'price', 'location']], { record_delimiter: '\n' }),
  );
  await write(images, stringify([['', 'id', 'product_id', 'bucket_link', 'image_ref', 'create_time']], { record_delimiter: '\n' }));
  const perClass: Record<string, number> = Object.fromEntries(FASHION_CLASSES.map((name) => [name, 0]));
  const counts = { train: 0, test: 0 };
  let row = 0;
  const inFlight = new Set<Promise<void>>();
  for (const kind of ['train', 'test'] as const) {
    const limit = (kind === 'train' ? options.limitTrain : options.limitTest) ?? Infinity;
    for await (const picture of pairs(dir, kind, limit)) {
      const id = fashionListingId(kind, picture.index);
      const imageId = fashionImageId(id);
      const next = seededRandom(seed * 1_000_003 + (kind === 'test' ? 100_000 : 0) + picture.index);
      const pounds = Math.round(3 * Math.exp(next() * Math.log(80 / 3)) * 100) / 100;
      const place = PLACES[Math.floor(next() * PLACES.length)]!;
      const number = `${kind === 'test' ? 'T' : 'R'}${String(picture.index).padStart(5, '0')}`;
      const className = FASHION_CLASSES[picture.label]!;
      await write(
        products,
        stringify(
          [
            [
              String(row),
              id,
              `Pre-loved item ${number} | in ${place} | Gumtree`,
              `${FASHION_ROOT} / ${className}`,
              `Pre-loved item ${number}, see the picture. Collection from ${place.split(', ')[0]}. (Picture from Fashion-MNIST, Zalando, MIT licence.)`,
              `£${pounds.toFixed(2)}`,
              place,
            ],
          ],
          { record_delimiter: '\n' },
        ),
      );
      await write(images, stringify([[String(row), imageId, id, '', '', '2017-08-25']], { record_delimiter: '\n' }));
      const encode = sharp(picture.pixels, { raw: { width: picture.size, height: picture.size, channels: 1 } })
        .toColourspace('b-w') // a grey PNG, one channel: the picture's own bytes
        .png()
        .toBuffer()
        .then((png) => writeFile(path.join(outDir, 'images', `${imageId}.png`), png));
      const tracked: Promise<void> = encode.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= 16) await Promise.race(inFlight);
      perClass[className] = (perClass[className] ?? 0) + 1;
      counts[kind]++;
      row++;
      if (row % 1000 === 0) options.onProgress?.(row);
    }
  }
  await Promise.all(inFlight);
  products.end();
  images.end();
  await Promise.all([once(products, 'finish'), once(images, 'finish')]);
  await writeFile(
    path.join(outDir, 'README.txt'),
    'A pictures catalogue made from Fashion-MNIST (Zalando Research, MIT licence; Debian package dataset-fashion-mnist) by marketplace-ranking (components/load/fashion-mnist.ts). ' +
      "Titles, descriptions, prices and towns are generated and say nothing of the class; the category is the picture's class. Listing ids fm-test-* are the official test split.\n",
  );
  return { products: row, images: row, train: counts.train, test: counts.test, perClass };
}

/**
 * The catalogue as an export folder under `home` (`<home>/exports/fashion-mnist[-<limit>]/`), written
 * once: a folder whose `complete.json` matches is reused, a new one is written beside it and renamed
 * into place, so a killed conversion never leaves a half folder that looks whole.
 */
export async function fashionExportFolder(
  dataDir: string,
  home: string,
  options: Pick<FashionCatalogueOptions, 'limitTrain' | 'limitTest' | 'onProgress'> = {},
): Promise<{ dir: string; summary: FashionCatalogueSummary; reused: boolean }> {
  const limits = options.limitTrain || options.limitTest ? `-${options.limitTrain ?? 'all'}-${options.limitTest ?? 'all'}` : '';
  const dir = path.join(home, 'exports', `fashion-mnist${limits}`);
  const marker = path.join(dir, 'complete.json');
  try {
    const summary = JSON.parse(await readFile(marker, 'utf8')) as FashionCatalogueSummary;
    return { dir, summary, reused: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  const summary = await writeFashionCatalogue(dataDir, partial, options);
  await writeFile(path.join(partial, 'complete.json'), JSON.stringify(summary));
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return { dir, summary, reused: false };
}

/**
 * `--fashion-mnist [idx-dir]` of data:load and start: the catalogue's export folder, written on first
 * use (`limit`: the first n pictures of each official split), reported on stderr.
 */
export async function fashionSource(option: string | true, limit: number | undefined, home: string): Promise<string> {
  const idxDir = typeof option === 'string' ? option : FASHION_MNIST_DIR;
  const prepared = await fashionExportFolder(idxDir, home, {
    limitTrain: limit,
    limitTest: limit,
    onProgress: (rows) => {
      if (rows % 10_000 === 0) process.stderr.write(`fashion-mnist: ${rows} pictures converted\n`);
    },
  });
  process.stderr.write(
    `fashion-mnist: ${prepared.reused ? 'reusing' : 'wrote'} ${prepared.dir} (${prepared.summary.train} training + ${prepared.summary.test} test pictures)\n`,
  );
  return prepared.dir;
}
