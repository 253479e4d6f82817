/**
 * Float32 vectors to and from stored bytes (little-endian, as every machine this runs on is). Reading
 * copies: a Buffer from a file or S3 may start at an offset a Float32Array cannot view.
 */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The vector's own bytes, without a copy. */
export function bytesOfFloat32(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}
