/**
 * The index component's work: embed every product of a snapshot with the model's ONNX encoders, build
 * the FAISS product index (exact below a size threshold, HNSW above, recall measured), generate and
 * store the buyer population, build the buyer index, build the lexical (BM25F) index over the same
 * products, fit the hybrid ranking's weights on the model's validation listings, and publish them all
 * under `indexes/<version>/` with the manifest last (see core/index-bundle.ts). The version is a hash of the model and snapshot:
 * indexing the same pair twice finds the published index and stops.
 */
import { createHash } from 'node:crypto';
import {
  AlreadyExistsError,
  bytesOfFloat32,
  NotFoundError,
  Progress,
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
  DEFAULT_FUSION,
  fitOnListings,
  FUSION_FEATURES,
  hybridCatalogue,
  LEXICAL_FORMAT,
  LexicalIndex,
  imagePixels,
  INDEX_FILES,
  INDEX_PREFIX,
  IndexMetadata,
  openEmbedder,
  type IndexedBuyer,
  type IndexedProduct,
  type ProductInput,
} from '../core/ml/index.js';
import { buyerVector, categoryCentroids, DEMOGRAPHIC_DIM, INTEREST_WEIGHT } from './buyer-vectors.js';
import { generateBuyers, storeBuyers } from './buyers.js';

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
  // The lexical format and the ranking's features are part of the version: an index built before them
  // (no lexical files, other features) is rebuilt, not reused.
  const search = { lexical: LEXICAL_FORMAT, features: FUSION_FEATURES.join(',') };
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

/** Product vectors (fused embeddings), in snapshot order, a batch of products and their pictures at a time. */
async function embedCatalogue(
  store: ArtifactStore,
  embedder: Awaited<ReturnType<typeof openEmbedder>>,
  products: readonly SnapshotProduct[],
  batchSize: number,
  log: Logger,
) {
  const dim = embedder.metadata.embeddingDim;
  const vectors = new Float32Array(products.length * dim);
  const withPictures = embedder.metadata.modalities.image;
  const progress = new Progress(log, 'embedding products', products.length);
  for (let start = 0; start < products.length; start += batchSize) {
    const batch = products.slice(start, start + batchSize);
    const inputs: ProductInput[] = [];
    for (const product of batch) {
      const pictures: Float32Array[] = [];
      if (withPictures) {
        for (const image of product.images.filter((i) => i.duplicateOf === null)) {
          try {
            pictures.push(await imagePixels(await store.get(image.key), { size: embedder.metadata.image!.inputSize }));
          } catch (error) {
            log.warn({ product: product.id, key: image.key, error: (error as Error).message }, 'picture left out of the product embedding');
          }
        }
      }
      inputs.push({
        title: product.title,
        text: product.text,
        priceMinor: product.priceMinor,
        town: product.town,
        county: product.county,
        pictures,
      });
    }
    const encoded = await embedder.embedProducts(inputs);
    vectors.set(encoded.embeddings, start * dim);
    progress.tick(batch.length);
  }
  progress.finish();
  return vectors;
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

    const embedStarted = Date.now();
    const vectors = await embedCatalogue(store, embedder, products, request.batchSize ?? 128, log);
    const productsPerSecond = products.length / Math.max(1e-3, (Date.now() - embedStarted) / 1000);
    log.info({ products: products.length, productsPerSecond: Math.round(productsPerSecond) }, 'products embedded');
    const productIndex = buildVectorIndex(vectors, dim, {
      exactUpTo: request.exactUpTo,
      ...(request.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: request.memoryBudgetBytes } : {}),
    });
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
      products.flatMap((p, k) => (validation.has(p.id) ? [k] : [])),
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
      { name: INDEX_FILES.productRows, body: Buffer.from(JSON.stringify(productRows)) },
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
