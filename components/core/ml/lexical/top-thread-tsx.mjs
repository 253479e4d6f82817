/**
 * A lexical thread's first module when the service runs from its TypeScript sources (npm run serve,
 * the tests: under tsx). Node 20 does not carry the main thread's module loader into a worker, and tsx
 * registers itself on the main thread only, so this registers tsx's loader in the thread, then loads
 * the thread's entry (top-thread.ts, the first argument LexicalThreads gives the thread).
 *
 * Dev only, like tsx itself (a dev dependency): the images run the compiled code, whose threads start
 * from top-thread.js directly; this file is neither compiled nor copied into them.
 */
import { argv } from 'node:process';
import { register } from 'tsx/esm/api';

register();
await import(argv[2]);
