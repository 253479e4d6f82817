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
 * can still change its best k (top: MaxScore).
 */
import { z } from 'zod';
import { tokenize } from './tokenize.js';

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

/** At most this many distinct query terms are scored: their match facts are bits of one 32-bit word. */
export const MAX_QUERY_TERMS = 32;

/** The best documents for a query (each holds at least one of its terms), with their scores and facts. */
export interface LexicalMatches {
  /** The query terms scored (bit i of `matched` and `inTitle` is terms[i]). */
  terms: string[];
  /** Documents (positions), best first; ties by position. */
  docs: Int32Array;
  scores: Float32Array;
  /** Bit i set: terms[i] occurs somewhere in the document. */
  matched: Uint32Array;
  /** Bit i set: terms[i] occurs in the document's title. */
  inTitle: Uint32Array;
}

export interface LexicalFiles {
  /** lexical.json: parameters, sizes and the vocabulary. */
  header: Buffer;
  /** lexical.bin: offsets (u32, terms + 1), posting documents (u32), field lengths (u32, documents × fields), term frequencies (u16, postings × fields). */
  postings: Buffer;
}

/** Set bits of a match mask: how many query terms a document matched. */
export function popcount(mask: number): number {
  let n = 0;
  for (let v = mask >>> 0; v; v = (v & (v - 1)) >>> 0) n++;
  return n;
}

export class LexicalIndex {
  private readonly termIds: Map<string, number>;
  /** Each posting's whole contribution to its document's score (see the header comment). */
  private readonly weights: Float32Array;
  private readonly titleHit: Uint8Array;
  /** Each term's largest posting weight: the most it adds to any document (top-k retrieval's bound). */
  private readonly maxWeight: Float32Array;

