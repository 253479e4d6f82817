/**
 * A published search index (`indexes/<version>/`, see publish.ts): the contract between the index
 * component, which writes it, and the search service and deploy, which read it.
 *
 *   products.faiss   FAISS index of the products' fused embeddings (inner product on unit vectors)
 *   products.json    the products in vector order: what a search answer shows and filters on (held
 *                    in columns once read: product-rows.ts)
 *   products.vectors.f32  the same vectors, n × dim little-endian float32 (an HNSW index cannot give a
 *                    vector back, and "similar to P" / "buyers for P" start from P's vector)
 *   buyers.faiss     FAISS index of buyer vectors (interest part in the product space ⊕ demographics)
 *   buyers.json      the buyers in vector order
 *   lexical.json     the BM25F index over the products' title, text and category path (lexical/bm25.ts):
 *   lexical.bin      parameters and vocabulary, then the postings; document i is vector i
 *
 * The metadata carries the fusion weights the hybrid ranking uses (fitted on validation queries when
 * the index was built): the lexical index, the dense index and the weights are one version, swapped
 * together. Indexes published before the lexical index have none (`lexical` absent): they still serve
 * dense search.
 */
import { z } from 'zod';
import type { ArtifactStore } from '../platform/artifacts/index.js';
import { float32FromBytes } from '../platform/float32-bytes.js';
import { Bm25Params, FusionConfig, LEXICAL_FORMAT, LexicalIndex } from './lexical/index.js';
import { openPublished } from '../contracts/publish.js';
import { ProductRows } from './product-rows.js';
import { Int8Vectors, type ProductVectors } from './product-vectors.js';
import { loadVectorIndex } from './vector-index.js';
import type * as Faiss from 'faiss-node';

export const INDEX_PREFIX = (version: string) => `indexes/${version}`;

export const INDEX_FILES = {
  products: 'products.faiss',
  productRows: 'products.json',
  productVectors: 'products.vectors.f32',
  buyers: 'buyers.faiss',
  buyerRows: 'buyers.json',
  lexicalHeader: 'lexical.json',
  lexicalPostings: 'lexical.bin',
} as const;

export { IndexedProduct, ProductRows, ProductRowsBuilder } from './product-rows.js';

export const IndexedBuyer = z.object({
  id: z.string(),
  ageBand: z.string(),
  gender: z.string(),
  town: z.string().nullable(),
  latitude: z.number(),
  longitude: z.number(),
  priceMin: z.number(),
  priceMax: z.number(),
  /** Root categories with their interest weights, strongest first. */
  interests: z.array(z.tuple([z.string(), z.number()])),
});
export type IndexedBuyer = z.infer<typeof IndexedBuyer>;

/**
 * A FAISS index as the manifest records it: its factory type, size, measured recall@k against exact search
 * and search parameter; when it was chosen under the service's memory budget, the budget, its bytes,
 * whether the recall target was met and the candidates tried.
 */
const BuiltFacts = z.object({
  type: z.string().regex(/^(Flat|HNSW32,(Flat|SQ8)|IVF\d+(_HNSW32)?,(SQ8|PQ\d+(np)?))$/),
  vectors: z.number().int(),
  dim: z.number().int(),
  recall: z.number(),
  /** The strict share of the exact top-k's labels (recall counts a result tying the k-th as found); absent before it was recorded. */
  labelRecall: z.number().optional(),
  /** What recall was measured with: typed queries the index step embedded ('given'), or the listings' own vectors. */
  recallQueries: z.enum(['given', 'listings']).optional(),
  k: z.number().int(),
  efSearch: z.number().int().optional(),
  nprobe: z.number().int().optional(),
  bytes: z.number().int().optional(),
  memoryBudgetBytes: z.number().optional(),
  recallTarget: z.number().optional(),
  recallTargetMet: z.boolean().optional(),
  candidates: z
    .array(z.object({ type: z.string(), estimatedBytes: z.number(), recall: z.number().nullable(), parameter: z.number().optional() }))
    .optional(),
});

export const LexicalFacts = z.object({
  format: z.literal(LEXICAL_FORMAT),
  documents: z.number().int(),
  terms: z.number().int(),
  postings: z.number().int(),
  params: Bm25Params,
  /** The hybrid ranking's weights and candidate pools. */
  fusion: FusionConfig,
  /** How the weights were fitted: null when there were too few validation products (then the defaults). */
  fit: z.object({ queries: z.number().int(), objective: z.number(), defaultObjective: z.number() }).nullable(),
  /** Where listedAt came from, in counts of products. */
  listedAt: z.object({ createTime: z.number().int(), firstSeen: z.number().int(), unknown: z.number().int() }),
});
export type LexicalFacts = z.infer<typeof LexicalFacts>;

