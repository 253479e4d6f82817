/**
 * Top-k lexical retrieval (LexicalIndex.top, MaxScore) against scoring every document: the same
 * documents, in the same order, with the same scores to the bit and the same match facts, on random
 * catalogues built to tie (a vocabulary of a few words, short fields), with repeated and unknown
 * query terms and filters. The exhaustive side adds up each term's own postings (one-term queries,
 * where MaxScore has nothing to skip) in a plain loop; the per-document lookup (scoreDocs) is checked
 * against it too. Each run picks the seed budget (top's first pass over its rarest terms): 0 is plain
 * MaxScore, and any other must change nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LexicalIndex, queryTerms } from '../../components/core/ml/index.js';

const WORDS = ['sofa', 'bed', 'oak', 'table', 'red', 'lamp', 'chair', 'white', 'double', 'frame', 'desk', 'mirror'];

const field = (max: number) => fc.array(fc.constantFrom(...WORDS), { maxLength: max }).map((words) => words.join(' '));
const catalogue = fc.array(fc.record({ title: field(4), text: field(10), category: field(2) }), { minLength: 1, maxLength: 300 });
const query = fc.array(fc.constantFrom(...WORDS, 'zebra'), { minLength: 1, maxLength: 6 });

/** Every allowed document holding a query term, by score then position; scores added in query order as float32. */
function exhaustive(index: LexicalIndex, terms: readonly string[], allowed?: (doc: number) => boolean) {
  const n = index.documents;
  const scores = new Float32Array(n);
  const matched = new Uint32Array(n);
  const inTitle = new Uint32Array(n);
  terms.slice(0, 32).forEach((term, bit) => {
    const one = index.top([term], n);
    one.docs.forEach((doc, i) => {
      scores[doc]! += one.scores[i]!;
      matched[doc] = (matched[doc]! | (1 << bit)) >>> 0;
      if (one.inTitle[i]) inTitle[doc] = (inTitle[doc]! | (1 << bit)) >>> 0;
    });
  });
  const docs = Array.from({ length: n }, (_, d) => d).filter((d) => matched[d] !== 0 && (!allowed || allowed(d)));
  docs.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return { docs, scores: docs.map((d) => scores[d]!), matched: docs.map((d) => matched[d]!), inTitle: docs.map((d) => inTitle[d]!) };
}

describe('LexicalIndex.top (MaxScore) against scoring every document', () => {
  it('gives the first k of the exhaustive ranking, bit for bit, with and without a filter', () => {
    fc.assert(
      fc.property(
        catalogue,
        query,
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 600 }),
        (documents, terms, k, modulus, seedPostings) => {
          const index = LexicalIndex.build(documents);
          const allowed = modulus === 0 ? undefined : (doc: number) => doc % (modulus + 1) !== 0;
          const all = exhaustive(index, terms, allowed);
          const top = index.top(terms, k, allowed, seedPostings);
          assert.deepEqual(Array.from(top.docs), all.docs.slice(0, k), 'documents and order');
          assert.deepEqual(Array.from(top.scores), all.scores.slice(0, k), 'scores');
          assert.deepEqual(Array.from(top.matched), all.matched.slice(0, k), 'matched terms');
          assert.deepEqual(Array.from(top.inTitle), all.inTitle.slice(0, k), 'title terms');
          assert.deepEqual(top.terms, terms.slice(0, 32));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('skips documents: a rare word with common ones reads fewer postings than it matches', () => {
    // 2,000 listings hold 'white', the first 20 also 'hemnes': once 10 of those are kept, 'white' alone
    // cannot reach them, and the other 1,980 listings are never read.
    const documents = Array.from({ length: 2000 }, (_, i) => ({
      title: i < 20 ? 'hemnes white bed' : i % 2 ? 'white chair' : 'white lamp',
      text: '',
      category: '',
    }));
    const index = LexicalIndex.build(documents);
    const seen = new Set<number>();
    const top = index.top(queryTerms('hemnes white'), 10, (doc) => {
      seen.add(doc);
      return true;
    });
    assert.deepEqual(Array.from(top.docs), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(seen.size <= 21, `the filter saw ${seen.size} documents; 2,000 hold a query term`);
  });

  it('answers nothing for k 0, no known term or no term', () => {
    const index = LexicalIndex.build([{ title: 'red sofa', text: '', category: '' }]);
    assert.equal(index.top(['sofa'], 0).docs.length, 0);
    assert.equal(index.top(['zebra'], 5).docs.length, 0);
    assert.equal(index.top([], 5).docs.length, 0);
    const twice = index.top(['sofa', 'sofa'], 5);
    assert.deepEqual(Array.from(twice.matched), [3], 'a repeated term is a term of its own (bits 0 and 1)');
    assert.equal(twice.scores[0], Math.fround(2 * index.top(['sofa'], 5).scores[0]!), 'and counts again');
  });
});

describe('LexicalIndex.scoreDocs against scoring every document', () => {
  it('gives each document its score and facts, 0 for one without a query term', () => {
    fc.assert(
      fc.property(catalogue, query, (documents, terms) => {
        const index = LexicalIndex.build(documents);
        const all = exhaustive(index, terms);
        const docs = Int32Array.from(documents.keys()).reverse();
        const looked = index.scoreDocs(terms, docs);
        const at = new Map(all.docs.map((doc, i) => [doc, i]));
        docs.forEach((doc, i) => {
          const m = at.get(doc);
          assert.equal(looked.scores[i], m === undefined ? 0 : all.scores[m], `score of ${doc}`);
          assert.equal(looked.matched[i], m === undefined ? 0 : all.matched[m], `matched of ${doc}`);
          assert.equal(looked.inTitle[i], m === undefined ? 0 : all.inTitle[m], `inTitle of ${doc}`);
        });
      }),
      { numRuns: 200 },
    );
  });
});
