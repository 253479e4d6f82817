/**
 * What the tests share: the real servers `npm test` starts (PostgreSQL and Ceph RGW on loopback),
 * a fresh database or bucket per test, and both backends of each storage interface, so a storage
 * test is written once and runs against both.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import {
  createLogger,
  migrate,
  openFsStore,
  openPglite,
  openPostgres,
  openS3Store,
  seededRandom,
  type ArtifactStore,
  type Database,
  type Logger,
} from '../components/core/platform/index.js';

export const silentLog: Logger = createLogger('test', 'silent');

/** A variable `npm test` sets; a clear failure (not a skip) when a test runs without it. */
export function testEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts PostgreSQL and Ceph RGW`);
  return value;
}

const uniqueName = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

export async function tempDir(prefix = 'marketplace-test-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A new, empty database on the test server; `drop` removes it. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = testEnv('TEST_DATABASE_URL');
  const name = uniqueName('test');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface DatabaseBackend {
  name: 'postgres' | 'pglite';
  /** A fresh, migrated database and its disposal. */
  open(): Promise<{ db: Database; dispose(): Promise<void> }>;
}

export const databaseBackends: DatabaseBackend[] = [
  {
    name: 'postgres',
    async open() {
      const fresh = await freshPostgresDatabase();
      const db = await openPostgres(fresh.url);
      await migrate(db);
      return {
        db,
        dispose: async () => {
          await db.close();
          await fresh.drop();
        },
      };
    },
  },
  {
    name: 'pglite',
    async open() {
      const tmp = await tempDir('pglite-');
      const db = await openPglite(path.join(tmp.dir, 'pg'), silentLog);
      await migrate(db);
      return {
        db,
        dispose: async () => {
          await db.close();
          await tmp.remove();
        },
      };
    },
  },
];

/** An S3 client for the test RGW; `secretKey` overrides the real one (for the wrong-credentials test). */
export function testS3Client(secretKey?: string): S3Client {
  return new S3Client({
    endpoint: testEnv('TEST_S3_ENDPOINT'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: testEnv('TEST_AWS_ACCESS_KEY_ID'),
      secretAccessKey: secretKey ?? testEnv('TEST_AWS_SECRET_ACCESS_KEY'),
    },
    maxAttempts: 2,
  });
}

/** A new bucket on the test RGW. */
export async function freshBucket(): Promise<string> {
  const bucket = uniqueName('test').replace(/_/g, '-');
  await testS3Client().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** The environment that points a component's process at the test S3 server. */
export function s3ProcessEnv(bucket: string, prefix = 'artifacts'): NodeJS.ProcessEnv {
  return {
    ARTIFACT_ROOT: `s3://${bucket}/${prefix}`,
    S3_ENDPOINT: testEnv('TEST_S3_ENDPOINT'),
    AWS_ACCESS_KEY_ID: testEnv('TEST_AWS_ACCESS_KEY_ID'),
    AWS_SECRET_ACCESS_KEY: testEnv('TEST_AWS_SECRET_ACCESS_KEY'),
    AWS_REGION: 'us-east-1',
  };
}

export interface StoreBackend {
  name: 's3' | 'filesystem';
  open(): Promise<{ store: ArtifactStore; dispose(): Promise<void> }>;
}

export const storeBackends: StoreBackend[] = [
  {
    name: 's3',
    async open() {
      const bucket = await freshBucket();
      return { store: openS3Store(`s3://${bucket}/root`, testS3Client()), dispose: async () => undefined };
    },
  },
  {
    name: 'filesystem',
    async open() {
      const tmp = await tempDir('store-');
      return { store: openFsStore(path.join(tmp.dir, 'artifacts')), dispose: tmp.remove };
    },
  },
];

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/** A sample of the real Gumtree export, committed (test/fixtures/gumtree-sample/README.md): real rows for tests, no ../shared needed. */
export const REAL_EXPORT_SAMPLE = path.join(REPO_ROOT, 'test', 'fixtures', 'gumtree-sample');

/**
 * A database and an artifact store of the given backends, opened before a suite's tests and disposed
 * after them, with whatever else the suite hands to `defer` (disposed in reverse order).
 */
export function suiteStorage(databaseBackend: DatabaseBackend, storeBackend: StoreBackend) {
  let opened: { db: Database; store: ArtifactStore } | undefined;
  const disposers: (() => Promise<void>)[] = [];
  before(async () => {
    const database = await databaseBackend.open();
    disposers.push(database.dispose);
    const store = await storeBackend.open();
    disposers.push(store.dispose);
    opened = { db: database.db, store: store.store };
  });
  after(async () => {
    for (const dispose of disposers.reverse()) await dispose();
  });
  const get = () => {
    if (!opened) throw new Error('suiteStorage is only open inside the suite’s tests');
    return opened;
  };
  return {
    get db() {
      return get().db;
    },
    get store() {
      return get().store;
    },
    defer(dispose: () => Promise<void>) {
      disposers.push(dispose);
    },
  };
}

/** `count` random unit vectors of `dims`, flattened, the same for the same seed. */
export function unitVectors(count: number, dims: number, seed: number): number[] {
  const next = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = Array.from({ length: dims }, () => next() - 0.5);
    const norm = Math.hypot(...v);
    out.push(...v.map((x) => x / norm));
  }
  return out;
}
