/**
 * The index component's work: embed every product of a snapshot with the model's ONNX encoders, build
 * the FAISS product index (exact below a size threshold, HNSW above, recall measured), generate and
 * store the buyer population, build the buyer index, build the lexical (BM25F) index over the same
 * products, fit the hybrid ranking's weights on the model's validation listings, and publish them all
 * under `indexes/<version>/` with the manifest last (see core/index-bundle.ts). The version is a hash of the model and snapshot:
 * indexing the same pair twice finds the published index and stops.
 *
 * The embedding is either done here, in one process (`npm run index` alone), or fanned out beforehand
 * (`index embed --shard k/N`, embed.ts: a pod a shard in the pipeline) and read back from the artifact
 * store (`shards: N`): the product index is then built from the shards one at a time (trained on a
 * sample drawn across them, filled shard by shard). What follows it (the published products.vectors.f32,
 * the buyers' interest vectors, the fusion fit's cosines) still reads every vector, as the search
 * service does: the whole matrix is assembled once the product index is built.
 */
import { createHash } from 'node:crypto';
import {
  AlreadyExistsError,
  bytesOfFloat32,
  InputError,
  NotFoundError,
  type ArtifactStore,
  type Logger,
  type Queryable,
} from '../core/platform/index.js';
import {
  MODEL_FILES,
  MODEL_PREFIX,
  SplitFile,
  openPublished,
  publish,
  readSnapshotProducts,
  type SnapshotProduct,
} from '../core/contracts/index.js';
import {
  buildVectorIndex,
  buildVectorIndexFromShards,
  DEFAULT_FUSION,
  embedQueryTexts,
  type Embedder,
  evenSample,
  fitOnListings,
  FUSION_FEATURES,
  HNSW_QUANTIZER_FROM,
  hybridCatalogue,
  LEXICAL_FORMAT,
  LexicalIndex,
  INDEX_FILES,
  INDEX_PREFIX,
  IndexMetadata,
  openEmbedder,
  type IndexedBuyer,
  type BuiltIndex,
  type IndexedProduct,
} from '../core/ml/index.js';
import { buyerVector, categoryCentroids, DEMOGRAPHIC_DIM, INTEREST_WEIGHT } from './buyer-vectors.js';
import { generateBuyers, storeBuyers } from './buyers.js';
import { embedProducts, openShards } from './embed.js';
import { jsonArrayBytes } from './json-bytes.js';

export interface IndexRequest {
  modelVersion: string;
  snapshotId: string;
  buyers?: number;
  seed?: number;
  /** Up to this many vectors the product index is exact (FAISS Flat). */
  exactUpTo?: number;
  /**
   * The search service's memory budget for the product index, in bytes: with it the index type is chosen
   * by memory (Flat while it fits, then HNSW-SQ8 / IVF-SQ8 / IVF-PQ tuned to the recall target) instead of
   * by exactUpTo.
   */
  memoryBudgetBytes?: number;
  /** Products embedded per batch (bounds the pictures held in memory). */
  batchSize?: number;
  /**
   * Build from the N shards `index embed --shard k/N` wrote to the store instead of embedding here. Not
   * part of the version: the shards are how the same vectors were computed, not another index.
   */
  shards?: number;
}

export interface IndexResult {
  version: string;
  key: string;
  uri: string;
  reused: boolean;
  metadata: IndexMetadata;
  /** Products embedded per second (0 when reused). */
  productsPerSecond: number;
}

export function indexVersion(request: IndexRequest): string {
  const { modelVersion, snapshotId, buyers = 2000, seed = 7, exactUpTo = 100_000, memoryBudgetBytes } = request;
  // The lexical format, the ranking's features and how the product index is built and tuned are part of
  // the version: an index built before them (no lexical files, other features, tuned on listings rather
  // than typed queries, an exhaustive quantizer over thousands of lists) is rebuilt, not reused.
  const search = {
    lexical: LEXICAL_FORMAT,
    features: FUSION_FEATURES.join(','),
    recallQueries: 'typed',
    hnswQuantizerFrom: HNSW_QUANTIZER_FROM,
  };
  return `ix-${createHash('sha256')
    .update(
      JSON.stringify({
        modelVersion,
        snapshotId,
        buyers,
        seed,
        exactUpTo,
        ...search,
        ...(memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {}),
      }),
    )
    .digest('hex')
    .slice(0, 16)}`;
}

/**
 * When each product was listed: the export's create_time where it has one, else when the catalogue
 * first saw it (products.cleaned_at is set at insert and never touched again). The snapshot does not
 * carry either, so they are read from the catalogue; a product no longer there has none.
 */
