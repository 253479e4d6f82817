/**
 * The import rules of the repository, checked by `npm run check:imports` (and in npm test by
 * test/architecture.test.ts). Layers import only downward:
 *   components/core/platform  <-  components/core/contracts  <-  components/core/ml
 *   <-  components/<step>  <-  pipelines/, bench/, test/
 * and nothing anywhere imports in a circle.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: modules that cannot be read, tested or loaded one without the other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'platform-imports-no-layer-above',
      severity: 'error',
      comment: 'platform/ is what everything runs on: it knows nothing of contracts, models or components.',
      from: { path: '^components/core/platform/' },
      to: { path: '^components/(core/(contracts|ml)/|(?!core/))' },
    },
    {
      name: 'contracts-import-no-ml',
      severity: 'error',
      comment: 'A component that only reads a contract must not load ONNX Runtime or TF.js.',
      from: { path: '^components/core/contracts/' },
      to: { path: '^components/(core/ml/|(?!core/))' },
    },
    {
      name: 'core-imports-no-component',
      severity: 'error',
      comment: 'The shared library serves the components; it never reaches into one.',
      from: { path: '^components/core/' },
      to: { path: '^(components/(?!core/)|pipelines/|bench/|test/)' },
    },
    {
      name: 'components-import-no-other-component',
      severity: 'error',
      comment: 'Each component is its own container: what two share lives in core/.',
      from: { path: '^components/([^/]+)/', pathNot: '^components/core/' },
      to: { path: '^components/([^/]+)/', pathNot: ['^components/$1/', '^components/core/'] },
    },
    {
      name: 'components-import-through-layer-entry',
      severity: 'error',
      comment: "A component imports a core layer through its index.ts, the layer's public surface.",
      from: { path: '^components/(?!core/)' },
      to: { path: '^components/core/(platform|contracts|ml)/', pathNot: '^components/core/(platform|contracts|ml)/index\\.ts$' },
    },
    {
      name: 'lean-commands-load-no-model-runtime',
      severity: 'error',
      comment: 'Loading, cleaning, deploying and compiling never run a model: they must not pay for ONNX Runtime or TF.js at start-up.',
      from: { path: '^(components/(load|clean|deploy)/main|pipelines/cli/compile)\\.ts$' },
      to: { path: '^node_modules/(onnxruntime-node|@tensorflow|@tensorflow-models|faiss-node|@energetic-ai)/', reachable: true },
    },
    {
      name: 'product-code-imports-no-tests-or-benches',
      severity: 'error',
      from: { path: '^(components|pipelines)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'dsl-imports-no-product',
      severity: 'error',
      comment: "The pipeline DSL is a library: it knows nothing of this product's pipeline or components.",
      from: { path: '^pipelines/dsl/' },
      to: { path: '^(components/|pipelines/(?!dsl/))' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