export const IndexMetadata = z.object({
  modelVersion: z.string(),
  snapshotId: z.string(),
  products: BuiltFacts,
  buyers: BuiltFacts.extend({ demographicDim: z.number().int(), interestWeight: z.number() }),
  lexical: LexicalFacts.optional(),
  buildSeconds: z.number(),
});
export type IndexMetadata = z.infer<typeof IndexMetadata>;

export interface SearchIndex<Vectors extends ProductVectors = ProductVectors> {
  version: string;
  metadata: IndexMetadata;
  products: Faiss.Index;
  /** The products in vector order, in columns (product-rows.ts): `get(i)` or one field at a time. */
  productRows: ProductRows;
  /** n × products.dim, in vector order: float32 as published, or int8 codes (OpenIndexOptions). */
  productVectors: Vectors;
  buyers: Faiss.Index;
  buyerRows: IndexedBuyer[];
  /** Null for an index published before the lexical index (dense search only). */
  lexical: LexicalIndex | null;
}

export interface OpenIndexOptions {
  /**
   * How the product vectors are held: 'float32' as published (the default), or 'int8' (a quarter of
   * the memory: Int8Vectors; the search service's choice, since the FAISS index answers the dense search).
   */
  productVectors?: 'float32' | 'int8';
}

/** Opens a published index; every file is checked against the manifest (CorruptArtifactError if not). */
export async function openSearchIndex(store: ArtifactStore, version: string): Promise<SearchIndex<Float32Array>>;
export async function openSearchIndex(store: ArtifactStore, version: string, options: OpenIndexOptions): Promise<SearchIndex>;
export async function openSearchIndex(store: ArtifactStore, version: string, options: OpenIndexOptions = {}): Promise<SearchIndex> {
  const published = await openPublished(store, INDEX_PREFIX(version));
  const metadata = IndexMetadata.parse(published.manifest.metadata);
  const productRows = ProductRows.fromJson(await published.read(INDEX_FILES.productRows));
  const buyerRows = z.array(IndexedBuyer).parse(JSON.parse((await published.read(INDEX_FILES.buyerRows)).toString('utf8')));
  const vectorBytes = await published.read(INDEX_FILES.productVectors);
  // Quantised straight from the bytes read when they can be viewed as floats (no float32 copy at any time).
  const view = options.productVectors === 'int8' && vectorBytes.byteOffset % 4 === 0 && vectorBytes.byteLength % 4 === 0;
  const floats = view
    ? new Float32Array(vectorBytes.buffer, vectorBytes.byteOffset, vectorBytes.byteLength / 4)
    : float32FromBytes(vectorBytes);
  if (floats.length !== productRows.length * metadata.products.dim)
    throw new Error(
      `index ${version}: products.vectors.f32 holds ${floats.length} floats for ${productRows.length} products of ${metadata.products.dim} dimensions`,
    );
  const productVectors = options.productVectors === 'int8' ? Int8Vectors.quantise(floats, metadata.products.dim) : floats;
  const products = loadVectorIndex(await published.read(INDEX_FILES.products), metadata.products);
  const buyers = loadVectorIndex(await published.read(INDEX_FILES.buyers), metadata.buyers);
  if (products.ntotal() !== productRows.length)
    throw new Error(`index ${version}: products.faiss holds ${products.ntotal()} vectors for ${productRows.length} products`);
  if (buyers.ntotal() !== buyerRows.length)
    throw new Error(`index ${version}: buyers.faiss holds ${buyers.ntotal()} vectors for ${buyerRows.length} buyers`);
  let lexical: LexicalIndex | null = null;
  if (metadata.lexical) {
    lexical = LexicalIndex.fromFiles(await published.read(INDEX_FILES.lexicalHeader), await published.read(INDEX_FILES.lexicalPostings));
    if (lexical.documents !== productRows.length)
      throw new Error(`index ${version}: lexical.json holds ${lexical.documents} documents for ${productRows.length} products`);
  }
  return { version, metadata, products, productRows, productVectors, buyers, buyerRows, lexical };
}
