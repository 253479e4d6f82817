/**
 * Fashion-MNIST as a pictures catalogue (issue #23), on a small slice of the real dataset (Debian's
 * dataset-fashion-mnist; test/run.sh installs it): the IDX reader (also on hand-made files, for its
 * refusals), listing ids that keep the official test split as the product's test split, and the
 * catalogue writer (neutral titles, class as category, lossless PNGs, reproducible).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import {
  FASHION_CLASSES,
  FASHION_MNIST_DIR,
  FASHION_ROOT,
  fashionImageId,
  fashionListingId,
  readFashionMnist,
  splitBucket,
  splitFashionTrain,
} from '../../components/core/contracts/index.js';
import { idxRecords, readIdx } from '../../components/core/platform/index.js';
import { fashionExportFolder, writeFashionCatalogue } from '../../components/load/fashion-mnist.js';
import { folderImages } from '../../components/load/image-files.js';
import { splitOf } from '../../components/train/split.js';
import { collect, tempDir } from '../helpers.js';

const DATA = process.env['FASHION_MNIST_DIR'] ?? FASHION_MNIST_DIR;

function idx(dims: number[], items: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, k) => header.writeUInt32BE(d, 4 + 4 * k));
  return Buffer.concat([header, Buffer.from(items)]);
}

describe('IDX reader', () => {
  it('reads items of a plain and a gzipped file, and refuses a bad magic, a truncated file and trailing data', async () => {
    const tmp = await tempDir();
    try {
      const bytes = idx([3, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      await writeFile(path.join(tmp.dir, 'a.idx'), bytes);
      await writeFile(path.join(tmp.dir, 'a.idx.gz'), gzipSync(bytes));
      for (const name of ['a.idx', 'a.idx.gz']) {
        const all = await readIdx(path.join(tmp.dir, name));
        assert.deepEqual(all.header.dims, [3, 2, 2]);
        assert.equal(all.count, 3);
        assert.deepEqual([...all.data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      }
      const items = (await collect(idxRecords(path.join(tmp.dir, 'a.idx.gz')))).slice(1) as Buffer[];
      assert.deepEqual(
        items.map((b) => [...b]),
        [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
          [9, 10, 11, 12],
        ],
      );
      const limited = await readIdx(path.join(tmp.dir, 'a.idx'), 2);
      assert.equal(limited.count, 2);
      assert.deepEqual([...limited.data], [1, 2, 3, 4, 5, 6, 7, 8]);

      await writeFile(path.join(tmp.dir, 'short.idx'), bytes.subarray(0, bytes.length - 1));
      await assert.rejects(readIdx(path.join(tmp.dir, 'short.idx')), /truncated: 2 of 3 items/);
      await writeFile(path.join(tmp.dir, 'long.idx'), Buffer.concat([bytes, Buffer.from([1, 2, 3, 4])]));
      await assert.rejects(readIdx(path.join(tmp.dir, 'long.idx')), /more data than the 3 items/);
      const badMagic = Buffer.from(bytes);
      badMagic[0] = 0x1f;
      await writeFile(path.join(tmp.dir, 'bad.idx'), badMagic);
      await assert.rejects(readIdx(path.join(tmp.dir, 'bad.idx')), /not an IDX file/);
      const floats = Buffer.from(bytes);
      floats[2] = 0x0d;
      await writeFile(path.join(tmp.dir, 'float.idx'), floats);
      await assert.rejects(readIdx(path.join(tmp.dir, 'float.idx')), /is not unsigned byte/);
      await assert.rejects(readIdx(path.join(tmp.dir, 'absent.idx')), /not found/);
    } finally {
      await tmp.remove();
    }
  });
});

describe('Fashion-MNIST listing ids', () => {
  it('agree with the product split: official test pictures land in its test bucket, training pictures never do', () => {
    for (let i = 0; i < 400; i++) {
      assert.equal(splitOf(fashionListingId('test', i)), 'test');
      assert.notEqual(splitOf(fashionListingId('train', i)), 'test');
      assert.equal(fashionListingId('train', i), fashionListingId('train', i), 'ids are a function of the picture');
    }
    for (const id of ['a', 'b', 'fm-train-00001-0', 'listing 42']) assert.equal(splitBucket(id) === 9, splitOf(id) === 'test');
    const { train, val } = splitFashionTrain(3000);
    assert.equal(train.length + val.length, 3000);
    for (const i of val) assert.equal(splitOf(fashionListingId('train', i)), 'val');
    for (const i of train.slice(0, 200)) assert.equal(splitOf(fashionListingId('train', i)), 'train');
    // bucket 8 of the nine non-test buckets: about 1/9 of the training pictures
    assert.ok(val.length > 240 && val.length < 430, `validation share ${val.length}/3000`);
  });
});

describe('Fashion-MNIST catalogue (a slice of the real pictures)', () => {
  it('needs the dataset', () => {
    assert.ok(
      existsSync(path.join(DATA, 'train-images-idx3-ubyte.gz')),
      `${DATA}: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)`,
    );
  });

  it('reads the official splits: 28x28 pictures, labels 0-9', async () => {
    const train = await readFashionMnist(DATA, 'train', 300);
    const test = await readFashionMnist(DATA, 'test', 100);
    assert.equal(train.size, 28);
    assert.equal(train.count, 300);
    assert.equal(train.pixels.length, 300 * 28 * 28);
    assert.equal(test.count, 100);
    assert.ok(new Set(train.labels).size === 10, 'all ten classes among the first 300 training pictures');
    // the first training picture of the dataset is an ankle boot (label 9), the first test picture too
    assert.equal(train.labels[0], 9);
    assert.equal(test.labels[0], 9);
  });

  it('writes one listing per picture: neutral text, the class as category, the picture as a lossless PNG; reproducibly', async () => {
    const a = await tempDir();
    const b = await tempDir();
    try {
      const summary = await writeFashionCatalogue(DATA, a.dir, { limitTrain: 200, limitTest: 100 });
      assert.deepEqual([summary.products, summary.train, summary.test], [300, 200, 100]);
      const products = parse(await readFile(path.join(a.dir, 'Products.csv')), { columns: true }) as Record<string, string>[];
      const images = parse(await readFile(path.join(a.dir, 'Images.csv')), { columns: true }) as Record<string, string>[];
      assert.equal(products.length, 300);
      assert.equal(images.length, 300);
      const train = await readFashionMnist(DATA, 'train', 200);
      const test = await readFashionMnist(DATA, 'test', 100);
      const classWords = /t-shirt|\btop\b|trouser|pullover|dress|coat|sandal|shirt|sneaker|\bbag\b|boot/i;
      for (const [k, product] of products.entries()) {
        const kind = k < 200 ? 'train' : 'test';
        const index = k < 200 ? k : k - 200;
        const set = kind === 'train' ? train : test;
        assert.equal(product['id'], fashionListingId(kind, index));
        assert.equal(product['category'], `${FASHION_ROOT} / ${FASHION_CLASSES[set.labels[index]!]}`);
        assert.doesNotMatch(`${product['product_name']} ${product['product_description']}`, classWords, 'the text must not name the class');
        const price = Number(product['price']!.replace('£', ''));
        assert.ok(price >= 3 && price <= 80, product['price']);
        assert.match(product['location']!, /^[A-Z][a-z]+, /);
        assert.equal(images[k]!['product_id'], product['id']);
        assert.equal(images[k]!['id'], fashionImageId(product['id']!));
        assert.equal(splitOf(product['id']!) === 'test', kind === 'test');
      }
      const files = await readdir(path.join(a.dir, 'images'));
      assert.equal(files.length, 300);
      for (const k of [0, 57, 199, 200, 299]) {
        const file = path.join(a.dir, 'images', `${images[k]!['id']}.png`);
        const meta = await sharp(file).metadata();
        assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 28, 28, 1]);
        const { data } = await sharp(file).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
        const set = k < 200 ? train : test;
        const index = k < 200 ? k : k - 200;
        assert.deepEqual([...data], [...set.pixels.subarray(index * 784, (index + 1) * 784)], `picture ${k} is the dataset's bytes`);
      }
      await writeFashionCatalogue(DATA, b.dir, { limitTrain: 200, limitTest: 100 });
      assert.deepEqual(await readFile(path.join(b.dir, 'Products.csv')), await readFile(path.join(a.dir, 'Products.csv')));
      assert.deepEqual(
        await readFile(path.join(b.dir, 'images', `${images[3]!['id']}.png`)),
        await readFile(path.join(a.dir, 'images', `${images[3]!['id']}.png`)),
      );
    } finally {
      await a.remove();
      await b.remove();
    }
  });

  it('is written once as an export folder data:load reads (PNG pictures included), then reused', async () => {
    const home = await tempDir();
    try {
      const first = await fashionExportFolder(DATA, home.dir, { limitTrain: 30, limitTest: 20 });
      assert.equal(first.reused, false);
      assert.deepEqual([first.summary.train, first.summary.test], [30, 20]);
      const files = await folderImages(path.join(first.dir, 'images'));
      assert.equal(files.files.size, 50, 'every PNG is an image file of the export');
      assert.ok(files.files.has(fashionImageId(fashionListingId('test', 19))));
      const again = await fashionExportFolder(DATA, home.dir, { limitTrain: 30, limitTest: 20 });
      assert.equal(again.reused, true);
      assert.equal(again.dir, first.dir);
      assert.deepEqual((await readdir(path.dirname(first.dir))).sort(), ['fashion-mnist-30-20'], 'no partial folder left beside it');
    } finally {
      await home.remove();
    }
  });
});