async function listingDates(db: Queryable, ids: readonly string[]): Promise<Map<string, { at: string; from: 'createTime' | 'firstSeen' }>> {
  const out = new Map<string, { at: string; from: 'createTime' | 'firstSeen' }>();
  for (let start = 0; start < ids.length; start += 5000) {
    const page = await db.query<{ id: string; create_time: Date | string | null; cleaned_at: Date | string }>(
      'SELECT id, create_time, cleaned_at FROM products WHERE id = ANY($1::text[])',
      [ids.slice(start, start + 5000)],
    );
    for (const row of page.rows) {
      const from = row.create_time !== null ? 'createTime' : 'firstSeen';
      out.set(row.id, { at: new Date(row.create_time ?? row.cleaned_at).toISOString(), from });
    }
  }
  return out;
}

/** Queries the product index's recall is measured with, half whole titles and half their first two words. */
const RECALL_QUERIES = 200;

/**
 * What buyers type, made of catalogue titles (the first two words, as evaluate's short queries, and
 * whole titles, as known-item searches) and embedded by the query tower as the service embeds them:
 * the product index is tuned on these, not on the listings' own vectors, which sit in the catalogue's
 * densest parts (at 10^6, nprobe 2 reached 0.978 on listings and 0.767 on two-word queries).
 */
async function typedQueries(embedder: Embedder, titles: readonly string[], dim: number): Promise<{ queries?: Float32Array }> {
  const sample = evenSample(titles, RECALL_QUERIES / 2);
  const short = sample.map((title) => title.split(/\s+/).slice(0, 2).join(' '));
  const texts = [...sample, ...short].filter((text) => text.trim() !== '');
  return texts.length === 0 ? {} : { queries: await embedQueryTexts((batch) => embedder.embedTexts(batch), texts, dim) };
}

