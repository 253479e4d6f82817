/**
 * The files of a catalogue snapshot in the artifact store: the contract between clean, which writes
 * them, and train, evaluate and index, which read them. `snapshot.json` is written last.
 */
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { ArtifactStore } from '../platform/artifacts/index.js';

export const SNAPSHOT_KEY = (id: string) => `snapshots/${id}/snapshot.json`;
export const SNAPSHOT_PRODUCTS_KEY = (id: string) => `snapshots/${id}/products.jsonl.gz`;

/** One line of `products.jsonl.gz`: what train and evaluate read of a product. */
export interface SnapshotProduct {
  id: string;
  title: string;
  text: string;
  root: string;
  path: string[];
  priceMinor: number;
  town: string | null;
  county: string | null;
  latitude: number | null;
  longitude: number | null;
  /** Model-ready image copies in the artifact store, by image id. */
  images: { id: string; key: string; duplicateOf: string | null }[];
}

/** The pinned products of a snapshot, as train and evaluate read them. */
export async function* readSnapshotProducts(store: ArtifactStore, snapshotId: string): AsyncGenerator<SnapshotProduct> {
  const lines = createInterface({
    input: (await store.getStream(SNAPSHOT_PRODUCTS_KEY(snapshotId))).pipe(createGunzip()),
    crlfDelay: Infinity,
  });
  for await (const line of lines) if (line) yield JSON.parse(line) as SnapshotProduct;
}
