/**
 * The ML layer: applying a trained model — the text featuriser and sentence encoder, picture
 * pixels, the ONNX embedder, vector indexes (faiss), the lexical index and hybrid ranking, retrieval
 * and classification metrics. Importing it loads ONNX Runtime and TF.js: only components that embed,
 * rank or train import it. It imports platform/ and contracts/.
 */
export * from './tfjs-wasm.js';
export * from './text-features.js';
export * from './sentence-encoder.js';
export * from './image-pixels.js';
export * from './metrics.js';
export * from './vector-index.js';
export * from './embedder.js';
export * from './index-bundle.js';
export * from './product-vectors.js';
export * from './query-sample.js';
export * from './lexical/index.js';
