/**
 * The lexical index (BM25F) against scores worked by hand, its files, the tokenizer; the hybrid
 * ranker and the search-quality measures on a small catalogue with a real FAISS index.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  DEFAULT_FUSION,
  fitFusion,
  hybridCatalogue,
  hybridLexicalK,
  lexicalAhead,
  LexicalIndex,
  LexicalThreads,
  loadFaiss,
  makeQueries,
  ndcgAtK,
  prepareQueries,
  QualityAccumulator,
  queryTerms,
  rankDense,
  rankHybrid,
  searchAhead,
  rankLexical,
  scoreModes,
  stem,
  tokenize,
  vectorAt,
  type Bm25Params,
} from '../../components/core/ml/index.js';

const close = (actual: number, expected: number, what = '') =>
  assert.ok(Math.abs(actual - expected) < 1e-5, `${what} ${actual} != ${expected}`);

/** Simple parameters so that the scores below can be worked on paper. */
const PARAMS: Bm25Params = {
  k1: 1.2,
  fields: { title: { weight: 2, b: 0.5 }, text: { weight: 1, b: 0.75 }, category: { weight: 0, b: 0 } },
};
const DOCS = [
  { title: 'red sofa', text: 'red sofa comfy', category: '' },
  { title: 'sofa bed', text: 'sofa bed', category: '' },
  { title: 'oak table', text: 'oak table red', category: '' },
];

function scoresOf(index: LexicalIndex, query: string): Map<number, number> {
  const matches = index.top(queryTerms(query), index.documents);
  return new Map(Array.from(matches.docs, (doc, i) => [doc, matches.scores[i]!]));
}

describe('tokenizer', () => {
  it('folds case, accents and plurals, drops function words and lone letters', () => {
    assert.deepEqual(tokenize('The Café SOFAS, with 2 x Benches & boxes'), ['cafe', 'sofa', '2', 'bench', 'box']);
    assert.deepEqual(tokenize("Batteries for kids' bikes: glass bus tennis dresses"), [
      'battery',
      'kid',
      'bike',
      'glass',
      'bus',
      'tennis',
      'dress',
    ]);
    assert.equal(stem('ps4s'), 'ps4s', 'words with digits are left alone');
    assert.equal(stem('gas'), 'gas');
    assert.deepEqual(queryTerms('sofa Sofa sofas bed'), ['sofa', 'bed']);
  });
});

describe('BM25F', () => {
  const index = LexicalIndex.build(DOCS, PARAMS);

  it('scores a one-term query as worked by hand', () => {
    // N = 3; "red" is in d0 and d2: idf = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6.
    // avg title length 2, avg text length 8/3.
    // d0: title tf 1, length 2 → 2·1 / (0.5 + 0.5·2/2) = 2; text tf 1, length 3 → 1 / (0.25 + 0.75·3/(8/3)) = 1/1.09375.
    const d0 = 2 + 1 / 1.09375;
    // d2: only its text holds "red" (length 3).
    const d2 = 1 / 1.09375;
    const scores = scoresOf(index, 'red');
    assert.deepEqual([...scores.keys()].sort(), [0, 2]);
    close(scores.get(0)!, (Math.log(1.6) * d0 * 2.2) / (1.2 + d0), 'd0');
    close(scores.get(2)!, (Math.log(1.6) * d2 * 2.2) / (1.2 + d2), 'd2');
  });

  it('adds the terms of a longer query, each with its own idf', () => {
    // d1 "sofa bed" / "sofa bed": each term title tf 1 → 2; text length 2 → 1 / (0.25 + 0.75·2/(8/3)) = 1/0.8125.
    const d1 = 2 + 1 / 0.8125;
    const idfSofa = Math.log(1 + 1.5 / 2.5);
    const idfBed = Math.log(1 + 2.5 / 1.5);
    const scores = scoresOf(index, 'sofa beds');
    close(scores.get(1)!, ((idfSofa + idfBed) * d1 * 2.2) / (1.2 + d1), 'd1');
    const d0 = 2 + 1 / 1.09375;
    close(scores.get(0)!, (idfSofa * d0 * 2.2) / (1.2 + d0), 'd0');
    assert.equal(scores.has(2), false);
  });

  it('says which terms matched, and where; leaves out what the filter refuses', () => {
    const matches = index.top(['sofa', 'comfy', 'zebra'], 3);
    const at = (doc: number) => Array.from(matches.docs).indexOf(doc);
    assert.equal(matches.matched[at(0)], 0b011);
    assert.equal(matches.inTitle[at(0)], 0b001, 'comfy is only in the description');
    assert.equal(matches.matched[at(1)], 0b001);
    const filtered = index.top(['sofa'], 3, (doc) => doc !== 0);
    assert.deepEqual(Array.from(filtered.docs), [1]);
    assert.deepEqual(scoresOf(index, 'sofa'), scoresOf(index, 'sofa'), 'a second query is scored alike');
    assert.equal(index.top(['red'], 3).docs[0], 0, 'd0 ranks first for red');
  });

  it('writes and reads back the same index; refuses a truncated or inconsistent file', () => {
    const files = index.toFiles();
    const reread = LexicalIndex.fromFiles(files.header, files.postings);
    assert.deepEqual(scoresOf(reread, 'red sofa bed oak'), scoresOf(index, 'red sofa bed oak'));
    // A Buffer at an odd offset (as read from a file or S3) is read too.
    const shifted = Buffer.concat([Buffer.from([1]), files.postings]).subarray(1);
    assert.deepEqual(scoresOf(LexicalIndex.fromFiles(files.header, shifted), 'table'), scoresOf(index, 'table'));
    assert.throws(() => LexicalIndex.fromFiles(files.header, files.postings.subarray(0, files.postings.length - 2)), /postings file holds/);
    const header = JSON.parse(files.header.toString('utf8')) as { format: string };
    assert.throws(() => LexicalIndex.fromFiles(Buffer.from(JSON.stringify({ ...header, format: 'bm25-0' })), files.postings));
    assert.ok(index.memoryBytes() > 0);
  });
});