export async function buildIndex(store: ArtifactStore, db: Queryable, request: IndexRequest, log: Logger): Promise<IndexResult> {
  const version = indexVersion(request);
  const key = INDEX_PREFIX(version);
  try {
    const existing = await openPublished(store, key);
    log.info({ index: store.uri(key) }, 'this model and snapshot are already indexed: nothing to do');
    return {
      version,
      key,
      uri: store.uri(key),
      reused: true,
      metadata: IndexMetadata.parse(existing.manifest.metadata),
      productsPerSecond: 0,
    };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const started = Date.now();
  const embedder = await openEmbedder(store, request.modelVersion);
  try {
    const dim = embedder.metadata.embeddingDim;
    const products: SnapshotProduct[] = [];
    for await (const product of readSnapshotProducts(store, request.snapshotId)) products.push(product);
    if (products.length === 0) throw new NotFoundError(`snapshot ${request.snapshotId} has no products to index`);

    const indexOptions = {
      exactUpTo: request.exactUpTo,
      ...(await typedQueries(
        embedder,
        products.map((p) => p.title),
        dim,
      )),
      ...(request.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: request.memoryBudgetBytes } : {}),
    };
    let vectors: Float32Array;
    let productIndex: BuiltIndex;
    let productsPerSecond: number;
    if (request.shards === undefined) {
      const embedStarted = Date.now();
      vectors = await embedProducts(store, embedder, products, request.batchSize ?? 128, log);
      productsPerSecond = products.length / Math.max(1e-3, (Date.now() - embedStarted) / 1000);
      log.info({ products: products.length, productsPerSecond: Math.round(productsPerSecond) }, 'products embedded');
      productIndex = buildVectorIndex(vectors, dim, indexOptions);
    } else {
      const shards = await openShards(store, request.modelVersion, request.snapshotId, request.shards);
      const ids = shards.files.flatMap((f) => f.ids);
      const stray = ids.length === products.length ? products.findIndex((p, k) => p.id !== ids[k]) : Math.min(ids.length, products.length);
      if (stray >= 0)
        throw new InputError(
          `the ${request.shards} shards hold ${ids.length} products, the snapshot ${products.length}: they differ from position ${stray} (embedded from another snapshot or model?)`,
        );
      if (shards.dims !== dim) throw new InputError(`the shards hold vectors of ${shards.dims} dimensions, the model embeds in ${dim}`);
      // The shards ran side by side: the fan-out's rate is the products over its slowest shard's time.
      productsPerSecond = products.length / Math.max(1e-3, ...shards.files.map((f) => f.seconds));
      log.info(
        { products: products.length, shards: request.shards, productsPerSecond: Math.round(productsPerSecond) },
        'building from the embedded shards',
      );
      productIndex = await buildVectorIndexFromShards(shards, indexOptions);
      // What follows reads every vector (the published products.vectors.f32, the buyers, the fusion fit).
      vectors = new Float32Array(products.length * dim);
      for (let k = 0, at = 0; k < request.shards; at += shards.counts[k]! * dim, k++) vectors.set(await shards.read(k), at);
    }
    log.info(
      {
        type: productIndex.type,
        vectors: productIndex.vectors,
        recall: productIndex.recall,
        efSearch: productIndex.efSearch,
        nprobe: productIndex.nprobe,
        bytes: productIndex.bytes,
      },
      'product index built',
    );

    const buyers = generateBuyers(products, { count: request.buyers ?? 2000, seed: request.seed ?? 7, snapshotId: request.snapshotId });
    const stored = await storeBuyers(db, buyers);
    log.info({ buyers: buyers.length, ...stored }, 'buyers stored');
    const position = new Map(products.map((p, k) => [p.id, k]));
    const centroids = categoryCentroids(
      products.map((p) => p.root),
      vectors,
      dim,
    );
    const productVector = (id: string) => {
      const k = position.get(id);
      return k === undefined ? undefined : vectors.subarray(k * dim, (k + 1) * dim);
    };
    const buyerDim = dim + DEMOGRAPHIC_DIM;
    const buyerVectors = new Float32Array(buyers.length * buyerDim);
    buyers.forEach((buyer, k) => buyerVectors.set(buyerVector(buyer, centroids, productVector, dim), k * buyerDim));
    const buyerIndex = buildVectorIndex(buyerVectors, buyerDim, { exactUpTo: request.exactUpTo });

    const listed = await listingDates(
      db,
      products.map((p) => p.id),
    );
    const lexical = LexicalIndex.build(products.map((p) => ({ title: p.title, text: p.text, category: p.path.join(' ') })));
    const model = await openPublished(store, MODEL_PREFIX(request.modelVersion));
    const split = SplitFile.parse(JSON.parse((await model.read(MODEL_FILES.split)).toString('utf8')));
    const validation = new Set(split.val);
    const catalogue = hybridCatalogue({
      lexical,
      dense: (q, k) => productIndex.index.search(q, k),
      vectors,
      dim,
      paths: products.map((p) => p.path),
    });
    const fit = await fitOnListings(
      catalogue,
      products.map((p) => p.title),
      // An even sample of the validation listings: every one of them at 10^6 would be O(N^2) (query-sample.ts).
      evenSample(products.flatMap((p, k) => (validation.has(p.id) ? [k] : []))),
      (titles) => embedder.embedTexts(titles),
      DEFAULT_FUSION,
    );
    log.info(
      {
        terms: lexical.header.terms.length,
        postings: lexical.header.postings,
        fit: fit
          ? { queries: fit.queries, objective: fit.objective, defaultObjective: fit.defaultObjective, weights: fit.config.weights }
          : null,
      },
      'lexical index built, fusion weights fitted',
    );

    const productRows: IndexedProduct[] = products.map((p) => ({
      id: p.id,
      title: p.title,
      root: p.root,
      priceMinor: p.priceMinor,
      town: p.town,
      county: p.county,
      latitude: p.latitude,
      longitude: p.longitude,
      imageKey: p.images.find((i) => i.duplicateOf === null)?.key ?? null,
      path: p.path,
      listedAt: listed.get(p.id)?.at ?? null,
    }));
    const sources = [...listed.values()];
    const buyerRows: IndexedBuyer[] = buyers.map((b) => ({
      id: b.id,
      ageBand: b.age_band,
      gender: b.gender,
      town: b.town,
      latitude: b.latitude,
      longitude: b.longitude,
      priceMin: b.price_min,
      priceMax: b.price_max,
      interests: Object.entries(b.interests).sort((x, y) => y[1] - x[1]),
    }));
    const facts = (built: typeof productIndex, d: number) => {
      const { index: _index, ...rest } = built;
      return { ...rest, dim: d };
    };
    const metadata: IndexMetadata = {
      modelVersion: request.modelVersion,
      snapshotId: request.snapshotId,
      products: facts(productIndex, dim),
      buyers: { ...facts(buyerIndex, buyerDim), demographicDim: DEMOGRAPHIC_DIM, interestWeight: INTEREST_WEIGHT },
      lexical: {
        format: LEXICAL_FORMAT,
        documents: lexical.documents,
        terms: lexical.header.terms.length,
        postings: lexical.header.postings,
        params: lexical.header.params,
        fusion: fit?.config ?? DEFAULT_FUSION,
        fit: fit ? { queries: fit.queries, objective: fit.objective, defaultObjective: fit.defaultObjective } : null,
        listedAt: {
          createTime: sources.filter((s) => s.from === 'createTime').length,
          firstSeen: sources.filter((s) => s.from === 'firstSeen').length,
          unknown: products.length - listed.size,
        },
      },
      buildSeconds: (Date.now() - started) / 1000,
    };
    const lexicalFiles = lexical.toFiles();
    const files = [
      { name: INDEX_FILES.products, body: productIndex.index.toBuffer() },
      { name: INDEX_FILES.productRows, body: jsonArrayBytes(productRows) },
      { name: INDEX_FILES.productVectors, body: bytesOfFloat32(vectors) },
      { name: INDEX_FILES.buyers, body: buyerIndex.index.toBuffer() },
      { name: INDEX_FILES.buyerRows, body: Buffer.from(JSON.stringify(buyerRows)) },
      { name: INDEX_FILES.lexicalHeader, body: lexicalFiles.header },
      { name: INDEX_FILES.lexicalPostings, body: lexicalFiles.postings },
    ];
    try {
      await publish(store, key, files, { kind: 'index', version, metadata });
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
    return { version, key, uri: store.uri(key), reused: false, metadata, productsPerSecond };
  } finally {
    await embedder.close();
  }
}
