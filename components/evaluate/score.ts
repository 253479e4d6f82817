/**
 * Scores one model on the held-out test products: classification per modality (text only, image only,
 * combined) into the model's labels (root categories, or sub-categories: its labelDepth), text-to-product
 * retrieval (query = the product's cleaned title; relevant = that product, gain 2, and products of the
 * same label, gain 1) against exact search over the evaluation corpus (corpus.ts: the whole snapshot up
 * to 100,000 listings, else an even sample of it), and search quality the way the service searches: BM25F alone, the embedding
 * alone and the hybrid ranking, side by side on the same queries (core/lexical/quality.ts), the
 * hybrid's weights fitted on the validation products exactly as the index component fits them.
 */
import { Progress, type ArtifactStore, type Logger } from '../core/platform/index.js';
import type { EvaluationCorpus } from './corpus.js';
import { categoryLabel, type SnapshotProduct } from '../core/contracts/index.js';
import {
  argmaxRow,
  classification,
  DEFAULT_FUSION,
  evenSample,
  fitFusion,
  MIN_FIT_LISTINGS,
  hybridCatalogue,
  LexicalIndex,
  listingQueries,
  scoreModes,
  type FusionConfig,
  type ModeScores,
  type SearchMode,
  imagePixels,
  loadFaiss,
  ndcgAtK,
  openEmbedder,
  recallAtK,
  type Classification,
  type ProductInput,
} from '../core/ml/index.js';

export const RECALL_KS = [1, 5, 10, 20, 50, 100] as const;

/** Nearest listings asked of the dense index by the ranking (hybrid's densePool, quality's RANK_DEPTH: both 100). */
const PREFETCH_K = 100;
/** Queries per faiss call: enough for BLAS to take over (faiss uses it from 20), small enough to hold. */
const BATCH_QUERIES = 256;

/**
 * Exact inner-product search of query vectors known in advance, a batch of them per faiss call: faiss
 * then multiplies matrices (BLAS), which at 10^6 listings took 5.6 ms a query instead of 127 ms one
 * query a call (one run on this machine's two shared cores), the ~18,000 offline queries of one
 * evaluation at 10^6 falling from ~40 minutes to ~2. A query not prefetched, or asked for more than was
 * prefetched, is searched on its own. The answers are the same exact search; BLAS sums in another order,
 * so a tie to the last bit may order differently.
 */
export function batchedExactSearch(
  corpus: { ntotal(): number; searchFloat32(queries: Float32Array, k: number): { labels: Int32Array; distances: Float32Array } },
  dim: number,
) {
  const memo = new WeakMap<Float32Array, { labels: Int32Array; distances: Float32Array; k: number }>();
  /** Searches every vector (each `dim` long) for its `k` nearest, keeping the answers for `dense`. */
  const prefetch = (vectors: readonly Float32Array[], asked = PREFETCH_K): void => {
    // faiss refuses k above the index's size: a catalogue smaller than k answers all of it.
    const k = Math.min(asked, corpus.ntotal());
    if (k < 1) return;
    for (let start = 0; start < vectors.length; start += BATCH_QUERIES) {
      const part = vectors.slice(start, start + BATCH_QUERIES);
      const batch = new Float32Array(part.length * dim);
      part.forEach((vector, i) => batch.set(vector, i * dim));
      const found = corpus.searchFloat32(batch, k);
      part.forEach((vector, i) =>
        memo.set(vector, {
          labels: found.labels.slice(i * k, (i + 1) * k),
          distances: found.distances.slice(i * k, (i + 1) * k),
          k,
        }),
      );
    }
  };
  /** The ranking's dense search (HybridCatalogue.denseFloat32): prefetched answers where there are some. */
  const dense = (vector: Float32Array, k: number): { labels: ArrayLike<number>; distances: ArrayLike<number> } => {
    const hit = memo.get(vector);
    if (hit && hit.k >= Math.min(k, corpus.ntotal())) return { labels: hit.labels.subarray(0, k), distances: hit.distances.subarray(0, k) };
    return corpus.searchFloat32(vector, k);
  };
  return { prefetch, dense };
}

/** Search quality of the three modes on the same test queries. */
export interface SearchScores {
  modes: Record<SearchMode, ModeScores>;
  /** The hybrid ranking's weights and how they were fitted (null: too few validation products, the defaults). */
  fusion: FusionConfig;
  fit: { queries: number; objective: number; defaultObjective: number } | null;
}