/** A catalogue small enough to reason about: 4 leaf categories in 2 roots, 2-d vectors clustered by leaf. */
function smallCatalogue() {
  const listings = [
    { title: 'Leather sofa', path: ['Home', 'Sofas'], v: [1, 0.05] },
    { title: 'Corner sofa grey', path: ['Home', 'Sofas'], v: [0.98, 0.1] },
    { title: 'Fabric settee', path: ['Home', 'Sofas'], v: [0.97, 0.12] },
    { title: 'Double bed frame', path: ['Home', 'Beds'], v: [0.7, 0.7] },
    { title: 'Single bed', path: ['Home', 'Beds'], v: [0.72, 0.68] },
    { title: 'Mountain bike', path: ['Sports', 'Bikes'], v: [0.05, 1] },
    { title: 'Road bike frame', path: ['Sports', 'Bikes'], v: [0.1, 0.99] },
    { title: 'Leather bike saddle bag', path: ['Sports', 'Bike parts'], v: [0.3, 0.95] },
  ];
  const dim = 2;
  const vectors = new Float32Array(listings.length * dim);
  listings.forEach((l, i) => {
    const norm = Math.hypot(l.v[0]!, l.v[1]!);
    vectors.set([l.v[0]! / norm, l.v[1]! / norm], i * dim);
  });
  const faiss = new (loadFaiss().IndexFlatIP)(dim);
  faiss.add(Array.from(vectors));
  const lexical = LexicalIndex.build(listings.map((l) => ({ title: l.title, text: l.title, category: l.path.join(' ') })));
  const catalogue = hybridCatalogue({ lexical, dense: (q, k) => faiss.search(q, k), vectors, dim, paths: listings.map((l) => l.path) });
  const unit = (x: number, y: number) => Float32Array.from([x / Math.hypot(x, y), y / Math.hypot(x, y)]);
  return { listings, catalogue, unit, faiss };
}

