/**
 * A published search index (`indexes/<version>/`, see publish.ts): the contract between the index
 * component, which writes it, and the search service and deploy, which read it.
 *
 *   products.faiss   FAISS index of the products' fused embeddings (inner product on unit vectors)
 *   products.json    the products in vector order: what a search answer shows and filters on
 *   products.vectors.f32  the same vectors, n × dim little-endian float32 (an HNSW index cannot give a
 *                    vector back, and "similar to P" / "buyers for P" start from P's vector)
 *   buyers.faiss     FAISS index of buyer vectors (interest part in the product space ⊕ demographics)
 *   buyers.json      the buyers in vector order
 */
import { z } from 'zod';
import type { ArtifactStore } from './artifacts/index.js';
import { float32FromBytes } from './float32-bytes.js';
import { openPublished } from './publish.js';
import { loadVectorIndex } from './vector-index.js';
import type * as Faiss from 'faiss-node';

export const INDEX_PREFIX = (version: string) => `indexes/${version}`;

export const INDEX_FILES = {
  products: 'products.faiss',
  productRows: 'products.json',
  productVectors: 'products.vectors.f32',
  buyers: 'buyers.faiss',
  buyerRows: 'buyers.json',
} as const;

export const IndexedProduct = z.object({
  id: z.string(),
  title: z.string(),
  root: z.string(),
  priceMinor: z.number(),
  town: z.string().nullable(),
  county: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  /** Model-ready picture, when the product has one (an artifact key). */
  imageKey: z.string().nullable(),
});
export type IndexedProduct = z.infer<typeof IndexedProduct>;

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

const BuiltFacts = z.object({ type: z.enum(['Flat', 'HNSW32,Flat']), vectors: z.number().int(), dim: z.number().int(), recall: z.number(), k: z.number().int(), efSearch: z.number().int().optional() });

export const IndexMetadata = z.object({
  modelVersion: z.string(),
  snapshotId: z.string(),
  products: BuiltFacts,
  buyers: BuiltFacts.extend({ demographicDim: z.number().int(), interestWeight: z.number() }),
  buildSeconds: z.number(),
});
export type IndexMetadata = z.infer<typeof IndexMetadata>;

export interface SearchIndex {
  version: string;
  metadata: IndexMetadata;
  products: Faiss.Index;
  productRows: IndexedProduct[];
  /** n × products.dim, in vector order. */
  productVectors: Float32Array;
  buyers: Faiss.Index;
  buyerRows: IndexedBuyer[];
}

/** Opens a published index; every file is checked against the manifest (CorruptArtifactError if not). */
export async function openSearchIndex(store: ArtifactStore, version: string): Promise<SearchIndex> {
  const published = await openPublished(store, INDEX_PREFIX(version));
  const metadata = IndexMetadata.parse(published.manifest.metadata);
  const productRows = z.array(IndexedProduct).parse(JSON.parse((await published.read(INDEX_FILES.productRows)).toString('utf8')));
  const buyerRows = z.array(IndexedBuyer).parse(JSON.parse((await published.read(INDEX_FILES.buyerRows)).toString('utf8')));
  const vectorBytes = await published.read(INDEX_FILES.productVectors);
  const productVectors = float32FromBytes(vectorBytes);
  if (productVectors.length !== productRows.length * metadata.products.dim) throw new Error(`index ${version}: products.vectors.f32 holds ${productVectors.length} floats for ${productRows.length} products of ${metadata.products.dim} dimensions`);
  const products = loadVectorIndex(await published.read(INDEX_FILES.products), metadata.products);
  const buyers = loadVectorIndex(await published.read(INDEX_FILES.buyers), metadata.buyers);
  if (products.ntotal() !== productRows.length) throw new Error(`index ${version}: products.faiss holds ${products.ntotal()} vectors for ${productRows.length} products`);
  if (buyers.ntotal() !== buyerRows.length) throw new Error(`index ${version}: buyers.faiss holds ${buyers.ntotal()} vectors for ${buyerRows.length} buyers`);
  return { version, metadata, products, productRows, productVectors, buyers, buyerRows };
}
