/**
 * The embedding fanned out: shard k of N embeds the k-th contiguous slice of a snapshot's products (in
 * snapshot order) with the model's ONNX encoders and writes their vectors to the artifact store; the
 * index step then builds from the N shards (build.ts), reading one shard's vectors at a time. On
 * Kubeflow each shard is its own pod (a `parallelFor` in the pipeline), locally its own process.
 *
 *   embeddings/<model>/<snapshot>/shards-<N>/<k>.f32    the shard's vectors: count × dim little-endian float32
 *   embeddings/<model>/<snapshot>/shards-<N>/<k>.json   what it holds (ids in order, dim, bytes, sha256): written last
 *
 * A shard whose `.json` is there is complete (each object is written whole): embedding it again (a retried
 * pod, a re-run) reuses it. The concatenation of shards 0…N-1 is the snapshot in order, so vector i is
 * product i, as in an index embedded in one process.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import {
  bytesOfFloat32,
  float32FromBytes,
  InputError,
  NotFoundError,
  Progress,
  type ArtifactStore,
  type Logger,
} from '../core/platform/index.js';
import { CorruptArtifactError, readSnapshotProducts, type SnapshotProduct } from '../core/contracts/index.js';
import { imagePixels, openEmbedder, type ProductInput, type VectorShards } from '../core/ml/index.js';

/** Shard `index` of `of`. */
export interface Shard {
  index: number;
  of: number;
}

export const SHARDS_PREFIX = (modelVersion: string, snapshotId: string, of: number) =>
  `embeddings/${modelVersion}/${snapshotId}/shards-${of}`;
const shardKey = (prefix: string, index: number, ext: 'f32' | 'json') => `${prefix}/${index}.${ext}`;

export const ShardFile = z.object({
  format: z.literal(1),
  modelVersion: z.string(),
  snapshotId: z.string(),
  shard: z.number().int().nonnegative(),
  of: z.number().int().positive(),
  /** Position in the snapshot of the shard's first product. */
  first: z.number().int().nonnegative(),
  count: z.number().int().nonnegative(),
  dim: z.number().int().positive(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().length(64),
  /** Seconds spent embedding (0 for an empty shard). */
  seconds: z.number().nonnegative(),
  /** The products' ids, in vector order. */
  ids: z.array(z.string()),
});
export type ShardFile = z.infer<typeof ShardFile>;

/** `k/N` with 0 <= k < N (a commander argument parser). */
export function parseShard(value: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(match?.[1]);
  const of = Number(match?.[2]);
  if (!match || of < 1 || index >= of) throw new InvalidArgumentError(`'${value}' is not a shard k/N with 0 <= k < N.`);
  return { index, of };
}

/**
 * The number of shards to build from: `N`, or the list of every shard `k/N` as JSON (what the pipeline
 * passes: the same list its embedding loop ran over), which must be 0/N … N-1/N, each once.
 */
export function parseShardCount(value: string): number {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1) throw new InvalidArgumentError(`'${value}' is not a number of shards (at least 1).`);
    return n;
  }
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string'))
    throw new InvalidArgumentError(`'${value}' is neither a number of shards nor a JSON list of shards k/N.`);
  const shards = list.map((item) => parseShard(item));
  const of = shards[0]!.of;
  const seen = new Set(shards.map((s) => s.index));
  if (shards.some((s) => s.of !== of) || seen.size !== shards.length || seen.size !== of)
    throw new InvalidArgumentError(`'${value}' must list every shard 0/N … N-1/N once, all of the same N.`);
  return of;
}

/** The products of shard k of N among `total`: a contiguous slice, sizes differing by at most one. */
export function shardSlice(total: number, shard: Shard): { start: number; end: number } {
  return { start: Math.floor((shard.index * total) / shard.of), end: Math.floor(((shard.index + 1) * total) / shard.of) };
}

type Embedder = Awaited<ReturnType<typeof openEmbedder>>;

