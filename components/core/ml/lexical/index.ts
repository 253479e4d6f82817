/** The lexical index (BM25F), hybrid ranking over it and the dense index, and search-quality measurement. */
export * from './tokenize.js';
export * from './top-k.js';
export * from './top-threads.js';
export * from './bm25.js';
export * from './hybrid.js';
export * from './quality.js';
