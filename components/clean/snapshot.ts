/**
 * A snapshot pins the catalogue for training: its id follows from a content hash of the catalogue
 * (every product's and image's id and raw hash), so the same catalogue always gives the same
 * snapshot, and a clean that changed nothing changes no snapshot. Its rows are exported to the
 * artifact store (`snapshots/<id>/products.jsonl.gz`), so train reads exactly what was pinned, however
 * the catalogue moves on; `snapshot.json` is written last, as the sign that the export is complete.
 */
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { AlreadyExistsError, type ArtifactStore, type Database, type Queryable } from '../core/platform/index.js';
import { SNAPSHOT_KEY, SNAPSHOT_PRODUCTS_KEY, type SnapshotProduct } from '../core/contracts/index.js';

export interface Snapshot {
  id: string;
  hash: string;
  createdAt: string;
  products: number;
  productImages: number;
  quarantined: number;
  counts: {
    rootCategories: Record<string, number>;
    quarantineRules: Record<string, number>;
    located: number;
  };
  /** Products added or changed since the previous snapshot was taken. */
  newListings: number;
  /** The pinned rows: one JSON object per line (SnapshotProduct), gzip-compressed. */
  productsKey: string;
}

/** The catalogue's products as JSON lines, read in id order a page at a time. */
async function* productLines(q: Queryable, pageSize = 1000): AsyncGenerator<string> {
  let last = '';
  for (;;) {
    const page = await q.query<SnapshotProduct>(
      `SELECT p.id, p.title, p.text_clean AS text, p.root_category AS root, p.category_path AS path,
              p.price_minor AS "priceMinor", p.town, p.county, p.latitude, p.longitude,
              coalesce((SELECT jsonb_agg(jsonb_build_object('id', i.id, 'key', i.model_key, 'duplicateOf', i.duplicate_of) ORDER BY i.id)
                          FROM product_images i WHERE i.product_id = p.id), '[]'::jsonb) AS images
         FROM products p WHERE p.id > $1 ORDER BY p.id LIMIT $2`,
      [last, pageSize],
    );
    if (page.rows.length === 0) return;
    for (const row of page.rows) yield `${JSON.stringify(row)}\n`;
    last = page.rows.at(-1)?.id ?? last;
  }
}

export async function takeSnapshot(db: Database, store: ArtifactStore): Promise<Snapshot> {
  // One consistent view of the catalogue for the hash, the counts and the exported rows, even while a
  // clean writes beside it.
  return db.transaction(async (q) => {
    await q.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const digest = await q.query<{ hash: string }>(
      `SELECT encode(sha256(convert_to(
                coalesce((SELECT string_agg(id || ':' || raw_hash, ',' ORDER BY id) FROM products), '') || '|' ||
                coalesce((SELECT string_agg(id || ':' || raw_hash, ',' ORDER BY id) FROM product_images), ''),
              'UTF8')), 'hex') AS hash`,
    );
    const hash = digest.rows[0]?.hash ?? '';
    const previous = await q.query<{ created_at: Date }>('SELECT created_at FROM snapshots ORDER BY created_at DESC LIMIT 1');
    const since = previous.rows[0]?.created_at ?? new Date(0);
    const one = async (sql: string, params: unknown[] = []) => (await q.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;
    const grouped = async (sql: string) => Object.fromEntries((await q.query<{ k: string; n: number }>(sql)).rows.map((r) => [r.k, r.n]));
    const counts = {
      rootCategories: await grouped('SELECT root_category AS k, count(*) AS n FROM products GROUP BY 1 ORDER BY 1'),
      quarantineRules: await grouped('SELECT rule AS k, count(*) AS n FROM quarantine GROUP BY 1 ORDER BY 1'),
      located: await one('SELECT count(*) AS n FROM products WHERE latitude IS NOT NULL'),
    };
    const products = await one('SELECT count(*) AS n FROM products');
    const productImages = await one('SELECT count(*) AS n FROM product_images');
    const quarantined = await one('SELECT count(*) AS n FROM quarantine');
    const id = `snap-${hash.slice(0, 16)}`;
    await q.query(
      `INSERT INTO snapshots (id, catalogue_hash, products, product_images, quarantined, counts)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (catalogue_hash) DO NOTHING`,
      [id, hash, products, productImages, quarantined, JSON.stringify(counts)],
    );
    const row = await q.query<{ created_at: Date }>('SELECT created_at FROM snapshots WHERE id = $1', [id]);
    const createdAt = row.rows[0]?.created_at ?? new Date();
    const newListings = createdAt > since ? await one('SELECT count(*) AS n FROM products WHERE updated_at > $1', [since]) : 0;
    const snapshot: Snapshot = {
      id,
      hash,
      createdAt: createdAt.toISOString(),
      products,
      productImages,
      quarantined,
      counts,
      newListings,
      productsKey: SNAPSHOT_PRODUCTS_KEY(id),
    };
    if (!(await store.exists(SNAPSHOT_KEY(id)))) {
      await store.put(snapshot.productsKey, Readable.from(productLines(q)).pipe(createGzip()), { contentType: 'application/gzip' });
      try {
        await store.put(SNAPSHOT_KEY(id), JSON.stringify(snapshot, null, 2), { contentType: 'application/json', ifAbsent: true });
      } catch (error) {
        // Another process published the same snapshot first: the same catalogue, the same content.
        if (!(error instanceof AlreadyExistsError)) throw error;
      }
    }
    return snapshot;
  });
}
