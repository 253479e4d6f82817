/**
 * The lexical index: BM25F over a listing's title, text and category path, written by the index
 * component next to the FAISS indexes (one version, one manifest) and opened by the search service
 * with them.
 *
 * Scoring (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", §3.6):
 *
 *   tf~(t, d)  = Σ_f  w_f · tf_f(t, d) / (1 − b_f + b_f · len_f(d) / avglen_f)
 *   score(q,d) = Σ_{t ∈ q}  idf(t) · tf~ · (k1 + 1) / (k1 + tf~)
 *   idf(t)     = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))          (never negative)
 *
 * The title is weighted above the description: a buyer types what a seller puts in a title. Written
 * here rather than taken from a package: the npm BM25 packages score fields separately and add them up
 * (BM25 per field, not BM25F), none gives the per-field match facts a result shows ("sofa" in the
 * title) or serialises to compact typed arrays, and the whole scorer is this file (tested against
 * scores worked by hand in test/ml/lexical.test.ts).
 *
 * A term's contribution to a document does not depend on the query, so it is computed once per
 * posting at load time; a query then only adds up the postings of its terms, and only those that
 * can still change its best k (top-k.ts: LexicalPostings, which a worker thread can search too).
 */
import { z } from 'zod';
import { tokenize } from './tokenize.js';
import { LexicalPostings, type DocFacts, type LexicalMatches } from './top-k.js';

export const LEXICAL_FIELDS = ['title', 'text', 'category'] as const;
export type LexicalField = (typeof LEXICAL_FIELDS)[number];
export type LexicalDocument = Record<LexicalField, string>;
const F = LEXICAL_FIELDS.length;

const FieldParams = z.object({ weight: z.number().min(0), b: z.number().min(0).max(1) });
export const Bm25Params = z.object({
  k1: z.number().positive(),
  fields: z.object({ title: FieldParams, text: FieldParams, category: FieldParams }),
});
export type Bm25Params = z.infer<typeof Bm25Params>;

/**
 * k1 and b are the usual defaults. The title counts three times a word of the description; the
 * category path once, with little length normalisation (paths are short and similar in length).
 */
export const DEFAULT_BM25: Bm25Params = {
  k1: 1.2,
  fields: { title: { weight: 3, b: 0.75 }, text: { weight: 1, b: 0.75 }, category: { weight: 1, b: 0.3 } },
};

/** The format written to lexical.json; a reader refuses any other. */
export const LEXICAL_FORMAT = 'bm25f-1';

export const LexicalHeader = z.object({
  format: z.literal(LEXICAL_FORMAT),
  params: Bm25Params,
  documents: z.number().int().min(0),
  postings: z.number().int().min(0),
  averageLength: z.object({ title: z.number(), text: z.number(), category: z.number() }),
  /** The vocabulary; term i's postings are offsets[i] .. offsets[i+1] of the binary file. */
  terms: z.array(z.string()),
});
export type LexicalHeader = z.infer<typeof LexicalHeader>;

export interface LexicalFiles {
  /** lexical.json: parameters, sizes and the vocabulary. */
  header: Buffer;
  /** lexical.bin: offsets (u32, terms + 1), posting documents (u32), field lengths (u32, documents × fields), term frequencies (u16, postings × fields). */
  postings: Buffer;
}

export class LexicalIndex {
  /** What a query reads: each posting's whole contribution to its document's score (see the header comment). */
  readonly postings: LexicalPostings;

