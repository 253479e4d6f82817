/**
 * `tsx bench/prior-pool.ts --artifacts <dir>`: how many of a query's best lexical matches the hybrid
 * ranker's lexical category priors read (FusionConfig.priorPool), against reading every match (what
 * the ranker did before MaxScore, and what `--pools all` still measures), in one run on one published
 * version: for each pool the fusion weights are refitted on the validation listings' queries (as the
 * index component fits them), then the test listings' queries are scored (as evaluate scores them),
 * and the hybrid ranking's time per query is measured on those queries, settings interleaved.
 *
 * A setting is a pool (every query reads it) or short/long: `300/100` reads 300 for a query of up to
 * SHORT_QUERY_TERMS terms and 100 for a longer one (FusionConfig.longPriorPool). Such a setting is
 * also scored with the weights fitted for its short pool alone (`300/100, weights of 300`): what an
 * index published before longPriorPool ranks with, its weights fitted when every query read 300.
 *
 * The version is the store's serving record (serving/current.json) unless --model/--index name one; the
 * split (which listings are validation and test) is the model's split.json.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_FILES, MODEL_PREFIX, ServingRecord, SplitFile } from '../components/core/contracts/index.js';
import {
  DEFAULT_FUSION,
  embedQueryTexts,
  evenSample,
  fitOnListings,
  makeQueries,
  prepareQueries,
  rankHybrid,
  scoreModes,
  type FusionConfig,
} from '../components/core/ml/index.js';
import { openFsStore } from '../components/core/platform/index.js';
import { loadVersion } from '../components/serve/loaded.js';

const { values } = parseArgs({
  options: {
    artifacts: { type: 'string' },
    model: { type: 'string' },
    index: { type: 'string' },
    pools: { type: 'string', default: 'all,1000,300,300/100,100' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.artifacts) {
  process.stdout.write(
    'usage: tsx bench/prior-pool.ts --artifacts <artifact folder> [--model m-…] [--index ix-…] [--pools all,1000,300,300/100,100]\n',
  );
  process.exit(values.help ? 0 : 2);
}
const store = openFsStore(path.resolve(values.artifacts));
const serving =
  values.model && values.index ? null : ServingRecord.parse(JSON.parse((await store.get('serving/current.json')).toString('utf8')));
const modelVersion = values.model ?? serving!.model.version;
const indexVersion = values.index ?? serving!.index?.version;
if (!indexVersion) throw new Error(`${values.artifacts}: the serving record names no index (pass --index)`);
const version = await loadVersion(store, { modelVersion, indexVersion }, { productVectors: 'float32' });
const { catalogue } = version.search;
const rows = version.index.productRows;
const split = SplitFile.parse(JSON.parse((await store.get(`${MODEL_PREFIX(modelVersion)}/${MODEL_FILES.split}`)).toString('utf8')));
const positionsOf = (ids: readonly string[]) => ids.map((id) => rows.positionOf(id)).filter((p): p is number => p !== undefined);
const titles = Array.from({ length: rows.length }, (_, i) => rows.title(i));
const embed = (texts: { title: string }[]) => version.embedder.embedTexts(texts);

const testQueries = makeQueries(titles, evenSample(positionsOf(split.test)));
const prepared = prepareQueries(
  testQueries,
  await embedQueryTexts(
    embed,
    testQueries.map((q) => q.text),
    version.dim,
  ),
  version.dim,
);
const size = (text: string) => {
  const pool = text.trim() === 'all' ? rows.length : Number(text);
  if (!Number.isInteger(pool) || pool < 1) throw new Error(`--pools: '${text}' is not a pool (a positive whole number or 'all')`);
  return pool;
};
const settings = String(values.pools)
  .split(',')
  .map((spec) => {
    const [short, long = short] = spec.split('/').map((part) => part.trim());
    return { name: spec.trim(), short: size(short!), long: size(long!) };
  });
const configs: { pool: string; config: FusionConfig; fitQueries: number; objective: number }[] = [];
for (const { name, short, long } of settings) {
  const base: FusionConfig = { ...DEFAULT_FUSION, priorPool: short, longPriorPool: long };
  const fit = await fitOnListings(catalogue, titles, evenSample(positionsOf(split.val)), embed, base);
  configs.push({ pool: name, config: fit?.config ?? base, fitQueries: fit?.queries ?? 0, objective: fit?.objective ?? Number.NaN });
}
for (const { name, short, long } of settings) {
  const alone = configs.find((c) => c.config.priorPool === short && c.config.longPriorPool === short);
  if (long !== short && alone)
    configs.push({ ...alone, pool: `${name}, weights of ${alone.pool}`, config: { ...alone.config, longPriorPool: long } });
}
const times = configs.map(() => [] as number[]);
for (let round = 0; round < 3; round++)
  for (const query of prepared)
    for (let c = 0; c < configs.length; c++) {
      const at = (round + c) % configs.length; // a different setting goes first each round
      const started = performance.now();
      rankHybrid(catalogue, query, configs[at]!.config);
      times[at]!.push(performance.now() - started);
    }
const percentile = (list: number[], p: number) => [...list].sort((a, b) => a - b)[Math.floor((list.length - 1) * p)]!;
const results = configs.map(({ pool, config, fitQueries, objective }, c) => {
  const scores = scoreModes(catalogue, prepared, config).hybrid;
  return {
    priorPool: pool,
    fitQueries,
    fitObjective: objective,
    knownItemMrr: scores.knownItem.mrr,
    knownItemRecallAt1: scores.knownItem.recallAt1,
    shortNdcgAt10: scores.short.ndcgAt10,
    shortPrecisionAt10: scores.short.precisionAt10,
    rankMsP50: percentile(times[c]!, 0.5),
    rankMsP99: percentile(times[c]!, 0.99),
    weights: config.weights,
  };
});
process.stdout.write(
  `prior pool on ${rows.length} listings (model ${modelVersion}, index ${indexVersion}), ${prepared.length} test queries\n\n` +
    '| prior pool | known-item MRR | recall@1 | short nDCG@10 | short P@10 | hybrid rank p50 / p99 ms |\n|---|---:|---:|---:|---:|---:|\n' +
    results
      .map(
        (r) =>
          `| ${r.priorPool} | ${r.knownItemMrr.toFixed(4)} | ${r.knownItemRecallAt1.toFixed(4)} | ${r.shortNdcgAt10.toFixed(4)} | ${r.shortPrecisionAt10.toFixed(4)} | ${r.rankMsP50.toFixed(2)} / ${r.rankMsP99.toFixed(2)} |`,
      )
      .join('\n') +
    `\n\n${JSON.stringify({ benchmark: 'prior-pool', listings: rows.length, queries: prepared.length, results })}\n`,
);
