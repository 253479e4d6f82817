/**
 * The EDA report of a snapshot: one standalone HTML file (no scripts, no network) with charts drawn
 * by Vega-Lite and rendered to SVG by Vega on the server: price distribution per root category,
 * listings on a map, category counts, text lengths, image sizes, top terms, quarantine rules.
 */
import { chartSvg as svg, htmlReport, type ArtifactStore, type Database, type Figure } from '../core/platform/index.js';
import type { Snapshot } from './snapshot.js';

/** Rows drawn per chart at most: the report stays a few hundred kilobytes at any catalogue size. */
const SAMPLE = 5000;

const STOPWORDS = new Set(
  'the and for with you are this that from have has all any can but not was its our your per will just one two new used good great very also more only some into out off use set size sale each like well comes come please collection collect condition phone email item items excellent'.split(
    ' ',
  ),
);

export async function edaReport(db: Database, snapshot: Snapshot): Promise<string> {
  // A stable sample: the same catalogue draws the same rows (order by a hash of the id, not random()).
  const products = await db.query<{ root: string; price: number; lat: number | null; lon: number | null; length: number; text: string }>(
    `SELECT root_category AS root, price_minor / 100.0 AS price, latitude AS lat, longitude AS lon,
            length(text_clean) AS length, text_clean AS text
       FROM products ORDER BY md5(id) LIMIT ${SAMPLE}`,
  );
  const images = await db.query<{ width: number; height: number; mode: string }>(
    `SELECT width, height, mode FROM product_images ORDER BY md5(id) LIMIT ${SAMPLE}`,
  );
  const rows = products.rows;
  const categories = Object.entries(snapshot.counts.rootCategories).map(([root, count]) => ({ root, count }));
  const rules = Object.entries(snapshot.counts.quarantineRules).map(([rule, count]) => ({ rule, count }));
  const terms = topTerms(
    rows.map((r) => r.text),
    30,
  );
  const located = rows.filter((r) => r.lat !== null && r.lon !== null);
  const width = 640;

  const figures: Figure[] = [
    {
      title: 'Listings per root category',
      note: `${snapshot.products} products in ${categories.length} root categories.`,
      body: await svg({
        width,
        data: { values: categories },
        mark: 'bar',
        encoding: {
          y: { field: 'root', type: 'nominal', sort: '-x', title: null },
          x: { field: 'count', type: 'quantitative', title: 'listings' },
        },
      }),
    },
    {
      title: 'Price per root category',
      note: 'Box plots of prices in pounds, log scale; outliers were quarantined by the Tukey fences of each category.',
      body: await svg({
        width,
        data: { values: rows.map((r) => ({ root: r.root, price: r.price })) },
        mark: { type: 'boxplot', extent: 1.5 },
        encoding: {
          y: { field: 'root', type: 'nominal', title: null },
          x: { field: 'price', type: 'quantitative', scale: { type: 'log' }, title: 'price (£, log scale)' },
        },
      }),
    },
    {
      title: 'Listings on the map',
      note: `${snapshot.counts.located} of ${snapshot.products} listings placed by the offline gazetteer (GeoNames, CC BY 4.0); the rest have no coordinates, with a reason.`,
      body: await svg({
        width: 420,
        height: 560,
        data: { values: located.map((r) => ({ lat: r.lat, lon: r.lon, root: r.root })) },
        projection: { type: 'mercator' },
        mark: { type: 'circle', size: 12, opacity: 0.5 },
        encoding: {
          latitude: { field: 'lat', type: 'quantitative' },
          longitude: { field: 'lon', type: 'quantitative' },
          color: { field: 'root', type: 'nominal', title: 'root category' },
        },
      }),
    },
    {
      title: 'Length of the text the model reads',
      note: 'Characters of the cleaned title and description.',
      body: await svg({
        width,
        data: { values: rows.map((r) => ({ length: r.length })) },
        mark: 'bar',
        encoding: {
          x: { field: 'length', type: 'quantitative', bin: { maxbins: 40 }, title: 'characters' },
          y: { aggregate: 'count', type: 'quantitative', title: 'listings' },
        },
      }),
    },
    {
      title: 'Image sizes',
      note:
        images.rows.length > 0
          ? `${snapshot.productImages} decoded images.`
          : 'No decoded images in this snapshot (the public export carries none: every image row is in quarantine).',
      body:
        images.rows.length > 0
          ? await svg({
              width,
              data: { values: images.rows },
              mark: { type: 'circle', opacity: 0.5 },
              encoding: {
                x: { field: 'width', type: 'quantitative' },
                y: { field: 'height', type: 'quantitative' },
                color: { field: 'mode', type: 'nominal' },
              },
            })
          : '',
    },
    {
      title: 'Top terms',
      note: 'Most frequent words of three letters or more in the cleaned text, common words left out.',
      body: await svg({
        width,
        data: { values: terms },
        mark: 'bar',
        encoding: {
          y: { field: 'term', type: 'nominal', sort: '-x', title: null },
          x: { field: 'count', type: 'quantitative', title: 'listings using it' },
        },
      }),
    },
    {
      title: 'Quarantine',
      note: `${snapshot.quarantined} raw rows refused, by the rule that caught them.`,
      body:
        rules.length > 0
          ? await svg({
              width,
              data: { values: rules },
              mark: 'bar',
              encoding: {
                y: { field: 'rule', type: 'nominal', sort: '-x', title: null },
                x: { field: 'count', type: 'quantitative', scale: { type: 'symlog' }, title: 'rows (symlog scale)' },
              },
            })
          : '',
    },
  ];
  return page(snapshot, figures);
}

/** Words by the number of listings using them. */
export function topTerms(texts: readonly string[], count: number): { term: string; count: number }[] {
  const frequency = new Map<string, number>();
  for (const text of texts) {
    const words = new Set(text.toLowerCase().match(/\p{L}{3,}/gu) ?? []);
    for (const word of words) if (!STOPWORDS.has(word)) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  }
  return [...frequency.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, count)
    .map(([term, n]) => ({ term, count: n }));
}

function page(snapshot: Snapshot, figures: Figure[]): string {
  return htmlReport({
    title: `Catalogue ${snapshot.id}`,
    facts: [
      ['snapshot hash', snapshot.hash],
      ['taken', snapshot.createdAt],
      ['products', snapshot.products],
      ['images', snapshot.productImages],
      ['in quarantine', snapshot.quarantined],
      ['placed on the map', snapshot.counts.located],
    ],
    figures,
    footer: 'Charts: Vega-Lite, rendered to SVG. Place names and coordinates: GeoNames (CC BY 4.0).',
  });
}

export const REPORT_KEY = (snapshotId: string) => `reports/${snapshotId}/eda.html`;

/** Writes the snapshot's report to the artifact store (once per snapshot: the same catalogue, the same report). */
export async function publishReport(db: Database, store: ArtifactStore, snapshot: Snapshot): Promise<{ uri: string; html: string }> {
  const key = REPORT_KEY(snapshot.id);
  if (await store.exists(key)) return { uri: store.uri(key), html: (await store.get(key)).toString('utf8') };
  const html = await edaReport(db, snapshot);
  await store.put(key, html, { contentType: 'text/html; charset=utf-8' });
  return { uri: store.uri(key), html };
}
