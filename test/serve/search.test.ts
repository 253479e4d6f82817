/**
 * The marketplace search API on real parts (the demo catalogue cleaned into PGlite, a small model
 * trained by train, indexes built by index, the Fastify app through `inject`): modes, every filter
 * and sort, pages that neither repeat nor skip, 400s naming the parameter, the note on an empty
 * answer, similar with filters, and the lexical and dense indexes hot-swapped together.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanCatalogue } from '../../components/clean/clean.js';
import { loadGazetteer } from '../../components/core/contracts/index.js';
import { takeSnapshot } from '../../components/clean/snapshot.js';
import { publish } from '../../components/core/contracts/index.js';
import { INDEX_FILES, INDEX_PREFIX } from '../../components/core/ml/index.js';
import { buildIndex } from '../../components/index/build.js';
import { loadExportFolder } from '../../components/load/load.js';
import type { ResultRow } from '../../components/serve/ranking.js';
import { silentLog } from '../helpers.js';
import { demoService, publishServing, type DemoService } from '../serve-fixture.js';

interface Page {
  model: string;
  index: string;
  query: string;
  mode: string;
  sort: string;
  k: number;
  offset: number;
  next: string | null;
  filters: {
    category: string | null;
    minPriceMinor: number | null;
    maxPriceMinor: number | null;
    place: string | null;
    radiusKm: number | null;
  };
  notes: string[];
  results: ResultRow[];
}
interface Refusal {
  statusCode: number;
  message: string;
  parameter?: string;
}

const LEEDS = { lat: 53.7965, lon: -1.5478 };
const nonIncreasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! >= x - 1e-9);
const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x + 1e-9);

describe('marketplace search API', () => {
  let demo: DemoService;

  before(async () => {
    demo = await demoService({ perCategory: 6, imageSize: 64 });
  });
  after(async () => demo?.close());

  const call = async (url: string) => demo.service.app.inject({ method: 'GET', url });
  const get = async <T = Page>(url: string, status = 200): Promise<T> => {
    const response = await call(url);
    assert.equal(response.statusCode, status, `${url}: ${response.body}`);
    return response.json<T>();
  };
  const refused = async (url: string, parameter: string, status = 400) => {
    const body = await get<Refusal>(url, status);
    assert.equal(body.parameter, parameter, `${url}: ${body.message}`);
    return body;
  };

  it('answers hybrid by default, each result saying why it is there', async () => {
    const page = await get('/search?q=corner%20sofa&k=5');
    assert.equal(page.mode, 'hybrid');
    assert.equal(page.sort, 'relevance');
    assert.equal(page.index, demo.indexVersion);
    assert.equal(page.results.length, 5);
    assert.ok(nonIncreasing(page.results.map((r) => r.score)));
    const [top] = page.results;
    assert.match(top!.title, /corner sofa/i);
    assert.deepEqual(top!.why.titleTerms, ['corner', 'sofa']);
    assert.ok(top!.why.lexicalScore! > 0);
    assert.ok(top!.why.denseSimilarity > 0 && top!.why.denseSimilarity <= 1.0001);
    assert.equal(top!.why.distanceKm, null, 'no place asked for');
    assert.equal(top!.category.split(' / ')[0], top!.root);
    assert.ok(page.next, 'more pages follow');
  });

  it('lexical mode answers only listings holding a query word, by BM25F; dense by similarity alone', async () => {
    const lexical = await get('/search?q=mountain%20bike&mode=lexical&k=20');
    assert.ok(lexical.results.length > 0);
    for (const r of lexical.results) assert.ok(r.why.matchedTerms.length > 0 && r.score === r.why.lexicalScore, JSON.stringify(r));
    assert.ok(nonIncreasing(lexical.results.map((r) => r.score)));
    const dense = await get('/search?q=mountain%20bike&mode=dense&k=20');
    assert.equal(dense.results.length, 20);
    for (const r of dense.results) assert.equal(r.score, r.why.denseSimilarity);
    assert.ok(nonIncreasing(dense.results.map((r) => r.score)));
  });

  it('filters by category: a root, a full path (any case), on every mode', async () => {
    for (const mode of ['hybrid', 'lexical', 'dense']) {
      const byRoot = await get(`/search?q=table&mode=${mode}&category=${encodeURIComponent('Home & Garden')}&k=50`);
      assert.ok(byRoot.results.length > 0, mode);
      assert.ok(
        byRoot.results.every((r) => r.root === 'Home & Garden'),
        mode,
      );
      assert.equal(byRoot.filters.category, 'Home & Garden');
    }
    const path = 'home & garden / garden & patio';
    const byPath = await get(`/search?q=bench&category=${encodeURIComponent(path)}&k=50`);
    assert.ok(byPath.results.length > 0);
    assert.ok(byPath.results.every((r) => r.category.toLowerCase() === path));
    // A bare slash separates levels too (a level may hold one itself, as "Ham/Amateur Radios" does).
    const bare = await get(`/search?q=bench&category=${encodeURIComponent('Home & Garden/Garden & Patio')}&k=50`);
    assert.deepEqual(
      bare.results.map((r) => r.id),
      byPath.results.map((r) => r.id),
    );
  });

  it('filters by price range, in pounds, inclusive', async () => {
    const page = await get('/search?q=sofa&mode=dense&min_price=20&max_price=200&k=50');
    assert.ok(page.results.length > 0);
    assert.ok(
      page.results.every((r) => r.priceMinor >= 2000 && r.priceMinor <= 20000),
      page.results.map((r) => r.priceMinor).join(','),
    );
    assert.deepEqual([page.filters.minPriceMinor, page.filters.maxPriceMinor], [2000, 20000]);
  });

  it('filters by distance from a point or a town, and sorts by it', async () => {
    // Every demo description says "[synthetic demo listing]": a query every listing matches alike.
    const q = 'q=demo%20listing';
    const near = await get(`/search?${q}&near=${LEEDS.lat},${LEEDS.lon}&radius_km=45&sort=distance&k=50`);
    assert.ok(near.results.length > 0);
    assert.ok(near.results.every((r) => r.why.distanceKm !== null && r.why.distanceKm <= 45));
    assert.ok(nonDecreasing(near.results.map((r) => r.why.distanceKm!)));
    // Leeds and York (about 35 km) are the only demo places within 45 km of Leeds; Manchester is about 56.
    assert.ok(
      near.results.every((r) => ['Leeds', 'York'].includes(r.town!)),
      near.results.map((r) => r.town).join(','),
    );
    assert.ok(near.results.some((r) => r.town === 'York'));
    const byTown = await get(`/search?${q}&town=Leeds%2C%20West%20Yorkshire&radius_km=45&sort=distance&k=50`);
    assert.deepEqual(
      byTown.results.map((r) => r.id),
      near.results.map((r) => r.id),
      'the gazetteer places Leeds where the point is',
    );
    assert.match(byTown.filters.place!, /Leeds/);
    // A bare town name the gazetteer will not guess at: placed where the catalogue's listings are.
    const bare = await get(`/search?${q}&town=York&radius_km=5&k=50`);
    assert.ok(bare.results.length > 0 && bare.results.every((r) => r.town === 'York'));
    // Without a radius, listings further away stay too, nearest first.
    const sorted = await get(`/search?${q}&near=${LEEDS.lat},${LEEDS.lon}&sort=distance&k=50`);
    assert.ok(
      sorted.results.some((r) => r.why.distanceKm! > 45),
      sorted.results.map((r) => r.why.distanceKm).join(','),
    );
    assert.ok(nonDecreasing(sorted.results.map((r) => r.why.distanceKm ?? Infinity)));
  });

  it('sorts by price both ways, over the relevant listings only', async () => {
    const relevance = await get('/search?q=table&k=100');
    const cheap = await get('/search?q=table&sort=price_asc&k=100');
    const dear = await get('/search?q=table&sort=price_desc&k=100');
    assert.ok(cheap.results.length > 0);
    assert.ok(nonDecreasing(cheap.results.map((r) => r.priceMinor)));
    assert.ok(nonIncreasing(dear.results.map((r) => r.priceMinor)));
    const ids = (p: Page) => p.results.map((r) => r.id).sort();
    assert.deepEqual(ids(cheap), ids(dear), 'both orders of the same listings');
    // The cheapest *tables*: every one holds the word, all come from the relevance ranking, and the
    // cheap filler the dense side adds to the relevance list (anything near "table") is left out.
    assert.ok(
      cheap.results.every((r) => r.why.matchedTerms.includes('table')),
      cheap.results.map((r) => r.title).join(', '),
    );
    const relevant = new Set(relevance.results.map((r) => r.id));
    assert.ok(cheap.results.every((r) => relevant.has(r.id)));
    assert.ok(cheap.results.length < relevance.results.length);
  });

  it('pages through one ranking with cursors: no repeat, no gap, filters on every page', async () => {
    const query = 'q=garden%20table&max_price=300';
    const whole = await get(`/search?${query}&k=100`);
    assert.ok(whole.results.length > 12, `${whole.results.length} results`);
    const seen: string[] = [];
    let url = `/search?${query}&k=5`;
    for (let pages = 0; pages < 50; pages++) {
      const page = await get(url);
      assert.ok(page.results.every((r) => r.priceMinor <= 30000));
      seen.push(...page.results.map((r) => r.id));
      if (!page.next) break;
      url = `/search?${query}&k=5&cursor=${page.next}`;
    }
    assert.deepEqual(
      seen,
      whole.results.map((r) => r.id),
    );
    // offset= reaches the same pages.
    assert.deepEqual(
      (await get(`/search?${query}&k=5&offset=5`)).results.map((r) => r.id),
      seen.slice(5, 10),
    );
    // A cursor sent with another query, or made up, is refused.
    const first = await get(`/search?${query}&k=5`);
    await refused(`/search?q=sofa&k=5&cursor=${first.next}`, 'cursor');
    await refused('/search?q=sofa&cursor=bm90LWEtY3Vyc29y', 'cursor');
    await refused(`/search?${query}&k=5&offset=5&cursor=${first.next}`, 'offset');
    // Past the end: 200, empty, with a note.
    const past = await get(`/search?${query}&k=5&offset=995`);
    assert.deepEqual(past.results, []);
    assert.match(past.notes.join(' '), /past the last/);
  });

  it('answers 200 with an empty list and a note when the filters remove everything', async () => {
    const page = await get('/search?q=sofa&max_price=0.01');
    assert.deepEqual(page.results, []);
    assert.equal(page.next, null);
    assert.match(page.notes.join(' '), /no listing passes the filters \(price ≤ £0\.01\)/);
  });

  it('refuses unknown and malformed parameters with 400 naming each', async () => {
    const unknown = await refused('/search?q=sofa&colour=red', 'colour');
    assert.match(unknown.message, /unknown parameter 'colour'/);
    await refused('/search?q=sofa&min_price=cheap', 'min_price');
    await refused('/search?q=sofa&max_price=-1', 'max_price');
    await refused('/search?q=sofa&min_price=50&max_price=10', 'max_price');
    await refused('/search?q=sofa&near=leeds', 'near');
    await refused('/search?q=sofa&near=91,0', 'near');
    await refused('/search?q=sofa&near=53,-181', 'near');
    await refused('/search?q=sofa&town=Atlantis', 'town');
    await refused('/search?q=sofa&town=Leeds&near=53,-1', 'town');
    await refused('/search?q=sofa&radius_km=10', 'radius_km');
    await refused('/search?q=sofa&near=53,-1&radius_km=0', 'radius_km');
    await refused('/search?q=sofa&sort=distance', 'sort');
    await refused('/search?q=sofa&sort=cheapest', 'sort');
    await refused('/search?q=sofa&mode=fuzzy', 'mode');
    await refused('/search?q=sofa&category=Spaceships', 'category');
    await refused('/search?q=sofa&offset=-1', 'offset');
    await refused('/search?q=sofa&offset=999&k=10', 'offset');
    await refused('/search?q=sofa&k=0', 'k');
    await refused('/search?k=5', 'q');
    await refused('/products/demo-00000/similar?q=sofa', 'q');
    await refused('/products/demo-00000/similar?max_price=x', 'max_price');
    await refused('/products/demo-00000/buyers?colour=red', 'colour');
  });

  it('similar takes the same filters, sorts and pages, never answering the product itself', async () => {
    const [product] = (await get('/search?q=oak%20dining%20table&k=1')).results;
    const page = await get(
      `/products/${product!.id}/similar?category=${encodeURIComponent('Home & Garden')}&max_price=300&sort=price_asc&k=10`,
    );
    assert.ok(page.results.length > 0);
    assert.ok(page.results.every((r) => r.root === 'Home & Garden' && r.priceMinor <= 30000 && r.id !== product!.id));
    assert.ok(nonDecreasing(page.results.map((r) => r.priceMinor)));
    const whole = await get(`/products/${product!.id}/similar?k=30`);
    const first = await get(`/products/${product!.id}/similar?k=15`);
    const second = await get(`/products/${product!.id}/similar?k=15&cursor=${first.next}`);
    assert.deepEqual(
      [...first.results, ...second.results].map((r) => r.id),
      whole.results.map((r) => r.id),
    );
    assert.ok(nonIncreasing(whole.results.map((r) => r.score)));
  });

  it('swaps the lexical and dense indexes together, failing no request; newest sorts by first-seen time', async () => {
    // A listing the first index has never seen, through the real path: raw row, clean, snapshot, index.
    await appendFile(
      path.join(demo.exportDir, 'Products.csv'),
      '78,demo-zebra,"Zebra print rug | in Leeds, West Yorkshire | Gumtree","Home & Garden / Dining, Living Room Furniture","[synthetic demo listing] Zebra print rug, barely used.",£45.00,"Leeds, West Yorkshire"\n',
    );
    await loadExportFolder(demo.exportDir, { db: demo.db, store: demo.store, log: silentLog });
    await cleanCatalogue({ db: demo.db, store: demo.store, log: silentLog, gazetteer: loadGazetteer() });
    const snapshot = await takeSnapshot(demo.db, demo.store);
    assert.notEqual(snapshot.id, demo.snapshotId);
    const second = await buildIndex(
      demo.store,
      demo.db,
      { modelVersion: demo.modelVersion, snapshotId: snapshot.id, buyers: 200 },
      silentLog,
    );
    assert.equal(second.metadata.lexical?.documents, 79);

    assert.deepEqual((await get('/search?q=zebra&mode=lexical')).results, [], 'the old lexical index has no zebra');
    await publishServing(demo.store, demo.modelVersion, second.version, snapshot.id);
    const urls = Array.from(
      { length: 24 },
      (_, i) =>
        [
          '/search?q=zebra%20rug&mode=lexical',
          '/search?q=zebra%20rug',
          `/search?q=rug&near=${LEEDS.lat},${LEEDS.lon}&radius_km=5&mode=dense`,
        ][i % 3]!,
    );
    const [outcome, ...responses] = await Promise.all([demo.state.refresh(), ...urls.map(call)]);
    assert.equal(outcome, 'swapped');
    for (const response of responses) {
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<Page>();
      // Whichever version answered, its lexical and dense sides agree: the zebra is in both or neither.
      const zebra = page.results.some((r) => r.id === 'demo-zebra');
      if (page.index === second.version && page.mode === 'lexical') assert.ok(zebra, 'the new lexical index finds the zebra');
      if (page.index === demo.indexVersion) assert.ok(!zebra, 'the old version never answers the zebra');
    }
    const after = await get('/search?q=zebra%20rug&k=3');
    assert.equal(after.index, second.version);
    assert.equal(after.results[0]?.id, 'demo-zebra');
    assert.deepEqual(after.results[0]?.why.titleTerms, ['zebra', 'rug']);
    const similar = await get('/products/demo-zebra/similar?k=3');
    assert.equal(similar.results.length, 3, 'the new dense index holds the zebra too');

    // The zebra was first seen after every demo listing (one clean, one timestamp): it is the newest.
    const newest = await get(`/search?q=rug&sort=newest&category=${encodeURIComponent('Home & Garden')}&k=20`);
    assert.equal(newest.results[0]?.id, 'demo-zebra');
    const dates = newest.results.map((r) => Date.parse(r.listedAt!));
    assert.ok(nonIncreasing(dates));
  });

  it('still serves an index published before the lexical index, by the embedding, saying so', async () => {
    // The current index's files without the lexical ones, its metadata without `lexical`: what an index
    // built before this change looks like.
    const current = demo.state.current()!;
    const legacy = 'ix-legacy00000000';
    const files = await Promise.all(
      [INDEX_FILES.products, INDEX_FILES.productRows, INDEX_FILES.productVectors, INDEX_FILES.buyers, INDEX_FILES.buyerRows].map(
        async (name) => ({ name, body: await demo.store.get(`${INDEX_PREFIX(current.indexVersion)}/${name}`) }),
      ),
    );
    const { lexical: _lexical, ...metadata } = current.index.metadata;
    await publish(demo.store, INDEX_PREFIX(legacy), files, { kind: 'index', version: legacy, metadata });
    await publishServing(demo.store, demo.modelVersion, legacy, current.index.metadata.snapshotId);
    assert.equal(await demo.state.refresh(), 'swapped');
    const page = await get('/search?q=corner%20sofa&k=5');
    assert.equal(page.index, legacy);
    assert.equal(page.results.length, 5);
    assert.match(page.notes.join(' '), /has no lexical index/);
    assert.ok(
      page.results.every((r) => r.why.lexicalScore === null),
      'no lexical scores without a lexical index',
    );
    // Back to the index with a lexical part.
    await publishServing(demo.store, demo.modelVersion, current.indexVersion, current.index.metadata.snapshotId);
    assert.equal(await demo.state.refresh(), 'swapped');
  });

  it('refuses a cursor issued by another index version with 409', async () => {
    const page = await get('/search?q=table&k=2');
    const cursor = JSON.parse(Buffer.from(page.next!, 'base64url').toString('utf8')) as { v: string; o: number; f: string };
    const stale = Buffer.from(JSON.stringify({ ...cursor, v: 'ix-0000000000000000' })).toString('base64url');
    const body = await refused(`/search?q=table&k=2&cursor=${stale}`, 'cursor', 409);
    assert.match(body.message, /start again from the first page/);
  });
});
