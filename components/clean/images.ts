/**
 * One raw image object to its catalogue record and a model-ready copy. Decoding is sharp's (libvips):
 * a pixel limit stops decompression bombs before they are decoded, and `failOn: 'truncated'` refuses
 * cut-off files instead of returning a half-grey picture.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Refusal } from './products.js';

export interface ImageFacts {
  width: number;
  height: number;
  channels: number;
  mode: string;
  bytes: number;
  sha256: string;
  /**
   * The model-ready copy: the whole picture letterboxed on white into a square RGB image, `size`×`size`
   * as a JPEG when the picture is larger, else at its own side as a lossless PNG (never upscaled).
   */
  modelReady: { bytes: Buffer; side: number; format: 'jpeg' | 'png' };
}

export type DecodedImage = { ok: true; facts: ImageFacts } | ({ ok: false } & Refusal);

export interface ImageLimits {
  /** Side of the model-ready square. */
  size: number;
  /** Pixels above which an image is refused undecoded (a decompression bomb, or simply too big). */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { size: 224, maxPixels: 40_000_000 };

/**
 * Letterboxed, not centre-cropped: a listing photo's subject often reaches the edges, and a crop would cut it.
 * A picture no larger than the model-ready square keeps its own side and every pixel (PNG): upscaling
 * adds no information, and a model that reads small pictures (Fashion-MNIST's 28×28 articles) reads
 * them at their real size, exactly as the export holds them.
 */
export async function decodeImage(bytes: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<DecodedImage> {
  const options = { limitInputPixels: limits.maxPixels, failOn: 'truncated' as const };
  try {
    const metadata = await sharp(bytes, options).metadata();
    // EXIF orientations 5-8 swap width and height; the longest side is the same either way.
    const longest = Math.max(metadata.width ?? 0, metadata.height ?? 0);
    const side = Math.min(limits.size, longest);
    const format = side < limits.size ? 'png' : 'jpeg';
    const square = sharp(bytes, options)
      .rotate() // honour EXIF orientation, as a browser shows the photo
      .resize(side, side, { fit: 'contain', background: { r: 255, g: 255, b: 255 } })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb');
    const modelReady = { bytes: await (format === 'png' ? square.png() : square.jpeg({ quality: 90 })).toBuffer(), side, format } as const;
    return {
      ok: true,
      facts: {
        width: metadata.width ?? 0,
        height: metadata.height ?? 0,
        channels: metadata.channels ?? 0,
        mode: metadata.space ?? 'unknown',
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        modelReady,
      },
    };
  } catch (error) {
    // libvips keeps its error text in a buffer shared by threads: under concurrent decodes a failure
    // can come back as "Unknown error". The bytes themselves say whether the file was cut off.
    if (cutOff(bytes))
      return {
        ok: false,
        rule: 'image_truncated',
        reason: `image is cut off (no end marker; ${error instanceof Error ? error.message : String(error)})`,
      };
    return { ok: false, ...classify(error instanceof Error ? error.message : String(error)) };
  }
}

/** A JPEG without its end-of-image marker, or a PNG without its IEND chunk. */
function cutOff(bytes: Buffer): boolean {
  const jpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (jpeg) return bytes.subarray(-16).indexOf(Buffer.from([0xff, 0xd9])) === -1;
  const png = bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  if (png) return bytes.subarray(-12).indexOf(Buffer.from('IEND')) === -1;
  return false;
}

function classify(message: string): Refusal {
  if (/pixel limit/i.test(message)) return { rule: 'image_too_large', reason: `image exceeds the pixel limit (${message})` };
  if (/unsupported image format|Input buffer contains unsupported|Input Buffer is empty/i.test(message))
    return { rule: 'image_not_an_image', reason: `not an image sharp can read (${message})` };
  if (/premature end|truncated|end of input|Corrupt JPEG/i.test(message))
    return { rule: 'image_truncated', reason: `image is cut off (${message})` };
  return { rule: 'image_corrupt', reason: `image cannot be decoded (${message})` };
}
