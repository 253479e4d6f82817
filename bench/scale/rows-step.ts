/**
 * The search service's memory for product rows at N listings, in its own process: the rows as the service
 * holds them today (one IndexedProduct object each, parsed from the index's product-rows JSON, and the id ->
 * position Map loaded.ts builds), measured as V8 heap growth after a full GC (the RSS delta is reported but
 * is not a measure of the rows: the rows JSON is resident, and freed pages are reused, before it is parsed). Rows are drawn from the
 * synthetic catalogue's vocabulary (titles, category paths, towns as the real export has them).
 * Usage: node --expose-gc --import tsx bench/scale/rows-step.ts --n N [--data ../shared/data]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readVocabulary } from './generate.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string' },
    data: { type: 'string', default: path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data') },
  },
});
const n = Number(values.n);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const vocabulary = await readVocabulary(values.data!);
let state = 7;
const random = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 2 ** 32;
};
const hex = () =>
  Math.floor(random() * 2 ** 32)
    .toString(16)
    .padStart(8, '0');

// The rows JSON as the index publishes it, built in pieces (a single 10^6-row string is what the service reads).
const pieces: string[] = [];
for (let i = 0; i < n; i++) {
  const listing = vocabulary.listings[Math.floor(random() * vocabulary.listings.length)]!;
  const [town, county] = (vocabulary.towns[Math.floor(random() * vocabulary.towns.length)] ?? '').split(', ');
  const id = `${hex()}-${hex().slice(0, 4)}-4${hex().slice(0, 3)}-${hex().slice(0, 4)}-${hex()}${hex().slice(0, 4)}`;
  const pathParts = listing.category.split(' / ');
  pieces.push(
    JSON.stringify({
      id,
      title: listing.title,
      root: pathParts[0],
      priceMinor: listing.pricePence,
      town: town ?? null,
      county: county ?? null,
      latitude: 51 + random(),
      longitude: -1 + random(),
      imageKey: `images/${id}.jpg`,
      path: pathParts,
      listedAt: '2022-02-26T00:00:00.000Z',
    }),
  );
}
const json = `[${pieces.join(',')}]`;
pieces.length = 0;
gc();
const before = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
const rows = JSON.parse(json) as { id: string }[];
const positionById = new Map<string, number>();
rows.forEach((row, position) => positionById.set(row.id, position));
gc();
const after = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
console.log(
  JSON.stringify({
    n,
    jsonBytesPerListing: Buffer.byteLength(json) / n,
    heapBytesPerListing: (after.heap - before.heap) / n,
    rssBytesPerListing: (after.rss - before.rss) / n,
    rows: rows.length + positionById.size - n,
  }),
);
