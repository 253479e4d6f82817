/**
 * A snapshot pins the catalogue for training: its id follows from a content hash of the catalogue
 * (every product's and image's id and raw hash), so the same catalogue always gives the same
 * snapshot, and a clean that changed nothing changes no snapshot.
 */
import type { ArtifactStore, Database } from '../core/index.js';

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
}

export const SNAPSHOT_KEY = (id: string) => `snapshots/${id}/snapshot.json`;

export async function takeSnapshot(db: Database, store: ArtifactStore): Promise<Snapshot> {
  const digest = await db.query<{ hash: string }>(
    `SELECT encode(sha256(convert_to(
              coalesce((SELECT string_agg(id || ':' || raw_hash, ',' ORDER BY id) FROM products), '') || '|' ||
              coalesce((SELECT string_agg(id || ':' || raw_hash, ',' ORDER BY id) FROM product_images), ''),
            'UTF8')), 'hex') AS hash`,
  );
  const hash = digest.rows[0]?.hash ?? '';
  const previous = await db.query<{ created_at: Date }>('SELECT created_at FROM snapshots ORDER BY created_at DESC LIMIT 1');
  const since = previous.rows[0]?.created_at ?? new Date(0);
  const one = async (sql: string, params: unknown[] = []) => (await db.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;
  const grouped = async (sql: string) => Object.fromEntries((await db.query<{ k: string; n: number }>(sql)).rows.map((r) => [r.k, r.n]));
  const counts = {
    rootCategories: await grouped('SELECT root_category AS k, count(*) AS n FROM products GROUP BY 1 ORDER BY 1'),
    quarantineRules: await grouped('SELECT rule AS k, count(*) AS n FROM quarantine GROUP BY 1 ORDER BY 1'),
    located: await one('SELECT count(*) AS n FROM products WHERE latitude IS NOT NULL'),
  };
  const products = await one('SELECT count(*) AS n FROM products');
  const productImages = await one('SELECT count(*) AS n FROM product_images');
  const quarantined = await one('SELECT count(*) AS n FROM quarantine');
  const id = `snap-${hash.slice(0, 16)}`;
  await db.query(
    `INSERT INTO snapshots (id, catalogue_hash, products, product_images, quarantined, counts)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (catalogue_hash) DO NOTHING`,
    [id, hash, products, productImages, quarantined, JSON.stringify(counts)],
  );
  const row = await db.query<{ created_at: Date }>('SELECT created_at FROM snapshots WHERE id = $1', [id]);
  const createdAt = row.rows[0]?.created_at ?? new Date();
  const newListings = createdAt > since ? await one('SELECT count(*) AS n FROM products WHERE updated_at > $1', [since]) : 0;
  const snapshot: Snapshot = { id, hash, createdAt: createdAt.toISOString(), products, productImages, quarantined, counts, newListings };
  const key = SNAPSHOT_KEY(id);
  if (!(await store.exists(key))) await store.put(key, JSON.stringify(snapshot, null, 2), { contentType: 'application/json' });
  return snapshot;
}
