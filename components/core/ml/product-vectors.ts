/**
 * Product vectors held as int8 codes with one float32 scale a vector (component j ≈ code[j] × scale,
 * scale = max |component| / 127): a quarter of float32's memory (at 256-d, 260 B a listing instead of
 * 1,024). The search service reads them for the cosines of lexical candidates and filtered scans
 * (hybrid.ts) and as the start of "similar to P" and "buyers for P"; the FAISS index answers the dense
 * search itself. A cosine between a float32 query and a stored unit vector is off by at most
 * max|component| / 254 × ‖query‖₁ and typically by about 10⁻³ (measured in the tests).
 */
export class Int8Vectors {
  /** Floats the vectors stand for (count × dim), as a Float32Array's length would be. */
  readonly length: number;

  private constructor(
    readonly dim: number,
    private readonly codes: Int8Array,
    private readonly scales: Float32Array,
  ) {
    this.length = codes.length;
  }

  /** `vectors` is count × dim floats, row-major. */
  static quantise(vectors: Float32Array, dim: number): Int8Vectors {
    if (dim < 1 || vectors.length % dim !== 0) throw new Error(`${vectors.length} floats are not whole vectors of ${dim}`);
    const count = vectors.length / dim;
    const codes = new Int8Array(vectors.length);
    const scales = new Float32Array(count);
    for (let v = 0, o = 0; v < count; v++, o += dim) {
      let largest = 0;
      for (let j = 0; j < dim; j++) largest = Math.max(largest, Math.abs(vectors[o + j]!));
      if (largest === 0) continue;
      const scale = Math.fround(largest / 127);
      scales[v] = scale;
      for (let j = 0; j < dim; j++) codes[o + j] = Math.round(vectors[o + j]! / scale);
    }
    return new Int8Vectors(dim, codes, scales);
  }

  get count(): number {
    return this.scales.length;
  }

  /** ⟨query, vector doc⟩. */
  dot(query: Float32Array, doc: number): number {
    const { codes, dim } = this;
    let sum = 0;
    for (let j = 0, o = doc * dim; j < dim; j++) sum += query[j]! * codes[o + j]!;
    return sum * this.scales[doc]!;
  }

  /** Vector doc, decoded (a new array). */
  vector(doc: number): Float32Array {
    const { codes, dim } = this;
    const scale = this.scales[doc]!;
    const out = new Float32Array(dim);
    for (let j = 0, o = doc * dim; j < dim; j++) out[j] = codes[o + j]! * scale;
    return out;
  }

  get byteLength(): number {
    return this.codes.byteLength + this.scales.byteLength;
  }
}

/** Product vectors as the ranker and the service read them: float32 as stored, or int8 codes. */
export type ProductVectors = Float32Array | Int8Vectors;

/** Vector doc of `vectors` (a view of float32 storage; decoded from int8). */
export const vectorAt = (vectors: ProductVectors, doc: number, dim: number): Float32Array =>
  vectors instanceof Float32Array ? vectors.subarray(doc * dim, (doc + 1) * dim) : vectors.vector(doc);
