/**
 * The lexical top-k (LexicalIndex.top) on a published index, with its seed pass against plain MaxScore
 * (seedPostings 0) in the same run: both on the same queries, one after the other query by query (so
 * that the machine's drift falls on both), and their answers compared bit for bit. The queries are
 * catalogue titles, whole (known-item search, the lexical worst case) and their first two words, at the
 * k the hybrid ranking asks for each (hybridLexicalK: the index's lexicalPool, priorPool, longPriorPool).
 * Usage: node --import tsx bench/scale/lexical-top.ts --home <MARKETPLACE_HOME> [--index ix-…] [--queries 1000] [--rounds 3]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_FUSION,
  evenSample,
  hybridLexicalK,
  INDEX_FILES,
  INDEX_PREFIX,
  IndexMetadata,
  LexicalIndex,
  queryTerms,
  SEED_POSTINGS,
  SHORT_QUERY_TERMS,
} from '../../components/core/ml/index.js';

const { values } = parseArgs({
  options: {
    home: { type: 'string' },
    index: { type: 'string' },
    queries: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.home) {
  process.stdout.write(
    'Usage: node --import tsx bench/scale/lexical-top.ts --home <MARKETPLACE_HOME> [--index ix-…] [--queries 1000] [--rounds 3]\n',
  );
  process.exit(values.help ? 0 : 2);
}
const artifacts = path.join(values.home, 'artifacts');
const version =
  values.index ??
  (JSON.parse(readFileSync(path.join(artifacts, 'serving/current.json'), 'utf8')) as { index: { version: string } }).index.version;
const folder = path.join(artifacts, INDEX_PREFIX(version));
const metadata = IndexMetadata.parse(JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8')).metadata);
const fusion = metadata.lexical?.fusion ?? DEFAULT_FUSION;
const kOf = (terms: readonly string[]) => hybridLexicalK(fusion, terms);
const lexical = LexicalIndex.fromFiles(
  readFileSync(path.join(folder, INDEX_FILES.lexicalHeader)),
  readFileSync(path.join(folder, INDEX_FILES.lexicalPostings)),
);
const titles = (JSON.parse(readFileSync(path.join(folder, INDEX_FILES.productRows), 'utf8')) as { title: string }[]).map((r) => r.title);
const sample = evenSample(titles, Number(values.queries));
process.stdout.write(
  `${version}: ${lexical.documents} listings, ${lexical.header.postings} postings; top ${fusion.priorPool}, ${fusion.longPriorPool} for a query of more than ${SHORT_QUERY_TERMS} terms; ${sample.length} queries\n`,
);

const variants = [
  { name: 'plain MaxScore', seed: 0 },
  { name: `seeded (${SEED_POSTINGS})`, seed: SEED_POSTINGS },
];
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p50: at(0.5), p99: at(0.99) };
};
const out: Record<string, unknown> = {};
for (const [name, texts] of [
  ['whole titles', sample],
  ['first two words', sample.map((t) => t.split(/\s+/).slice(0, 2).join(' '))],
] as const) {
  const queries = texts.map((t) => queryTerms(t)).filter((terms) => terms.length > 0);
  let differ = 0;
  for (const terms of queries) {
    const [a, b] = variants.map((v) => lexical.top(terms, kOf(terms), undefined, v.seed));
    const same = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.from(x).every((value, i) => value === y[i]);
    if (!same(a!.docs, b!.docs) || !same(a!.scores, b!.scores) || !same(a!.matched, b!.matched) || !same(a!.inTitle, b!.inTitle)) differ++;
  }
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < Number(values.rounds); round++)
    for (const terms of queries)
      variants.forEach((v, i) => {
        const start = performance.now();
        lexical.top(terms, kOf(terms), undefined, v.seed);
        times[i]!.push(performance.now() - start);
      });
  const [plain, seeded] = times.map(summary);
  for (const [i, s] of [plain!, seeded!].entries())
    process.stdout.write(`${name}, ${variants[i]!.name}: mean ${s.mean.toFixed(3)} ms, p50 ${s.p50.toFixed(3)}, p99 ${s.p99.toFixed(3)}\n`);
  process.stdout.write(
    `${name}: seeded / plain ${(seeded!.mean / plain!.mean).toFixed(2)}x mean, ${(seeded!.p50 / plain!.p50).toFixed(2)}x p50, ${(seeded!.p99 / plain!.p99).toFixed(2)}x p99; answers that differ: ${differ} of ${queries.length}\n`,
  );
  out[name] = { plain, seeded, differ, queries: queries.length };
}
process.stdout.write(`${JSON.stringify({ bench: 'lexical-top', version, fusion, seedPostings: SEED_POSTINGS, ...out })}\n`);
