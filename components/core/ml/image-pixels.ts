/**
 * An image as the model reads it: size×size RGB floats in [0, 1], NHWC order, the whole picture
 * letterboxed on white (as clean's model-ready copies are, so a query photo and a catalogue photo go
 * through the same geometry). Shared by train (catalogue copies) and the search service (uploads).
 */
import sharp from 'sharp';
import { InputError } from '../platform/errors.js';

export const MODEL_IMAGE_SIZE = 224;

/**
 * A picture as the models read it: letterboxed on white into a `size`×`size` square, sRGB, no alpha,
 * one byte a channel (RGB, interleaved, row-major). An unreadable picture is an InputError.
 */
export async function imageBytes(bytes: Buffer, options: { size?: number; maxPixels?: number } = {}): Promise<Uint8Array> {
  const size = options.size ?? MODEL_IMAGE_SIZE;
  try {
    return await sharp(bytes, { limitInputPixels: options.maxPixels ?? 40_000_000, failOn: 'truncated' })
      .rotate()
      .resize(size, size, { fit: 'contain', background: { r: 255, g: 255, b: 255 } })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer();
  } catch (error) {
    throw new InputError(`not a readable image: ${(error as Error).message}`);
  }
}

/** imageBytes as floats in [0, 1]: the models' input. */
export async function imagePixels(bytes: Buffer, options: { size?: number; maxPixels?: number } = {}): Promise<Float32Array> {
  const raw = await imageBytes(bytes, options);
  const pixels = new Float32Array(raw.length);
  for (let k = 0; k < raw.length; k++) pixels[k] = raw[k]! / 255;
  return pixels;
}
