/**
 * Top-k retrieval over scored postings: the part of the lexical index a query reads. Each posting holds
 * its whole contribution to its document's BM25F score (bm25.ts computes them once, at load), so a
 * query only adds up the postings of its terms, and only those that can still change its best k
 * (top: MaxScore, with a seed pass).
 *
 * Its arrays live on SharedArrayBuffers where the loader put them (LexicalIndex.fromFiles), so
 * that a worker thread can search the same memory (top-threads.ts): `shareable()` hands them over,
 * `new LexicalPostings(parts)` opens them on the other side.
 */

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

/** Set bits of a match mask: how many query terms a document matched. */
export function popcount(mask: number): number {
  let n = 0;
  for (let v = mask >>> 0; v; v = (v & (v - 1)) >>> 0) n++;
  return n;
}

/** The BM25F score and match facts of given documents (scoreDocs), in their order. */
export interface DocFacts {
  scores: Float32Array;
  matched: Uint32Array;
  inTitle: Uint32Array;
}

/** What a search reads, posting by posting in term order (term i's postings are offsets[i] .. offsets[i+1]). */
export interface PostingParts {
  /** The vocabulary, by term id. */
  terms: readonly string[];
  offsets: Uint32Array;
  /** Each posting's document (position), ascending within a term. */
  docs: Uint32Array;
  /** Each posting's whole contribution to its document's score. */
  weights: Float32Array;
  /** 1 where the posting's term is in the document's title. */
  titleHit: Uint8Array;
  /** Each term's largest posting weight: the most it adds to any document (top-k retrieval's bound). */
  maxWeight: Float32Array;
}

/** A copy of `array` on a SharedArrayBuffer, or `array` itself when it is on one already. */
function onShared<T extends Uint32Array | Float32Array | Uint8Array>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const Ctor = array.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(array.byteLength));
  (copy as Uint8Array).set(array as Uint8Array);
  return copy;
}

export class LexicalPostings {
  private readonly termIds: Map<string, number>;

  constructor(private readonly parts: PostingParts) {
    this.termIds = new Map(parts.terms.map((term, id) => [term, id]));
  }

  /** The parts, every array on a SharedArrayBuffer (copied there if it was not): for a worker thread. */
  shareable(): PostingParts {
    const { terms, offsets, docs, weights, titleHit, maxWeight } = this.parts;
    return {
      terms,
      offsets: onShared(offsets),
      docs: onShared(docs),
      weights: onShared(weights),
      titleHit: onShared(titleHit),
      maxWeight: onShared(maxWeight),
    };
  }

  /** Whether a term is in the vocabulary (a query term that is not matches nothing). */
  knows(term: string): boolean {
    return this.termIds.has(term);
  }

  /** Bytes the arrays hold, plus an estimate of the vocabulary map. */
  memoryBytes(): number {
    const { terms, offsets, docs, weights, titleHit, maxWeight } = this.parts;
    const vocabulary = terms.reduce((sum, term) => sum + 2 * term.length + 64, 0);
    return [offsets, docs, weights, titleHit, maxWeight].reduce((sum, array) => sum + array.byteLength, 0) + vocabulary;
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
   * starts from it. At a million listings (synthetic) whole titles took 0.68x the time of plain
   * MaxScore at top 300 and 0.46x at top 100, two-word queries 0.82x at top 300
   * (bench/scale/lexical-top.ts, plain and seeded in the same run).
   * `seedPostings` 0 is plain MaxScore: the same answer, bit for bit (test/ml/lexical-top.test.ts).
   */
  top(terms: readonly string[], k: number, allowed?: (doc: number) => boolean, seedPostings = SEED_POSTINGS): LexicalMatches {
    const scored = terms.slice(0, MAX_QUERY_TERMS);
    const { offsets, maxWeight } = this.parts;
    // One cursor per known query term (a repeated term counts again, as in match), weakest bound first.
    const lists: Cursor[] = scored.flatMap((term, bit) => {
      const id = this.termIds.get(term);
      return id === undefined || !(k >= 1)
        ? []
        : [{ bit, start: offsets[id]!, at: offsets[id]!, end: offsets[id + 1]!, bound: maxWeight[id]! }];
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
    const { docs, weights, titleHit } = this.parts;
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
   * did not bring in (dense candidates, a dense page). The documents are visited in position order, so
   * each search in a term's postings starts where the last one ended, not at the list's head.
   */
  scoreDocs(terms: readonly string[], docs: ArrayLike<number>): DocFacts {
    const scored = terms.slice(0, MAX_QUERY_TERMS);
    const out = { scores: new Float32Array(docs.length), matched: new Uint32Array(docs.length), inTitle: new Uint32Array(docs.length) };
    const order = Uint32Array.from({ length: docs.length }, (_, i) => i).sort((a, b) => docs[a]! - docs[b]!);
    const { offsets, docs: postingDocs, weights, titleHit } = this.parts;
    scored.forEach((term, bit) => {
      const id = this.termIds.get(term);
      if (id === undefined) return;
      const end = offsets[id + 1]!;
      let p = offsets[id]!;
      for (const i of order) {
        p = gallop(postingDocs, p, end, docs[i]!);
        if (p >= end) break;
        if (postingDocs[p] !== docs[i]) continue;
        out.scores[i]! += weights[p]!;
        out.matched[i] = (out.matched[i]! | (1 << bit)) >>> 0;
        if (titleHit[p]) out.inTitle[i] = (out.inTitle[i]! | (1 << bit)) >>> 0;
      }
    });
    return out;
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
