/**
 * The search service's memory for product rows at N listings, in its own process, in two layouts read
 * from the same products.json bytes, one after the other:
 *  - objects: one IndexedProduct object each (JSON.parse, checked by zod) and an id -> position Map (what
 *    the service held before product-rows.ts);
 *  - columns: ProductRows.fromJson (typed arrays, UTF-8 buffers, dictionaries, an id table: what it holds now).
 * Measured as growth of V8 heap + external memory (typed arrays' and Buffers' bytes live outside the V8
 * heap) after a full GC, and the time to read the rows. The RSS delta is reported but is not a measure
 * of the rows (the JSON is resident, and freed pages are reused, before it is parsed). Rows are drawn from
 * the synthetic catalogue's vocabulary (titles, category paths, towns as the real export has them).
 * Usage: node --expose-gc --import tsx bench/scale/rows-step.ts --n N [--data ../shared/data]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { IndexedProduct, ProductRows } from '../../components/core/ml/index.js';
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
const json = Buffer.from(`[${pieces.join(',')}]`);
pieces.length = 0;

/** After a full GC, and a pause: the external bytes of freed buffers are given back after the collection, not in it. */
const usage = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const m = process.memoryUsage();
  return { bytes: m.heapUsed + m.external, rss: m.rss };
};
async function measure<T>(read: () => T, probe: (held: T) => number) {
  const before = await usage();
  const started = performance.now();
  const held = read();
  const seconds = (performance.now() - started) / 1000;
  const after = await usage();
  return {
    readSeconds: seconds,
    bytesPerListing: (after.bytes - before.bytes) / n,
    rssBytesPerListing: (after.rss - before.rss) / n,
    check: probe(held),
  };
}

const objects = await measure(
  () => {
    // As openSearchIndex read them: parsed whole, then checked.
    const rows = z.array(IndexedProduct).parse(JSON.parse(json.toString('utf8')));
    const positionById = new Map<string, number>();
    rows.forEach((row, position) => positionById.set(row.id, position));
    return { rows, positionById };
  },
  (held) => held.positionById.get(held.rows[n - 1]!.id)!,
);
const columns = await measure(
  () => ProductRows.fromJson(json),
  (rows) => rows.positionOf(rows.id(n - 1))!,
);
console.log(
  JSON.stringify({
    n,
    jsonBytesPerListing: json.length / n,
    objects,
    columns,
    // The figure the projection reads: what the service holds now.
    heapBytesPerListing: columns.bytesPerListing,
    ratio: columns.bytesPerListing / objects.bytesPerListing,
  }),
);
