/**
 * A list of float32 tensors as one binary blob: a little-endian uint32 header length, a JSON header
 * with the shapes, then the raw data. Used for checkpoints and for the TF.js weights beside the model.
 */
import * as tf from '@tensorflow/tfjs';
import { bytesOfFloat32, float32FromBytes } from '../core/platform/index.js';

export async function encodeTensors(tensors: readonly tf.Tensor[]): Promise<Buffer> {
  const header = Buffer.from(JSON.stringify({ shapes: tensors.map((tensor) => tensor.shape) }));
  const parts: Buffer[] = [Buffer.alloc(4), header];
  parts[0]!.writeUInt32LE(header.length, 0);
  for (const tensor of tensors) {
    const data = (await tensor.data()) as Float32Array;
    parts.push(bytesOfFloat32(data));
  }
  return Buffer.concat(parts);
}

export function decodeTensors(bytes: Buffer): tf.Tensor[] {
  const headerLength = bytes.readUInt32LE(0);
  const { shapes } = JSON.parse(bytes.subarray(4, 4 + headerLength).toString('utf8')) as { shapes: number[][] };
  let offset = 4 + headerLength;
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = float32FromBytes(bytes.subarray(offset, offset + size * 4));
    offset += size * 4;
    return tf.tensor(data, shape, 'float32');
  });
}
