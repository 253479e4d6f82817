/**
 * The search service on real parts: the demo catalogue loaded, cleaned and pinned, a small model
 * trained by the train component, indexes built by the index component, all in a temporary folder
 * store; the Fastify app answered through `inject` (no port). Covers the answers, the refusals, the
 * metrics, the hot swap and a corrupt index on reload.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { openFsStore, type ArtifactStore, type Database } from '../../components/core/platform/index.js';
import { INDEX_FILES, INDEX_PREFIX, type IndexedProduct } from '../../components/core/ml/index.js';
import { buildIndex } from '../../components/index/build.js';
import { buildApp, type SearchApp } from '../../components/serve/app.js';
import type { ResultRow } from '../../components/serve/ranking.js';
import type { ProductHit } from '../../components/serve/search.js';
import { ServingState, servingRecordSource } from '../../components/serve/state.js';
import { silentLog, tempDir } from '../helpers.js';
import { demoService, publishServing as serve } from '../serve-fixture.js';

type Hit = ProductHit;
interface SearchBody {
  model: string;
  index: string;
  results: Hit[];
  tookMs: number;
}
interface BuyersBody {
  model: string;
  index: string;
  product: { id: string; priceMinor: number; latitude: number | null };
  radiusKm: number;
  distanceFilter: boolean;
  results: {
    id: string;
    score: number;
    distanceKm: number | null;
    priceBand: { minMinor: number; maxMinor: number };
    interest: { category: string; weight: number } | null;
    reasons: string[];
  }[];
}

const descending = (scores: number[]) => scores.every((score, k) => k === 0 || scores[k - 1]! >= score - 1e-6);

describe('search service on a demo model and index', () => {
  let exportDir: string;
  let db: Database;
  let store: ArtifactStore;
  let snapshotId: string;
  let modelVersion: string;
  let indexVersion: string;
  let state: ServingState;
  let service: SearchApp;
  let closeDemo: (() => Promise<void>) | undefined;
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    // 6 listings in each of the 13 categories, with generated pictures: a model with both towers.
    const demo = await demoService({ perCategory: 6, imageSize: 96 });
    ({ exportDir, db, store, snapshotId, modelVersion, indexVersion, state, service } = demo);
    closeDemo = demo.close;
    assert.ok(demo.imageTower, 'the demo pictures give the model an image tower');
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
    await closeDemo?.();
  });

  const get = async <T>(url: string, status = 200): Promise<T> => {
    const response = await service.app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, status, `${url}: ${response.body}`);
    return response.json<T>();
  };

  it('is alive and ready, naming the versions it serves', async () => {
    assert.deepEqual(await get('/healthz'), { status: 'ok' });
    const ready = await get<{ ready: boolean; model: string; index: string; products: number; lexicalThreads: number }>('/readyz');
    assert.equal(ready.ready, true);
    assert.equal(ready.model, modelVersion);
    assert.equal(ready.index, indexVersion);
    assert.equal(ready.products, 78);
    assert.equal(ready.lexicalThreads, 1, 'the lexical thread the fixture asks for is running');
  });

  it('answers a text query with ranked products and the versions that produced them', async () => {
    const body = await get<SearchBody>('/search?q=mountain%20bike&k=5');
    assert.equal(body.model, modelVersion);
    assert.equal(body.index, indexVersion);
    assert.equal(body.results.length, 5);
    assert.ok(descending(body.results.map((r) => r.score)), 'scores descend');
    assert.ok(body.tookMs >= 0);
    for (const hit of body.results)
      assert.deepEqual(Object.keys(hit).sort(), ['category', 'id', 'listedAt', 'priceMinor', 'root', 'score', 'title', 'town', 'why']);
  });

  it('finds a product by its exact title in the top 10', async () => {
    const rows = state.current()!.index.productRows;
    // Every seventh listing of the catalogue, searched for by its own title.
    for (const product of Array.from(rows).filter((_, k) => k % 7 === 0)) {
      const body = await get<SearchBody>(`/search?q=${encodeURIComponent(product.title)}&k=10`);
      assert.ok(
        body.results.some((hit) => hit.id === product.id),
        `${product.id} '${product.title}' not among ${body.results.map((h) => `${h.id} '${h.title}'`).join(', ')}`,
      );
    }
  });

  it('finds similar products from the stored vector, never the product itself', async () => {
    const [first] = (await get<SearchBody>('/search?q=sofa&k=1')).results;
    const body = await get<SearchBody & { product: { id: string } }>(`/products/${first!.id}/similar?k=5`);
    assert.equal(body.product.id, first!.id);
    assert.equal(body.results.length, 5);
    assert.ok(!body.results.some((hit) => hit.id === first!.id));
    assert.ok(descending(body.results.map((r) => r.score)));
    assert.equal(body.model, modelVersion);
  });

  it('answers 404 for an unknown product', async () => {
    const body = await get<{ message: string }>('/products/no-such-product/similar', 404);
    assert.match(body.message, /no product 'no-such-product'/);
    await get('/products/no-such-product/buyers', 404);
  });

  it('answers every listing with the fields products.json holds (the service holds the rows in columns)', async () => {
    const file = await store.get(`${INDEX_PREFIX(indexVersion)}/${INDEX_FILES.productRows}`);
    const json = JSON.parse(file.toString('utf8')) as IndexedProduct[];
    const rows = state.current()!.index.productRows;
    assert.equal(rows.length, json.length);
    for (const [position, row] of json.entries()) {
      assert.deepEqual(rows.get(position), row);
      const body = await get<{ product: Record<string, unknown> }>(`/products/${encodeURIComponent(row.id)}`);
      assert.deepEqual(body.product, {
        id: row.id,
        title: row.title,
        root: row.root,
        path: row.path ?? [row.root],
        priceMinor: row.priceMinor,
        town: row.town,
        county: row.county,
        latitude: row.latitude,
        longitude: row.longitude,
        listedAt: row.listedAt ?? null,
        hasImage: row.imageKey !== null,
      });
    }
    const byId = new Map(json.map((row) => [row.id, row]));
    for (const q of ['sofa', 'bike', 'table']) {
      for (const result of (await get<{ results: ResultRow[] }>(`/search?q=${q}&k=20`)).results) {
        const row = byId.get(result.id)!;
        const { title, root, category, priceMinor, town, listedAt } = result;
        assert.deepEqual(
          { title, root, category, priceMinor, town, listedAt },
          {
            title: row.title,
            root: row.root,
            category: (row.path ?? [row.root]).join(' / '),
            priceMinor: row.priceMinor,
            town: row.town,
            listedAt: row.listedAt ?? null,
          },
        );
      }
    }
  });

  it('finds buyers for a product within the radius and its price band, with reasons', async () => {
    const products = (await get<SearchBody>('/search?q=dining%20table&k=20')).results;
    let found = 0;
    for (const product of products) {
      const body = await get<BuyersBody>(`/products/${product.id}/buyers?radius_km=40&k=20`);
      assert.equal(body.radiusKm, 40);
      assert.equal(body.distanceFilter, true, 'demo listings are in gazetteer places');
      for (const buyer of body.results) {
        assert.ok(buyer.distanceKm !== null && buyer.distanceKm <= 40, `buyer ${buyer.id} at ${buyer.distanceKm} km`);
        assert.ok(buyer.priceBand.minMinor <= product.priceMinor && product.priceMinor <= buyer.priceBand.maxMinor);
        assert.ok(buyer.reasons.some((reason) => /km away/.test(reason)));
      }
      assert.ok(descending(body.results.map((b) => b.score)));
      found += body.results.length;
    }
    assert.ok(found > 0, 'some buyers live near some of these listings');
  });

  it('answers an image query with a demo picture', async () => {
    const picture = await readFile(path.join(exportDir, 'images', 'demo-img-000000.jpg'));
    const response = await service.app.inject({
      method: 'POST',
      url: '/search/image?k=5',
      payload: picture,
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<SearchBody>();
    assert.equal(body.results.length, 5);
    assert.equal(body.model, modelVersion);
    assert.ok(descending(body.results.map((r) => r.score)));
  });

  it('refuses bad input with 4xx that names the problem', async () => {
    assert.equal((await get<{ parameter: string }>('/search?q=', 400)).parameter, 'q');
    assert.equal((await get<{ parameter: string }>('/search', 400)).parameter, 'q');
    assert.match((await get<{ message: string }>('/search?q=%20%20', 400)).message, /blank/);
    assert.equal((await get<{ parameter: string }>('/search?q=bike&k=101', 400)).parameter, 'k');
    assert.equal((await get<{ parameter: string }>('/search?q=bike&k=0', 400)).parameter, 'k');
    assert.equal((await get<{ parameter: string }>('/search?q=bike&k=ten', 400)).parameter, 'k');
    assert.equal((await get<{ parameter: string }>('/products/demo-00000/buyers?radius_km=-1', 400)).parameter, 'radius_km');
    const notImage = await service.app.inject({
      method: 'POST',
      url: '/search/image',
      payload: Buffer.from('<html>no</html>'),
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(notImage.statusCode, 400, notImage.body);
    assert.match(notImage.json<{ message: string }>().message, /not a readable image/);
    const wrongType = await service.app.inject({
      method: 'POST',
      url: '/search/image',
      payload: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.statusCode, 415);
    const empty = await service.app.inject({ method: 'POST', url: '/search/image', headers: { 'content-type': 'image/png' } });
    assert.equal(empty.statusCode, 400, empty.body);
    await get('/nowhere', 404);
  });

  it('refuses an upload over the size limit (413) and a picture over the pixel limit (400)', async () => {
    const small = await buildApp({ state, log: silentLog, limits: { maxUploadBytes: 2048, maxImagePixels: 100 * 100 } });
    closers.push(() => small.app.close());
    const large = await sharp({
      create: { width: 400, height: 400, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } },
    })
      .jpeg()
      .toBuffer();
    const tooBig = await small.app.inject({
      method: 'POST',
      url: '/search/image',
      payload: large,
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(tooBig.statusCode, 413, tooBig.body);
    const tiny = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    assert.ok(tiny.length < 2048);
    const tooManyPixels = await small.app.inject({
      method: 'POST',
      url: '/search/image',
      payload: tiny,
      headers: { 'content-type': 'image/png' },
    });
    assert.equal(tooManyPixels.statusCode, 400, tooManyPixels.body);
    assert.match(tooManyPixels.json<{ message: string }>().message, /pixel limit/);
  });

  it('exposes Prometheus metrics: latency by route, the served versions, the index size', async () => {
    await get('/search?q=bike');
    const response = await service.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /text\/plain/);
    const text = response.body;
    assert.match(text, /# TYPE http_request_duration_seconds histogram/);
    assert.match(text, /http_request_duration_seconds_bucket\{le="0\.005",route="\/search",method="GET",status_code="200"\}/);
    assert.match(text, /http_request_duration_seconds_count\{route="\/products\/:id\/similar",method="GET",status_code="404"\}/);
    assert.match(text, new RegExp(`search_model_info\\{model_version="${modelVersion}",index_version="${indexVersion}"\\} 1`));
    assert.match(text, /search_index_vectors 78/);
    // The served version's memory by part: the rows in columns, the vectors as int8 codes (dim + 4 bytes each).
    const dim = state.current()!.dim;
    assert.match(text, new RegExp(`search_index_memory_bytes\\{part="product_vectors"\\} ${78 * (dim + 4)}\\b`));
    assert.match(text, /search_index_memory_bytes\{part="product_rows"\} \d+/);
    assert.match(text, /search_index_memory_bytes\{part="lexical"\} \d+/);
    assert.match(text, /search_reloads_total\{outcome="success"\} 1/);
    assert.match(text, /process_cpu_user_seconds_total/);
  });

  it('hot-swaps to a new serving record without failing requests in flight', async () => {
    const second = await buildIndex(store, db, { modelVersion, snapshotId, buyers: 1000, seed: 8 }, silentLog);
    assert.notEqual(second.version, indexVersion);
    await serve(store, modelVersion, second.version, snapshotId);
    // A request that holds the old version across the swap: its ONNX sessions must stay open until it ends.
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const held = state.use(async (old) => {
      await gate;
      return { index: old.indexVersion, embedded: (await old.embedder.embedTexts([{ title: 'bike' }])).n };
    });
    const inFlight = Array.from({ length: 16 }, (_, k) => service.app.inject({ method: 'GET', url: `/search?q=bike%20${k}` }));
    const [outcome, ...responses] = await Promise.all([state.refresh(), ...inFlight]);
    assert.equal(outcome, 'swapped');
    assert.equal(state.current()?.indexVersion, second.version);
    finish();
    assert.deepEqual(await held, { index: indexVersion, embedded: 1 }, 'the old version still answered after the swap');
    for (const response of responses) {
      assert.equal(response.statusCode, 200, response.body);
      assert.ok([indexVersion, second.version].includes(response.json<SearchBody>().index));
    }
    const ready = await get<{ index: string; model: string; lexicalThreads: number }>('/readyz');
    assert.equal(ready.index, second.version);
    assert.equal(ready.lexicalThreads, 1, 'the new version runs its own lexical thread');
    assert.equal((await get<SearchBody>('/search?q=bike')).index, second.version);
    assert.equal(await state.refresh(), 'unchanged');
    indexVersion = second.version;
  });

  it('keeps serving the old version when the new index is corrupt, and counts the failure', async () => {
    const broken = await buildIndex(store, db, { modelVersion, snapshotId, buyers: 1000, seed: 9 }, silentLog);
    const faissKey = `${INDEX_PREFIX(broken.version)}/${INDEX_FILES.products}`;
    const bytes = await store.get(faissKey);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await store.put(faissKey, bytes);
    await serve(store, modelVersion, broken.version, snapshotId);

    assert.equal(await state.refresh(), 'failed');
    const ready = await get<{ ready: boolean; index: string; lastError: string }>('/readyz');
    assert.equal(ready.ready, true);
    assert.equal(ready.index, indexVersion, 'still the previous index');
    assert.match(ready.lastError, /does not match its manifest/);
    assert.equal((await get<SearchBody>('/search?q=bike')).index, indexVersion);
    // The same broken target is not reloaded on every poll.
    assert.equal(await state.refresh(), 'backing-off');
    const metrics = (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /search_reloads_total\{outcome="failure"\} 1/);
    assert.match(metrics, new RegExp(`search_model_info\\{model_version="${modelVersion}",index_version="${indexVersion}"\\} 1`));

    // Pointing back at the served version clears the error.
    await serve(store, modelVersion, indexVersion, snapshotId);
    assert.equal(await state.refresh(), 'unchanged');
    assert.equal((await get<{ lastError: string | null }>('/readyz')).lastError, null);
  });

  it('stays up but not ready when nothing can be loaded at start', async () => {
    const tmp = await tempDir('serve-empty-');
    closers.push(tmp.remove);
    const emptyStore = openFsStore(path.join(tmp.dir, 'artifacts'));
    const empty = new ServingState({ store: emptyStore, log: silentLog, source: servingRecordSource(emptyStore) });
    const { app } = await buildApp({ state: empty, log: silentLog });
    closers.push(() => app.close());
    assert.equal(await empty.refresh(), 'nothing-to-serve');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.match(ready.json<{ lastError: string }>().lastError, /nothing is in production/);
    assert.equal((await app.inject({ method: 'GET', url: '/search?q=bike' })).statusCode, 503);

    // A record naming a model that does not exist: still up, still not ready, the failure counted.
    await serve(emptyStore, 'm-missing', 'ix-missing', 'snap-none');
    assert.equal(await empty.refresh(), 'failed');
    const stillNot = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(stillNot.statusCode, 503);
    assert.match(stillNot.json<{ lastError: string }>().lastError, /cannot load model m-missing/);
  });
});