  private constructor(
    readonly header: LexicalHeader,
    private readonly offsets: Uint32Array,
    private readonly postingDocs: Uint32Array,
    /** documents × fields, in LEXICAL_FIELDS order. */
    private readonly lengths: Uint32Array,
    private readonly tf: Uint16Array,
  ) {
    this.termIds = new Map(header.terms.map((term, id) => [term, id]));
    const n = header.documents;
    const { k1, fields } = header.params;
    const norm = LEXICAL_FIELDS.map((field) => ({ w: fields[field].weight, b: fields[field].b, avg: header.averageLength[field] }));
    this.weights = new Float32Array(header.postings);
    this.titleHit = new Uint8Array(header.postings);
    this.maxWeight = new Float32Array(header.terms.length);
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
        this.weights[p] = (idf * pseudo * (k1 + 1)) / (k1 + pseudo);
        this.titleHit[p] = tf[p * F]! > 0 ? 1 : 0;
        if (this.weights[p]! > this.maxWeight[t]!) this.maxWeight[t] = this.weights[p]!;
      }
    }
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
    // Copied into fresh buffers: a Buffer read from a file or S3 may start at an offset a typed array cannot view.
    let at = 0;
    const take = (bytes: number) => {
      const copy = new ArrayBuffer(bytes);
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
    return this.termIds.has(term);
  }

  /**
   * The `k` best allowed documents for `terms` by BM25F, best first, ties by position (the scores
   * are float32 sums, term by term in query order), without scoring every match. MaxScore (Turtle &
   * Flood, "Query evaluation: strategies and optimizations", 1995), document at a time: a term whose
   * largest weight, added to those of all weaker terms, cannot lift a document above the k-th score
   * found so far no longer brings documents in; it is looked up (galloping search in its postings)
   * only for documents a stronger term brought in and that could still make the top. A query made of
   * a rare word and common ones ("hemnes white double bed") reads the rare word's postings whole and
   * the common words' only where they can matter.
   *
   * MaxScore skips only once the k-th score is high, and documents come in position order, which says
   * nothing of their scores: read from the first position, a common word's postings are read until k
   * good documents happen to have come by. So the documents of the strongest terms (the rarest, at
   * most `seedPostings` postings together) are scored first, whole; the k-th best of them is a score
   * the answer's k-th reaches, and the second pass, over the documents that hold none of those terms,
   * starts from it. At a million listings (synthetic, top 300) whole titles took 0.68x the time of
   * plain MaxScore, two-word queries 0.82x (bench/scale/lexical-top.ts, the same run).
   * `seedPostings` 0 is plain MaxScore: the same answer, bit for bit (test/ml/lexical-top.test.ts).
   */
  top(terms: readonly string[], k: number, allowed?: (doc: number) => boolean, seedPostings = SEED_POSTINGS): LexicalMatches {
    const scored = terms.slice(0, MAX_QUERY_TERMS);
    // One cursor per known query term (a repeated term counts again, as in match), weakest bound first.
    const lists: Cursor[] = scored.flatMap((term, bit) => {
      const id = this.termIds.get(term);
      return id === undefined || !(k >= 1)
        ? []
        : [{ bit, start: this.offsets[id]!, at: this.offsets[id]!, end: this.offsets[id + 1]!, bound: this.maxWeight[id]! }];
    });
    lists.sort((a, b) => a.bound - b.bound || a.bit - b.bit);
    const L = lists.length;
    // bounds[i]: the most lists 0..i add together.
    const bounds = new Float64Array(L);
    for (let i = 0, sum = 0; i < L; i++) bounds[i] = sum += lists[i]!.bound;
    const heap = new TopHeap(k);
    // The seed lists: the strongest, while their postings stay within the budget (none when the
    // strongest alone is over it, or when they would be every list: then one pass is the same work).
    let seeds = 0;
    for (let postings = 0; seeds < L - 1; seeds++) {
      postings += lists[L - 1 - seeds]!.end - lists[L - 1 - seeds]!.start;
      if (postings > seedPostings) break;
    }
    let seeded = 0;
    if (seeds > 0) {
      this.maxScore(scored.length, lists, bounds, L - seeds, heap, 0, allowed);
      for (const list of lists) list.at = list.start;
      for (let i = L - seeds; i < L; i++) seeded |= 1 << lists[i]!.bit;
    }
    this.maxScore(scored.length, lists, bounds, 0, heap, seeded, allowed);
    return { terms: scored, ...heap.sorted() };
  }

  /**
   * One MaxScore pass: the documents of lists[from..] (and, as the k-th score rises, of ever fewer of
   * them), each looked up in the weaker lists, offered to `heap`. A document holding a term of
   * `skip` (bits) is passed over: a first pass offered it already.
   */
  private maxScore(
    termCount: number,
    lists: readonly Cursor[],
    bounds: Float64Array,
    from: number,
    heap: TopHeap,
    skip: number,
    allowed: ((doc: number) => boolean) | undefined,
  ): void {
    const L = lists.length;
    // A document's weight from each query term, by bit (only the bits of its `matched` are read).
    const part = new Float32Array(MAX_QUERY_TERMS);
    const docs = this.postingDocs;
    const weights = this.weights;
    const titleHit = this.titleHit;
    let essential = from; // lists[essential..] bring documents in; lists[..essential) are only looked up
    const narrow = () => {
      while (essential < L && heap.full && bounds[essential]! * SLACK < heap.worstScore) essential++;
    };
    narrow();
    while (essential < L) {
      let d = 0xffffffff;
      for (let i = essential; i < L; i++) {
        const list = lists[i]!;
        if (list.at < list.end && docs[list.at]! < d) d = docs[list.at]!;
      }
      if (d === 0xffffffff) break;
      let matched = 0;
      let inTitle = 0;
      let sure = 0;
      for (let i = essential; i < L; i++) {
        const list = lists[i]!;
        if (list.at < list.end && docs[list.at] === d) {
          const w = weights[list.at]!;
          part[list.bit] = w;
          sure += w;
          matched |= 1 << list.bit;
          if (titleHit[list.at]) inTitle |= 1 << list.bit;
          list.at++;
        }
      }
      if (matched & skip || (allowed && !allowed(d))) continue;
      let possible = true;
      for (let i = essential - 1; i >= 0; i--) {
        if (heap.full && (sure + bounds[i]!) * SLACK < heap.worstScore) {
          possible = false;
          break;
        }
        const list = lists[i]!;
        list.at = gallop(docs, list.at, list.end, d);
        if (list.at < list.end && docs[list.at] === d) {
          const w = weights[list.at]!;
          part[list.bit] = w;
          sure += w;
          matched |= 1 << list.bit;
          if (titleHit[list.at]) inTitle |= 1 << list.bit;
        }
      }
      // A weaker list looked up may hold a skipped term (the first pass's lists, once no longer essential).
      if (!possible || matched & skip) continue;
      // Float32, term by term in query order: the same sum whichever lists found the terms.
      let score = 0;
      for (let bit = 0; bit < termCount; bit++) if (matched & (1 << bit)) score = Math.fround(score + part[bit]!);
      if (heap.offer(d, score, matched >>> 0, inTitle >>> 0)) narrow();
    }
  }

  /**
   * The BM25F score and match facts of each of `docs` for `terms` (0 for a document without any),
   * looked up by galloping search in each term's postings: for the few listings a ranking reads that a top-k pass
   * did not bring in (dense candidates, a dense page).
   */
  scoreDocs(terms: readonly string[], docs: ArrayLike<number>): { scores: Float32Array; matched: Uint32Array; inTitle: Uint32Array } {
    const scored = terms.slice(0, MAX_QUERY_TERMS);
    const out = { scores: new Float32Array(docs.length), matched: new Uint32Array(docs.length), inTitle: new Uint32Array(docs.length) };
    scored.forEach((term, bit) => {
      const id = this.termIds.get(term);
      if (id === undefined) return;
      const start = this.offsets[id]!;
      const end = this.offsets[id + 1]!;
      for (let i = 0; i < docs.length; i++) {
        const p = gallop(this.postingDocs, start, end, docs[i]!);
        if (p >= end || this.postingDocs[p] !== docs[i]) continue;
        out.scores[i]! += this.weights[p]!;
        out.matched[i] = (out.matched[i]! | (1 << bit)) >>> 0;
        if (this.titleHit[p]) out.inTitle[i] = (out.inTitle[i]! | (1 << bit)) >>> 0;
      }
    });
    return out;
  }

  /** Bytes the loaded index holds (typed arrays, plus an estimate of the vocabulary map). */
  memoryBytes(): number {
    const arrays = [this.offsets, this.postingDocs, this.lengths, this.tf, this.weights, this.titleHit, this.maxWeight];
    const vocabulary = this.header.terms.reduce((sum, term) => sum + 2 * term.length + 64, 0);
    return arrays.reduce((sum, array) => sum + array.byteLength, 0) + vocabulary;
  }
}

