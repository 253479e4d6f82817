/**
 * A lexical search thread's entry (worker_threads): opens the postings it was handed on shared memory
 * (workerData: PostingParts) and answers top-k requests one after another (top-threads.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LexicalPostings, type PostingParts } from './top-k.js';
import type { TopReply, TopRequest } from './top-threads.js';

if (!parentPort) throw new Error('top-thread.ts is a worker thread entry, started by LexicalThreads');
const port = parentPort;
const postings = new LexicalPostings(workerData as PostingParts);
port.on('message', ({ id, terms, k }: TopRequest) => {
  let reply: TopReply;
  try {
    reply = { id, matches: postings.top(terms, k) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  // The answer's arrays are moved, not copied, back to the asking thread.
  const moved =
    'matches' in reply ? [reply.matches.docs, reply.matches.scores, reply.matches.matched, reply.matches.inTitle].map((a) => a.buffer) : [];
  port.postMessage(reply, moved as ArrayBuffer[]);
});