/** Product vectors (fused embeddings), in the order given, a batch of products and their pictures at a time. */
export async function embedProducts(
  store: ArtifactStore,
  embedder: Embedder,
  products: readonly SnapshotProduct[],
  batchSize: number,
  log: Logger,
): Promise<Float32Array> {
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

async function readShardFile(store: ArtifactStore, key: string): Promise<ShardFile | null> {
  let text: string;
  try {
    text = (await store.get(key)).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
  const parsed = ShardFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new CorruptArtifactError(`${store.uri(key)} is not a shard description: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Writes one shard: its vectors, then its description (which marks it complete). */
export async function writeShard(
  store: ArtifactStore,
  shard: Omit<ShardFile, 'format' | 'shard' | 'of' | 'count' | 'bytes' | 'sha256'> & { shard: Shard; vectors: Float32Array },
): Promise<ShardFile> {
  const { vectors, ...facts } = shard;
  if (vectors.length !== facts.ids.length * facts.dim)
    throw new Error(`${vectors.length} numbers are not ${facts.ids.length} vectors of ${facts.dim}`);
  const prefix = SHARDS_PREFIX(facts.modelVersion, facts.snapshotId, facts.shard.of);
  const body = bytesOfFloat32(vectors);
  await store.put(shardKey(prefix, facts.shard.index, 'f32'), body);
  const description: ShardFile = {
    format: 1,
    modelVersion: facts.modelVersion,
    snapshotId: facts.snapshotId,
    shard: facts.shard.index,
    of: facts.shard.of,
    first: facts.first,
    count: facts.ids.length,
    dim: facts.dim,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    seconds: facts.seconds,
    ids: facts.ids,
  };
  await store.put(shardKey(prefix, facts.shard.index, 'json'), JSON.stringify(description), { contentType: 'application/json' });
  return description;
}

export interface EmbedShardRequest {
  modelVersion: string;
  snapshotId: string;
  shard: Shard;
  /** Products embedded per batch (bounds the pictures held in memory). */
  batchSize?: number;
}

export interface EmbedShardResult {
  key: string;
  uri: string;
  shard: Shard;
  first: number;
  products: number;
  reused: boolean;
  productsPerSecond: number;
}

/**
 * Embeds shard k of N of a snapshot with a model and writes it to the store (vectors, then the
 * description). Only the shard's products are held; the snapshot is read twice (once to count it).
 */
export async function embedShard(store: ArtifactStore, request: EmbedShardRequest, log: Logger): Promise<EmbedShardResult> {
  const { modelVersion, snapshotId, shard } = request;
  const prefix = SHARDS_PREFIX(modelVersion, snapshotId, shard.of);
  const key = shardKey(prefix, shard.index, 'json');
  const done = await readShardFile(store, key);
  const vectorsInfo = done ? await store.stat(shardKey(prefix, shard.index, 'f32')) : null;
  if (done && vectorsInfo?.size === done.bytes) {
    log.info(
      { shard: `${shard.index}/${shard.of}`, products: done.count, at: store.uri(key) },
      'this shard is already embedded: nothing to do',
    );
    return { key, uri: store.uri(key), shard, first: done.first, products: done.count, reused: true, productsPerSecond: 0 };
  }
  let total = 0;
  for await (const product of readSnapshotProducts(store, snapshotId)) if (product) total += 1;
  if (total === 0) throw new NotFoundError(`snapshot ${snapshotId} has no products to index`);
  const { start, end } = shardSlice(total, shard);
  const products: SnapshotProduct[] = [];
  let position = 0;
  for await (const product of readSnapshotProducts(store, snapshotId)) {
    if (position >= start && position < end) products.push(product);
    position += 1;
  }
  const embedder = await openEmbedder(store, modelVersion);
  try {
    const started = Date.now();
    const vectors = await embedProducts(store, embedder, products, request.batchSize ?? 128, log);
    const seconds = products.length === 0 ? 0 : (Date.now() - started) / 1000;
    await writeShard(store, {
      modelVersion,
      snapshotId,
      shard,
      first: start,
      ids: products.map((p) => p.id),
      vectors,
      dim: embedder.metadata.embeddingDim,
      seconds,
    });
    const productsPerSecond = products.length / Math.max(1e-3, seconds);
    log.info(
      { shard: `${shard.index}/${shard.of}`, products: products.length, first: start, productsPerSecond: Math.round(productsPerSecond) },
      'shard embedded',
    );
    return { key, uri: store.uri(key), shard, first: start, products: products.length, reused: false, productsPerSecond };
  } finally {
    await embedder.close();
  }
}

/** The N shards of a model and snapshot as the index build reads them: their sizes, ids, and each shard's vectors on demand. */
export interface StoredShards extends VectorShards {
  files: ShardFile[];
  /** Shard k's vectors, checked against its description (size and sha256). */
  read(shard: number): Promise<Float32Array>;
}

/** Opens every shard of a model and snapshot; an InputError names the shards not embedded yet. */
export async function openShards(store: ArtifactStore, modelVersion: string, snapshotId: string, of: number): Promise<StoredShards> {
  const prefix = SHARDS_PREFIX(modelVersion, snapshotId, of);
  const files = await Promise.all(Array.from({ length: of }, (_, k) => readShardFile(store, shardKey(prefix, k, 'json'))));
  const missing = files.flatMap((file, k) => (file ? [] : [`${k}/${of}`]));
  if (missing.length > 0)
    throw new InputError(
      `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of snapshot ${snapshotId} with model ${modelVersion} not embedded (no ${prefix}/<k>.json): run \`index embed --shard k/${of}\` for each first`,
    );
  const present = files as ShardFile[];
  let next = 0;
  for (const file of present) {
    if (file.modelVersion !== modelVersion || file.snapshotId !== snapshotId || file.of !== of || file.first !== next)
      throw new CorruptArtifactError(
        `${store.uri(shardKey(prefix, file.shard, 'json'))} does not describe shard ${file.shard}/${of} of this snapshot and model`,
      );
    if (file.ids.length !== file.count || file.bytes !== file.count * file.dim * 4)
      throw new CorruptArtifactError(
        `${store.uri(shardKey(prefix, file.shard, 'json'))}: ${file.count} products, ${file.ids.length} ids, ${file.bytes} bytes`,
      );
    next += file.count;
  }
  const dims = new Set(present.map((f) => f.dim));
  if (dims.size !== 1)
    throw new CorruptArtifactError(`the shards of ${store.uri(prefix)} disagree on the embedding's dimension: ${[...dims].join(', ')}`);
  return {
    dims: present[0]!.dim,
    counts: present.map((f) => f.count),
    files: present,
    async read(shard: number) {
      const file = present[shard]!;
      const key = shardKey(prefix, shard, 'f32');
      const body = await store.get(key);
      if (body.length !== file.bytes || createHash('sha256').update(body).digest('hex') !== file.sha256)
        throw new CorruptArtifactError(`${store.uri(key)} is not the shard its description lists (size or sha256)`);
      // A view of the bytes read when they are aligned (a large read has a buffer of its own): one copy
      // of the shard in memory, not two.
      return body.byteOffset % 4 === 0 ? new Float32Array(body.buffer, body.byteOffset, body.length / 4) : float32FromBytes(body);
    },
  };
}
