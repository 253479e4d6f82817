/**
 * Clean's model-ready copy of a picture: a photo larger than the square is letterboxed into it as a
 * JPEG; a picture that fits keeps its own side and every pixel (PNG), never upscaled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage, DEFAULT_IMAGE_LIMITS } from '../../components/clean/images.js';

async function decoded(bytes: Buffer, size = DEFAULT_IMAGE_LIMITS.size) {
  const result = await decodeImage(bytes, { ...DEFAULT_IMAGE_LIMITS, size });
  assert.ok(result.ok, 'decoded');
  return result.facts.modelReady;
}

describe('model-ready copies', () => {
  it('keeps a 28×28 grey article at its size, lossless: the same pixels in three equal channels', async () => {
    const grey = Buffer.from(Array.from({ length: 28 * 28 }, (_, k) => (k * 37) % 256));
    const png = await sharp(grey, { raw: { width: 28, height: 28, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const copy = await decoded(png);
    assert.deepEqual([copy.side, copy.format], [28, 'png']);
    const { data, info } = await sharp(copy.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [28, 28, 3]);
    for (let k = 0; k < 28 * 28; k++)
      assert.deepEqual([data[3 * k], data[3 * k + 1], data[3 * k + 2]], [grey[k], grey[k], grey[k]], `pixel ${k}`);
  });

  it('letterboxes a small oblong picture on white into a square of its longest side', async () => {
    const red = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 0, b: 0 } } })
      .png()
      .toBuffer();
    const copy = await decoded(red);
    assert.deepEqual([copy.side, copy.format], [40, 'png']);
    const { data, info } = await sharp(copy.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [40, 40]);
    assert.deepEqual([...data.subarray(0, 3)], [255, 255, 255], 'the band above the picture is white');
    const middle = 3 * (20 * 40 + 20);
    assert.deepEqual([...data.subarray(middle, middle + 3)], [200, 0, 0]);
  });

  it('scales a photo larger than the square down into it as a JPEG', async () => {
    const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 10, g: 120, b: 30 } } })
      .jpeg()
      .toBuffer();
    const copy = await decoded(photo, 64);
    assert.deepEqual([copy.side, copy.format], [64, 'jpeg']);
    const metadata = await sharp(copy.bytes).metadata();
    assert.deepEqual([metadata.width, metadata.height, metadata.format], [64, 64, 'jpeg']);
  });
});
