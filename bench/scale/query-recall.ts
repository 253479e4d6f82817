/**
 * The published product index's recall for what buyers type, beside the recall the index step measured.
 * The index step tunes nprobe / efSearch on a sample of the catalogue's own vectors as queries; the
 * service searches with text queries, whose neighbourhoods can be sparser. This embeds queries made of
 * catalogue titles (the whole title, and its first two words), searches the published index at a range
 * of settings, and compares with exact search over the published vectors (products.vectors.f32):
 * recall@10 by label and as the index step counts it (a result reaching the exact 10th's score less TIE_EPSILON).
 * Usage: node --import tsx bench/scale/query-recall.ts --home <MARKETPLACE_HOME> [--index ix-…] [--queries 300]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  embedQueryTexts,
  evenSample,
  INDEX_FILES,
  INDEX_PREFIX,
  IndexMetadata,
  loadFaiss,
  loadVectorIndex,
  openEmbedder,
  TIE_EPSILON,
} from '../../components/core/ml/index.js';
import { openFsStore } from '../../components/core/platform/index.js';

const { values } = parseArgs({
  options: { home: { type: 'string' }, index: { type: 'string' }, queries: { type: 'string', default: '300' } },
});
if (!values.home) throw new Error('--home <MARKETPLACE_HOME> is required');
const store = openFsStore(path.join(values.home, 'artifacts'));
const version = values.index ?? JSON.parse((await store.get('serving/current.json')).toString('utf8')).index.version;
const folder = path.join(values.home, 'artifacts', INDEX_PREFIX(version));
const manifest = JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8'));
const metadata = IndexMetadata.parse(manifest.metadata);
const dim = metadata.products.dim;
const k = 10;
const raw = readFileSync(path.join(folder, INDEX_FILES.productVectors));
const vectors = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const titles = (JSON.parse(readFileSync(path.join(folder, INDEX_FILES.productRows), 'utf8')) as { title: string }[]).map((r) => r.title);
const sample = evenSample(titles, Number(values.queries));
const embedder = await openEmbedder(store, metadata.modelVersion);
const exact = new (loadFaiss().IndexFlatIP)(dim);
exact.addFloat32(vectors);
const index = loadVectorIndex(readFileSync(path.join(folder, INDEX_FILES.products)), metadata.products);
const ivf = metadata.products.type.startsWith('IVF');
process.stdout.write(
  `${version}: ${metadata.products.type}, ${metadata.products.vectors} vectors; the index step measured recall ${metadata.products.recall} (by label ${metadata.products.labelRecall ?? '-'}) at ${ivf ? 'nprobe' : 'efSearch'} ${metadata.products.nprobe ?? metadata.products.efSearch}\n`,
);
for (const [name, texts] of [
  ['whole titles', sample],
  ['first two words', sample.map((t) => t.split(/\s+/).slice(0, 2).join(' '))],
] as const) {
  const queries = await embedQueryTexts((t) => embedder.embedTexts(t), texts, dim);
  const truth = exact.searchFloat32(queries, k);
  for (const setting of ivf ? [1, 2, 4, 8, 16, 32, 64, 128] : [16, 32, 64, 128, 256]) {
    index.setSearchParameter(ivf ? 'nprobe' : 'efSearch', setting);
    const found = index.searchFloat32(queries, k).labels;
    let byLabel = 0;
    let tied = 0;
    for (let q = 0; q < texts.length; q++) {
      const expected = new Set(truth.labels.subarray(q * k, q * k + k));
      const kth = truth.distances[q * k + k - 1]! - TIE_EPSILON;
      for (let j = 0; j < k; j++) {
        const label = found[q * k + j]!;
        if (label < 0) continue;
        if (expected.has(label)) byLabel++;
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += queries[q * dim + d]! * vectors[label * dim + d]!;
        if (dot >= kth) tied++;
      }
    }
    const n = texts.length * k;
    process.stdout.write(
      `  ${name}, ${ivf ? 'nprobe' : 'efSearch'} ${setting}: recall@10 ${(tied / n).toFixed(3)} (by label ${(byLabel / n).toFixed(3)})\n`,
    );
  }
}
await embedder.close();