describe('hybrid ranking', () => {
  const { catalogue, unit } = smallCatalogue();

  it('lexical mode ranks by BM25F; dense by cosine; each says what it matched', () => {
    const lexical = rankLexical(catalogue, { terms: queryTerms('leather sofa'), vector: unit(1, 0) }, 10);
    assert.equal(lexical[0]!.doc, 0, 'both words, both in the title');
    assert.ok(lexical.every((r, i) => i === 0 || lexical[i - 1]!.score >= r.score));
    assert.ok(
      lexical.some((r) => r.doc === 7),
      'the saddle bag shares "leather"',
    );
    const dense = rankDense(catalogue, { terms: queryTerms('leather sofa'), vector: unit(1, 0) }, 3);
    assert.deepEqual(
      dense.map((r) => r.doc),
      [0, 1, 2],
    );
    assert.equal(dense[0]!.matched, 0b11);
    assert.equal(dense[2]!.matched, 0b10, 'the settee holds "sofa" only through its category');
    assert.equal(dense[2]!.inTitle, 0);
  });

  it('hybrid keeps the right category above a shared word, and honours the filter and the exclusion', () => {
    const request = { terms: queryTerms('leather sofa'), vector: unit(1, 0.05) };
    const ranked = rankHybrid(catalogue, request, DEFAULT_FUSION);
    assert.equal(ranked[0]!.doc, 0);
    const bag = ranked.findIndex((r) => r.doc === 7);
    const settee = ranked.findIndex((r) => r.doc === 2);
    assert.ok(settee < bag, `the settee (${settee}) ranks above the leather saddle bag (${bag})`);
    const sportsOnly = rankHybrid(catalogue, { ...request, allowed: (doc) => doc >= 5 }, DEFAULT_FUSION);
    assert.ok(sportsOnly.length > 0 && sportsOnly.every((r) => r.doc >= 5));
    assert.ok(!rankHybrid(catalogue, { ...request, exclude: 0 }, DEFAULT_FUSION).some((r) => r.doc === 0));
    // Repeatable: the same request gives the same order (pages rely on it).
    assert.deepEqual(
      rankHybrid(catalogue, request, DEFAULT_FUSION).map((r) => r.doc),
      ranked.map((r) => r.doc),
    );
  });

  it('ranks the same with the dense search made ahead, off the event loop, and then searches no more', async () => {
    const { faiss } = smallCatalogue();
    let searches = 0;
    const counted = {
      ...catalogue,
      dense: (q: number[], k: number) => {
        searches++;
        return faiss.search(q, k);
      },
      denseAsync: (q: Float32Array, k: number) => faiss.searchAsync(q, k),
    };
    for (const [vector, exclude] of [
      [unit(1, 0.05), undefined],
      [unit(0.3, 0.95), 7],
    ] as const) {
      const request = { terms: queryTerms('leather sofa'), vector, ...(exclude === undefined ? {} : { exclude }) };
      const pool = await searchAhead(counted, vector, DEFAULT_FUSION.densePool, exclude);
      searches = 0;
      assert.deepEqual(rankHybrid(counted, { ...request, ahead: pool }, DEFAULT_FUSION), rankHybrid(catalogue, request, DEFAULT_FUSION));
      assert.equal(searches, 0, 'hybrid ranking used the pool searched ahead');
      const page = await searchAhead(counted, vector, 3, exclude);
      assert.deepEqual(rankDense(counted, { ...request, ahead: page }, 3), rankDense(catalogue, request, 3));
      assert.equal(searches, 0, 'so did a dense page');
      // A filtered dense page asks the index for another pool: it searches for itself, and still answers right.
      const filtered = { ...request, allowed: (doc: number) => doc % 2 === 0 };
      assert.deepEqual(rankDense(counted, { ...filtered, ahead: page }, 3), rankDense(catalogue, filtered, 3));
    }
  });

  it('ranks the same with the lexical top-k searched ahead on a worker thread, and then reads no postings itself', async () => {
    const threads = LexicalThreads.start(catalogue.lexical.postings, 1);
    after(() => threads.close());
    let tops = 0;
    const lexical = Object.assign(Object.create(catalogue.lexical) as LexicalIndex, {
      top: (...args: Parameters<LexicalIndex['top']>) => {
        tops++;
        return catalogue.lexical.top(...args);
      },
    });
    const counted = { ...catalogue, lexical, lexicalAsync: (terms: readonly string[], k: number) => threads.top(terms, k) };
    const request = { terms: queryTerms('leather sofa'), vector: unit(1, 0.05) };
    const k = hybridLexicalK(DEFAULT_FUSION, request.terms);
    const ahead = await lexicalAhead(counted, request.terms, k);
    assert.ok(ahead, 'searched ahead');
    tops = 0;
    assert.deepEqual(
      rankHybrid(counted, { ...request, lexicalAhead: ahead }, DEFAULT_FUSION),
      rankHybrid(catalogue, request, DEFAULT_FUSION),
    );
    assert.equal(tops, 0, 'hybrid ranking used the top-k searched ahead');
    const page = await lexicalAhead(counted, request.terms, 10);
    assert.deepEqual(rankLexical(counted, { ...request, lexicalAhead: page }, 10), rankLexical(catalogue, request, 10));
    assert.equal(tops, 0, 'so did a lexical page');
    // Another question than the one answered ahead: the ranking searches for itself, and answers right.
    const filtered = { ...request, allowed: (doc: number) => doc !== 0 };
    assert.deepEqual(
      rankHybrid(counted, { ...filtered, lexicalAhead: ahead }, DEFAULT_FUSION),
      rankHybrid(catalogue, filtered, DEFAULT_FUSION),
    );
    assert.equal(tops, 1, 'a filter');
    assert.deepEqual(rankLexical(counted, { ...request, lexicalAhead: page }, 5), rankLexical(catalogue, request, 5));
    assert.equal(tops, 2, 'another k');
    const bike = { ...request, terms: queryTerms('bike frame') };
    assert.deepEqual(rankHybrid(counted, { ...bike, lexicalAhead: ahead }, DEFAULT_FUSION), rankHybrid(catalogue, bike, DEFAULT_FUSION));
    assert.equal(tops, 3, 'other terms');
    assert.equal(await lexicalAhead(counted, queryTerms('zebra'), k), undefined, 'no known term: nothing to search ahead');
    assert.equal(await lexicalAhead(catalogue, request.terms, k), undefined, 'no threads: the ranking searches in place');
  });
});