/**
 * A bound is compared with a score after this widening: a score is a float32 sum of up to 32 weights
 * (each addition rounds by at most 2^-24 of it), a bound a float64 sum of the same weights.
 */
const SLACK = 1 + 1e-5;

/**
 * The postings top() scores first (its seed lists'): a few times the usual k (300), so that the k-th
 * best of them is near the answer's, and a small share of what a common word holds at a million listings.
 */
export const SEED_POSTINGS = 4096;

/** A query term's postings, read from `at` on. */
interface Cursor {
  bit: number;
  start: number;
  at: number;
  end: number;
  /** The term's largest posting weight. */
  bound: number;
}

/** The first position in docs[from, end) (sorted ascending) holding `target` or more; `end` if none. */
function gallop(docs: Uint32Array, from: number, end: number, target: number): number {
  if (from >= end || docs[from]! >= target) return from;
  // Exponential steps from the cursor (the next document is usually near), then binary search.
  let low = from;
  let step = 1;
  let high = from + step;
  while (high < end && docs[high]! < target) {
    low = high;
    step *= 2;
    high = from + step;
  }
  if (high > end) high = end;
  // docs[low] < target; docs[high] >= target or high == end.
  while (high - low > 1) {
    const middle = (low + high) >>> 1;
    if (docs[middle]! < target) low = middle;
    else high = middle;
  }
  return high;
}

/**
 * The best `k` of the documents offered, by score then position (the lower first), in a binary heap
 * whose root is the worst kept.
 */
class TopHeap {
  private readonly docs: Int32Array;
  private readonly scores: Float32Array;
  private readonly matched: Uint32Array;
  private readonly inTitle: Uint32Array;
  private size = 0;

  constructor(private readonly k: number) {
    const room = Math.max(0, Math.min(k, 1 << 20));
    this.docs = new Int32Array(room);
    this.scores = new Float32Array(room);
    this.matched = new Uint32Array(room);
    this.inTitle = new Uint32Array(room);
    this.full = room === 0;
  }

  /** k kept (a field, not a getter: MaxScore asks for every document it reads). */
  full = false;

  /** The score a document must reach (ties then go by position) to be kept. */
  get worstScore(): number {
    return this.scores[0]!;
  }

  /** `a` ranks below `b`. */
  private worse(a: number, b: number): boolean {
    const sa = this.scores[a]!;
    const sb = this.scores[b]!;
    return sa < sb || (sa === sb && this.docs[a]! > this.docs[b]!);
  }

  private swap(a: number, b: number): void {
    const { docs, scores, matched, inTitle } = this;
    const doc = docs[a]!;
    docs[a] = docs[b]!;
    docs[b] = doc;
    const score = scores[a]!;
    scores[a] = scores[b]!;
    scores[b] = score;
    const m = matched[a]!;
    matched[a] = matched[b]!;
    matched[b] = m;
    const t = inTitle[a]!;
    inTitle[a] = inTitle[b]!;
    inTitle[b] = t;
  }

  /** Keeps the document if it is among the best k so far; returns whether it was kept. */
  offer(doc: number, score: number, matched: number, inTitle: number): boolean {
    if (this.docs.length === 0) return false;
    if (this.full) {
      const root = this.scores[0]!;
      if (score < root || (score === root && doc > this.docs[0]!)) return false;
      this.set(0, doc, score, matched, inTitle);
      this.down(0);
      return true;
    }
    this.set(this.size, doc, score, matched, inTitle);
    this.up(this.size++);
    this.full = this.size >= this.k || this.size >= this.docs.length;
    return true;
  }

  private set(i: number, doc: number, score: number, matched: number, inTitle: number): void {
    this.docs[i] = doc;
    this.scores[i] = score;
    this.matched[i] = matched;
    this.inTitle[i] = inTitle;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) return;
      const right = left + 1;
      const child = right < this.size && this.worse(right, left) ? right : left;
      if (!this.worse(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }

  /** What was kept, best first (the heap is emptied: the worst is taken off the root, repeatedly). */
  sorted(): Omit<LexicalMatches, 'terms'> {
    const n = this.size;
    const out = { docs: new Int32Array(n), scores: new Float32Array(n), matched: new Uint32Array(n), inTitle: new Uint32Array(n) };
    for (let i = n - 1; i >= 0; i--) {
      out.docs[i] = this.docs[0]!;
      out.scores[i] = this.scores[0]!;
      out.matched[i] = this.matched[0]!;
      out.inTitle[i] = this.inTitle[0]!;
      this.size--;
      if (this.size > 0) {
        this.swap(0, this.size);
        this.down(0);
      }
    }
    return out;
  }
}