  private constructor(
    readonly header: LexicalHeader,
    private readonly offsets: Uint32Array,
    private readonly postingDocs: Uint32Array,
    /** documents × fields, in LEXICAL_FIELDS order. */
    private readonly lengths: Uint32Array,
    private readonly tf: Uint16Array,
  ) {
    const n = header.documents;
    const { k1, fields } = header.params;
    const norm = LEXICAL_FIELDS.map((field) => ({ w: fields[field].weight, b: fields[field].b, avg: header.averageLength[field] }));
    // On SharedArrayBuffers, as fromFiles puts the postings: a worker thread searches this memory, not a copy.
    const weights = new Float32Array(new SharedArrayBuffer(header.postings * 4));
    const titleHit = new Uint8Array(new SharedArrayBuffer(header.postings));
    const maxWeight = new Float32Array(new SharedArrayBuffer(header.terms.length * 4));
    for (let t = 0; t < header.terms.length; t++) {
      const start = offsets[t]!;
      const end = offsets[t + 1]!;
      const df = end - start;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let p = start; p < end; p++) {
        const d = postingDocs[p]!;
        let pseudo = 0;
        for (let f = 0; f < F; f++) {
          const count = tf[p * F + f]!;
          if (count === 0) continue;
          const { w, b, avg } = norm[f]!;
          const relative = avg > 0 ? lengths[d * F + f]! / avg : 1;
          pseudo += (w * count) / (1 - b + b * relative);
        }
        weights[p] = (idf * pseudo * (k1 + 1)) / (k1 + pseudo);
        titleHit[p] = tf[p * F]! > 0 ? 1 : 0;
        if (weights[p]! > maxWeight[t]!) maxWeight[t] = weights[p]!;
      }
    }
    this.postings = new LexicalPostings({ terms: header.terms, offsets, docs: postingDocs, weights, titleHit, maxWeight });
  }

  /** Indexes documents in order: document i is position i (the products' vector order). */
  static build(documents: readonly LexicalDocument[], params: Bm25Params = DEFAULT_BM25): LexicalIndex {
    const termIds = new Map<string, number>();
    const postingDocs: number[][] = [];
    const postingTf: number[][] = [];
    const lengths = new Uint32Array(documents.length * F);
    documents.forEach((document, d) => {
      const counts = new Map<number, number[]>();
      LEXICAL_FIELDS.forEach((field, f) => {
        const tokens = tokenize(document[field]);
        lengths[d * F + f] = tokens.length;
        for (const token of tokens) {
          let id = termIds.get(token);
          if (id === undefined) {
            id = termIds.size;
            termIds.set(token, id);
            postingDocs.push([]);
            postingTf.push([]);
          }
          let perField = counts.get(id);
          if (!perField) {
            perField = new Array<number>(F).fill(0);
            counts.set(id, perField);
          }
          perField[f] = Math.min(65_535, perField[f]! + 1);
        }
      });
      // Documents arrive in order, so each term's postings stay sorted by document.
      for (const [id, perField] of counts) {
        postingDocs[id]!.push(d);
        postingTf[id]!.push(...perField);
      }
    });
    const total = postingDocs.reduce((sum, list) => sum + list.length, 0);
    const offsets = new Uint32Array(termIds.size + 1);
    const docs = new Uint32Array(total);
    const tf = new Uint16Array(total * F);
    let at = 0;
    for (let id = 0; id < termIds.size; id++) {
      offsets[id] = at;
      docs.set(postingDocs[id]!, at);
      tf.set(postingTf[id]!, at * F);
      at += postingDocs[id]!.length;
    }
    offsets[termIds.size] = at;
    const average = (f: number) => {
      if (documents.length === 0) return 0;
      let sum = 0;
      for (let d = 0; d < documents.length; d++) sum += lengths[d * F + f]!;
      return sum / documents.length;
    };
    const header: LexicalHeader = {
      format: LEXICAL_FORMAT,
      params: Bm25Params.parse(params),
      documents: documents.length,
      postings: total,
      averageLength: { title: average(0), text: average(1), category: average(2) },
      terms: [...termIds.keys()],
    };
    return new LexicalIndex(header, offsets, docs, lengths, tf);
  }

  /** The two published files. */
  toFiles(): LexicalFiles {
    const parts = [this.offsets, this.postingDocs, this.lengths, this.tf].map((array) =>
      Buffer.from(array.buffer, array.byteOffset, array.byteLength),
    );
    return { header: Buffer.from(JSON.stringify(this.header)), postings: Buffer.concat(parts) };
  }

  /** Opens the published files; sizes are checked against the header (a truncated file is refused, not misread). */
  static fromFiles(headerBytes: Uint8Array, postingBytes: Uint8Array): LexicalIndex {
    const header = LexicalHeader.parse(JSON.parse(Buffer.from(headerBytes).toString('utf8')));
    const v = header.terms.length;
    const sizes = [(v + 1) * 4, header.postings * 4, header.documents * F * 4, header.postings * F * 2];
    const expected = sizes.reduce((a, b) => a + b, 0);
    if (postingBytes.byteLength !== expected)
      throw new Error(`lexical index: postings file holds ${postingBytes.byteLength} bytes, its header describes ${expected}`);
    // Copied into fresh buffers: a Buffer read from a file or S3 may start at an offset a typed array
    // cannot view. Shared ones, at no extra cost: a worker thread searches the postings in place.
    let at = 0;
    const take = (bytes: number) => {
      const copy = new SharedArrayBuffer(bytes);
      new Uint8Array(copy).set(postingBytes.subarray(at, at + bytes));
      at += bytes;
      return copy;
    };
    const offsets = new Uint32Array(take(sizes[0]!));
    const docs = new Uint32Array(take(sizes[1]!));
    const lengths = new Uint32Array(take(sizes[2]!));
    const tf = new Uint16Array(take(sizes[3]!));
    if (offsets[0] !== 0 || offsets[v] !== header.postings) throw new Error('lexical index: term offsets do not cover the postings');
    for (let i = 0; i < v; i++) if (offsets[i]! > offsets[i + 1]!) throw new Error(`lexical index: term offsets decrease at term ${i}`);
    for (let p = 0; p < docs.length; p++)
      if (docs[p]! >= header.documents) throw new Error(`lexical index: posting ${p} names document ${docs[p]} of ${header.documents}`);
    return new LexicalIndex(header, offsets, docs, lengths, tf);
  }

  get documents(): number {
    return this.header.documents;
  }

  /** Tokens in a document's title (the title-match feature divides by it). */
  titleLength(doc: number): number {
    return this.lengths[doc * F]!;
  }

  /** Whether a term is in the vocabulary (a query term that is not matches nothing). */
  knows(term: string): boolean {
    return this.postings.knows(term);
  }

  /** The `k` best allowed documents for `terms` by BM25F (LexicalPostings.top). */
  top(terms: readonly string[], k: number, allowed?: (doc: number) => boolean, seedPostings?: number): LexicalMatches {
    return this.postings.top(terms, k, allowed, seedPostings);
  }

  /** The BM25F score and match facts of each of `docs` for `terms` (LexicalPostings.scoreDocs). */
  scoreDocs(terms: readonly string[], docs: ArrayLike<number>): DocFacts {
    return this.postings.scoreDocs(terms, docs);
  }

  /** Bytes the loaded index holds (typed arrays, plus an estimate of the vocabulary map). */
  memoryBytes(): number {
    return this.postings.memoryBytes() + this.lengths.byteLength + this.tf.byteLength;
  }
}
