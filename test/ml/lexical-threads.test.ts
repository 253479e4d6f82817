/**
 * Lexical top-k on worker threads (LexicalThreads) against the same search on the calling thread: the
 * same answers for many queries asked at once, on postings the threads read in place (shared memory,
 * not a copy), and a closed pool that answers nothing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LexicalIndex, LexicalThreads, queryTerms } from '../../components/core/ml/index.js';

const WORDS = ['sofa', 'bed', 'oak', 'table', 'red', 'lamp', 'chair', 'white', 'double', 'frame', 'desk', 'mirror', 'hemnes'];

/** A seeded catalogue of a few thousand listings: long enough postings for the seed pass to run. */
function catalogue(n: number) {
  let seed = 7;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const words = (count: number) => Array.from({ length: count }, () => WORDS[Math.floor(next() ** 2 * WORDS.length)]!).join(' ');
  return Array.from({ length: n }, () => ({
    title: words(1 + Math.floor(next() * 4)),
    text: words(Math.floor(next() * 12)),
    category: words(1),
  }));
}

describe('LexicalThreads', () => {
  const files = LexicalIndex.build(catalogue(5000)).toFiles();
  // Opened as the service opens a published index.
  const index = LexicalIndex.fromFiles(files.header, files.postings);
  const threads = LexicalThreads.start(index.postings, 2);
  after(() => threads.close());

  it('answers as the calling thread does, many queries at once', async () => {
    const queries = Array.from({ length: 60 }, (_, i) => queryTerms(WORDS.filter((_, w) => (i * 7 + w * 3) % 5 < 2).join(' ')));
    const ks = [1, 10, 300, 5000];
    const asked = queries.flatMap((terms, i) => {
      const k = ks[i % ks.length]!;
      return [threads.top(terms, k).then((matches) => ({ matches, expected: index.top(terms, k) }))];
    });
    assert.equal(threads.size, 2);
    for (const { matches, expected } of await Promise.all(asked)) {
      assert.deepEqual(matches.terms, expected.terms);
      assert.deepEqual(Array.from(matches.docs), Array.from(expected.docs));
      assert.deepEqual(Array.from(matches.scores), Array.from(expected.scores));
      assert.deepEqual(Array.from(matches.matched), Array.from(expected.matched));
      assert.deepEqual(Array.from(matches.inTitle), Array.from(expected.inTitle));
    }
  });

  it('reads the loaded postings in place: they are on shared memory, handed over without a copy', () => {
    const first = index.postings.shareable();
    const second = index.postings.shareable();
    for (const name of ['offsets', 'docs', 'weights', 'titleHit', 'maxWeight'] as const) {
      assert.ok(first[name].buffer instanceof SharedArrayBuffer, `${name} is shared`);
      assert.equal(first[name].buffer, second[name].buffer, `${name} is not copied`);
    }
    // An index built in this process (not opened from files) is copied onto shared memory once asked.
    const built = LexicalIndex.build(catalogue(10)).postings.shareable();
    assert.ok(built.docs.buffer instanceof SharedArrayBuffer);
  });

  it('a thread that dies fails what it held; with none left, the calling thread answers', async () => {
    const pool = LexicalThreads.start(index.postings, 1);
    after(() => pool.close());
    const terms = queryTerms('white oak table');
    assert.deepEqual(Array.from((await pool.top(terms, 10)).docs), Array.from(index.top(terms, 10).docs));
    // The thread stopped from outside, as a crash would stop it (the pool's own thread, reached for this test).
    const [thread] = (pool as unknown as { threads: { worker: import('node:worker_threads').Worker }[] }).threads;
    const stopped = new Promise((resolve) => thread!.worker.once('exit', resolve));
    const held = pool.top(terms, 10);
    await thread!.worker.terminate();
    await stopped;
    await held.then(
      (matches) => assert.ok(matches.docs.length > 0, 'answered before it stopped'),
      (error: Error) => assert.match(error.message, /lexical thread exited/),
    );
    assert.equal(pool.size, 0);
    assert.deepEqual(Array.from((await pool.top(terms, 10)).docs), Array.from(index.top(terms, 10).docs), 'answered on the calling thread');
  });

  it('answers nothing once closed, and refuses a count that is not a positive whole number', async () => {
    const pool = LexicalThreads.start(index.postings, 1);
    const pending = pool.top(queryTerms('red sofa'), 10);
    await pool.close();
    assert.equal(pool.size, 0);
    await pending.then(
      (matches) => assert.ok(matches.docs.length > 0, 'answered before the thread stopped'),
      (error: Error) => assert.match(error.message, /lexical thread exited/),
    );
    await assert.rejects(pool.top(queryTerms('red sofa'), 10), /closed/);
    assert.throws(() => LexicalThreads.start(index.postings, 0), /not a positive whole number/);
  });
});
