/**
 * Lexical top-k on worker threads, so that the event loop serves other requests while one query reads
 * its postings (at a million listings a whole title's top 300 is the largest part of a hybrid query's
 * time on the loop). The threads search the loaded index's own memory: its arrays are on
 * SharedArrayBuffers (LexicalPostings.shareable), so a thread costs its vocabulary map, not a copy of
 * the postings. A request goes to the thread with the fewest waiting; the answer's arrays are moved back.
 *
 * A filter is a closure over the service's columns, which a thread cannot call: filtered queries rank
 * on the calling thread (LexicalPostings.top, the same code). A thread that dies fails what it held
 * and is not replaced; with none left, top() answers on the calling thread.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LexicalMatches, LexicalPostings, PostingParts } from './top-k.js';

/** Asked of a thread. */
export interface TopRequest {
  id: number;
  terms: readonly string[];
  k: number;
}
/** A thread's answer. */
export type TopReply = { id: number; matches: LexicalMatches } | { id: number; error: string };

interface Waiting {
  resolve: (matches: LexicalMatches) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  waiting: Map<number, Waiting>;
}

// The entry beside this module, in its own form: top-thread.ts under tsx, top-thread.js once compiled.
const ENTRY = new URL(`./top-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** From TypeScript sources (under tsx) a thread starts here: tsx's loader, then the entry (see the file). */
const TSX_BOOT = new URL('./top-thread-tsx.mjs', import.meta.url);

function startWorker(parts: PostingParts): Worker {
  const options = { workerData: parts, name: 'lexical-top' };
  return ENTRY.pathname.endsWith('.ts') ? new Worker(TSX_BOOT, { ...options, argv: [ENTRY.href] }) : new Worker(ENTRY, options);
}

export class LexicalThreads {
  private readonly threads: Thread[] = [];
  private next = 0;
  private closed = false;

  private constructor(private readonly postings: LexicalPostings) {}

  /** Starts `count` threads over `postings` (the arrays are moved onto shared memory first where they are not). */
  static start(postings: LexicalPostings, count: number): LexicalThreads {
    if (!Number.isInteger(count) || count < 1) throw new Error(`lexical threads: ${count} is not a positive whole number`);
    const pool = new LexicalThreads(postings);
    const parts = postings.shareable();
    for (let i = 0; i < count; i++) pool.spawn(parts);
    return pool;
  }

  private spawn(parts: PostingParts): void {
    const thread: Thread = { worker: startWorker(parts), waiting: new Map() };
    thread.worker.on('message', (reply: TopReply) => {
      const waiting = thread.waiting.get(reply.id);
      if (!waiting) return;
      thread.waiting.delete(reply.id);
      if ('matches' in reply) waiting.resolve(reply.matches);
      else waiting.reject(new Error(`lexical thread: ${reply.error}`));
    });
    const fail = (error: Error) => {
      const at = this.threads.indexOf(thread);
      if (at >= 0) this.threads.splice(at, 1);
      for (const waiting of thread.waiting.values()) waiting.reject(error);
      thread.waiting.clear();
    };
    thread.worker.on('error', fail);
    thread.worker.on('exit', (code) => fail(new Error(`lexical thread exited (code ${code})`)));
    this.threads.push(thread);
  }

  /** Threads alive. */
  get size(): number {
    return this.threads.length;
  }

  /** The `k` best documents for `terms`, unfiltered (LexicalPostings.top), found on a thread. */
  top(terms: readonly string[], k: number): Promise<LexicalMatches> {
    if (this.closed) return Promise.reject(new Error('lexical threads: closed'));
    if (this.threads.length === 0) return Promise.resolve(this.postings.top(terms, k));
    // The thread with the fewest waiting; ties in turn.
    let chosen = this.threads[this.next++ % this.threads.length]!;
    for (const thread of this.threads) if (thread.waiting.size < chosen.waiting.size) chosen = thread;
    const id = this.next;
    return new Promise<LexicalMatches>((resolve, reject) => {
      chosen.waiting.set(id, { resolve, reject });
      chosen.worker.postMessage({ id, terms: [...terms], k } satisfies TopRequest);
    });
  }

  /** Stops the threads; what they held is failed. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
    this.threads.length = 0;
  }
}