export interface Scores {
  model: string;
  testProducts: number;
  classification: { text: Classification; image: Classification | null; combined: Classification };
  retrieval: { queries: number; recall: Record<string, number>; ndcgAt10: number };
  /**
   * Picture-to-listing search as `POST /search/image` runs it: each test product's first picture as the
   * query, the whole catalogue ranked by exact inner product, the product itself left out; precision@10
   * = the share of the ten results with the product's label. Null when the model reads no pictures.
   */
  imageSearch?: { queries: number; precisionAt10: number } | null;
  /** Absent from scores made before search quality was measured. */
  search?: SearchScores;
  /** The listings searched, of the snapshot's (corpus.ts); absent from scores made before it was bounded. */
  catalogue?: { listings: number; snapshotListings: number };
}

async function pictures(store: ArtifactStore, product: SnapshotProduct, size: number, log: Logger): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const image of product.images.filter((i) => i.duplicateOf === null)) {
    try {
      out.push(await imagePixels(await store.get(image.key), { size }));
    } catch (error) {
      log.warn({ product: product.id, key: image.key, error: (error as Error).message }, 'picture left out of evaluation');
    }
  }
  return out;
}

export async function scoreModel(
  store: ArtifactStore,
  modelVersion: string,
  searched: EvaluationCorpus,
  log: Logger,
  testIds: ReadonlySet<string>,
  validationIds: ReadonlySet<string> = new Set(),
): Promise<Scores> {
  const embedder = await openEmbedder(store, modelVersion);
  try {
    const { labels, labelDepth, embeddingDim: dim, modalities } = embedder.metadata;
    const classes = labels.length;
    const labelOf = (p: SnapshotProduct) => categoryLabel(p.path, labelDepth);
    // The listings searched (corpus.ts: the whole snapshot up to a bound, else an even sample of it), and
    // an even sample of the test listings classified (query-sample.ts: all ~97,000 of them at 10^6 would
    // take ~45 minutes of sentence encoding); the same products for the candidate and production.
    const all = searched.listings;
    const test = searched.classified;
    const truth = test.map(labelOf);
    const names = [...new Set([...labels, ...truth])].sort();

    const text = await embedder.classifyTexts(test);
    const textPredicted = test.map((_, k) => labels[argmaxRow(text.logits, k, classes)]!);

    let image: Classification | null = null;
    const inputs: ProductInput[] = [];
    const imageTruth: string[] = [];
    const imagePredicted: string[] = [];
    const pictureQueries: { id: string; label: string; vector: Float32Array }[] = [];
    for (const product of test) {
      const pixels =
        modalities.image && embedder.metadata.image ? await pictures(store, product, embedder.metadata.image.inputSize, log) : [];
      inputs.push({ ...product, pictures: pixels });
      if (pixels.length > 0) {
        const encoded = await embedder.embedImages(pixels);
        const mean = new Float32Array(classes);
        for (let k = 0; k < encoded.n; k++) for (let c = 0; c < classes; c++) mean[c]! += encoded.logits[k * classes + c]!;
        imageTruth.push(labelOf(product));
        imagePredicted.push(labels[argmaxRow(mean, 0, classes)]!);
        pictureQueries.push({ id: product.id, label: labelOf(product), vector: encoded.embeddings.slice(0, dim) });
      }
    }
    if (imageTruth.length > 0) image = classification(imageTruth, imagePredicted, names);
    const fused = await embedder.classifyProducts(inputs);
    const combinedPredicted = test.map((_, k) => labels[argmaxRow(fused.logits, k, classes)]!);

    // Retrieval over the whole snapshot with exact inner-product search (the ground truth any ANN index is measured against).
    const progress = new Progress(log, 'embedding the catalogue for retrieval', all.length);
    const corpus = new (loadFaiss().IndexFlatIP)(dim);
    const vectors = new Float32Array(all.length * dim);
    for (let start = 0; start < all.length; start += 512) {
      const part = all.slice(start, start + 512);
      const encoded = await embedder.embedProducts(
        await Promise.all(
          part.map(async (p) => ({
            ...p,
            pictures: modalities.image && embedder.metadata.image ? await pictures(store, p, embedder.metadata.image.inputSize, log) : [],
          })),
        ),
      );
      corpus.add(Array.from(encoded.embeddings));
      vectors.set(encoded.embeddings, start * dim);
      progress.tick(part.length);
    }
    progress.finish();
    // Retrieval, picture search and search quality rank the whole catalogue for each query: an even
    // sample of the test listings keeps that linear in the catalogue (query-sample.ts); classification
    // above reads every test listing.
    const queried = evenSample(test);
    const queries = await embedder.embedTexts(queried.map((p) => ({ title: p.title })));
    const k = Math.min(100, all.length);
    const recallSums: Record<string, number> = Object.fromEntries(RECALL_KS.map((at) => [`at${at}`, 0]));
    let ndcg = 0;
    // Same-label products, gain 1. nDCG@10 reads the gains of the ranked ids and the ten largest gains
    // (the ideal), so the ranked ids of the product's label plus ten others of it give the full map's value
    // without a map of the whole label per query (one label can be the whole catalogue).
    const labelAt = all.map(labelOf);
    const byLabel = new Map<string, string[]>();
    all.forEach((p, position) => {
      const members = byLabel.get(labelAt[position]!);
      if (members) members.push(p.id);
      else byLabel.set(labelAt[position]!, [p.id]);
    });
    const exact = batchedExactSearch(corpus, dim);
    const queryRows = queried.map((_, q) => queries.embeddings.subarray(q * dim, (q + 1) * dim));
    exact.prefetch(queryRows, k);
    queried.forEach((product, q) => {
      const positions = Array.from(exact.dense(queryRows[q]!, k).labels);
      const ranked = positions.map((position) => all[position]!.id);
      const relevant = new Set([product.id]);
      for (const at of RECALL_KS) recallSums[`at${at}`]! += recallAtK(ranked, relevant, at);
      const label = labelOf(product);
      const gains = new Map<string, number>();
      for (const id of (byLabel.get(label) ?? [])
        .slice(0, 11)
        .filter((id) => id !== product.id)
        .slice(0, 10))
        gains.set(id, 1);
      for (const position of positions.slice(0, 10)) if (labelAt[position] === label) gains.set(all[position]!.id, 1);
      gains.set(product.id, 2);
      ndcg += ndcgAtK(ranked, gains, 10);
    });

    let imageSearch: Scores['imageSearch'] = null;
    if (pictureQueries.length > 0) {
      let precision = 0;
      const sampled = evenSample(pictureQueries);
      for (const query of sampled) {
        const found = corpus
          .searchFloat32(query.vector, Math.min(11, all.length))
          .labels.filter((position) => position >= 0 && all[position]!.id !== query.id)
          .slice(0, 10);
        precision += found.filter((position) => labelAt[position] === query.label).length / 10;
      }
      imageSearch = { queries: sampled.length, precisionAt10: precision / sampled.length };
    }

    // Search as the service searches, over the same catalogue and vectors.
    const lexical = LexicalIndex.build(all.map((p) => ({ title: p.title, text: p.text, category: p.path.join(' ') })));
    const catalogue = hybridCatalogue({
      lexical,
      dense: (q, n) => corpus.search(q, n),
      denseFloat32: exact.dense,
      vectors,
      dim,
      paths: all.map((p) => p.path),
    });
    const titles = all.map((p) => p.title);
    const positionsOf = (ids: ReadonlySet<string>) => all.flatMap((p, k) => (ids.has(p.id) ? [k] : []));
    /** The listings' queries (listingQueries, as the index component's fit makes them), their dense answers prefetched. */
    const prepared = async (positions: readonly number[]) => {
      const queries = await listingQueries(titles, positions, (texts) => embedder.embedTexts(texts), dim);
      exact.prefetch(queries.map((q) => q.vector));
      return queries;
    };
    // The fit as the index component fits it (fitOnListings: the same queries, the same fit), on an even
    // sample of the validation listings, with their dense answers searched in batches.
    const fitPositions = evenSample(positionsOf(validationIds));
    const fit = fitPositions.length < MIN_FIT_LISTINGS ? null : fitFusion(catalogue, await prepared(fitPositions), DEFAULT_FUSION);
    const fusion = fit?.config ?? DEFAULT_FUSION;
    const modes = scoreModes(catalogue, await prepared(evenSample(positionsOf(testIds))), fusion);
    log.info(
      {
        model: modelVersion,
        fit: fit ? { queries: fit.queries, objective: fit.objective, defaultObjective: fit.defaultObjective } : null,
        modes,
      },
      'search quality: BM25F, dense and hybrid on the same test queries',
    );
    return {
      model: modelVersion,
      testProducts: test.length,
      catalogue: { listings: all.length, snapshotListings: searched.snapshotListings },
      classification: {
        text: classification(truth, textPredicted, names),
        image,
        combined: classification(truth, combinedPredicted, names),
      },
      retrieval: {
        queries: queried.length,
        recall: Object.fromEntries(Object.entries(recallSums).map(([at, sum]) => [at, sum / queried.length])),
        ndcgAt10: ndcg / queried.length,
      },
      imageSearch,
      search: {
        modes,
        fusion,
        fit: fit ? { queries: fit.queries, objective: fit.objective, defaultObjective: fit.defaultObjective } : null,
      },
    };
  } finally {
    await embedder.close();
  }
}