describe('search quality', () => {
  const { listings, catalogue } = smallCatalogue();

  it('makes known-item and short queries from titles', () => {
    const queries = makeQueries(
      listings.map((l) => l.title),
      [3, 7],
    );
    assert.deepEqual(
      queries.map((q) => [q.kind, q.form, q.text, q.source]),
      [
        ['known', 'title', 'Double bed frame', 3],
        ['short', 'first2', 'Double bed', 3],
        ['short', 'last2', 'bed frame', 3],
        ['known', 'title', 'Leather bike saddle bag', 7],
        ['short', 'first2', 'Leather bike', 7],
        ['short', 'first3', 'Leather bike saddle', 7],
        ['short', 'last2', 'saddle bag', 7],
      ],
    );
  });

  it('recall, MRR, nDCG@10 and precision@10 as worked by hand (nDCG agrees with core/metrics)', () => {
    const acc = new QualityAccumulator(catalogue);
    acc.add({ kind: 'known', source: 3 }, [3, 4]); // rank 1
    acc.add({ kind: 'known', source: 4 }, [3, 0, 4]); // rank 3
    acc.add({ kind: 'known', source: 5 }, [0]); // not found
    // Short query from listing 3 (Home / Beds): results 4 (same leaf, gain 2), 0 (same root, 1), 5 (other, 0).
    acc.add({ kind: 'short', source: 3 }, [4, 0, 5]);
    const scores = acc.scores();
    close(scores.knownItem.recallAt1, 1 / 3);
    close(scores.knownItem.recallAt10, 2 / 3);
    close(scores.knownItem.mrr, (1 + 1 / 3) / 3);
    const ids = listings.map((_, i) => String(i));
    const gains = new Map(
      ids.map((id, i) => [id, catalogue.leaf[i] === catalogue.leaf[3] ? 2 : catalogue.root[i] === catalogue.root[3] ? 1 : 0]),
    );
    close(scores.short.ndcgAt10, ndcgAtK(['4', '0', '5'], new Map([...gains].filter(([, g]) => g > 0)), 10));
    close(scores.short.precisionAt10, 1 / 10);
  });

  it('scores the three modes on the same queries, and a fit never does worse than where it started', () => {
    const queries = makeQueries(
      listings.map((l) => l.title),
      listings.map((_, i) => i),
    );
    const vectors = new Float32Array(queries.length * 2);
    // Each query embedded as the vector of the listing it came from: the dense side knows the category.
    queries.forEach((q, i) => vectors.set(vectorAt(catalogue.vectors, q.source, 2), i * 2));
    const prepared = prepareQueries(queries, vectors, 2);
    const modes = scoreModes(catalogue, prepared, DEFAULT_FUSION);
    assert.equal(modes.bm25.knownItem.queries, listings.length);
    assert.equal(modes.hybrid.short.queries, queries.length - listings.length);
    assert.equal(modes.bm25.knownItem.recallAt10, 1, 'every title finds its listing lexically');
    const fit = fitFusion(catalogue, prepared, DEFAULT_FUSION, 2);
    assert.ok(fit.objective >= fit.defaultObjective);
    assert.equal(fit.config.weights.lexical, 1, 'the lexical weight anchors the scale');
  });
});
