import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import { migrate, openPostgres, readMigrations, upsertRows, type Database, type UpsertSpec } from '../../components/core/platform/index.js';
import { databaseBackends, freshPostgresDatabase, REPO_ROOT, tempDir } from '../helpers.js';

const SPEC: UpsertSpec = {
  table: 'things',
  columns: { id: 'text', name: 'text', tags: 'jsonb', hash: 'text' },
  key: ['id'],
  changeColumns: ['hash'],
  touch: ['updated_at'],
};

for (const backend of databaseBackends) {
  describe(`database on ${backend.name}`, () => {
    let db: Database;
    let dispose: () => Promise<void>;
    before(async () => {
      ({ db, dispose } = await backend.open());
      await db.exec(`CREATE TABLE things (id text PRIMARY KEY, name text, tags jsonb, hash text,
        updated_at timestamptz NOT NULL DEFAULT now());`);
    });
    after(() => dispose());

    it('applies every migration once and records it with its checksum', async () => {
      const files = await readMigrations();
      const applied = await db.query<{ version: number; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations ORDER BY version',
      );
      assert.deepEqual(
        applied.rows.map((row) => row.version),
        files.map((file) => file.version),
      );
      assert.deepEqual(await migrate(db), [], 'a second run applies nothing');
      const tables = await db.query<{ n: number }>(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('products_raw', 'images_raw', 'load_refusals')",
      );
      assert.equal(tables.rows[0]?.n, 3, 'count(*) comes back as a number on both engines');
    });

    it('refuses a migration edited after it was applied', async () => {
      const files = await readMigrations();
      const edited = files.map((file, i) => (i === 0 ? { ...file, checksum: 'different' } : file));
      await assert.rejects(migrate(db, edited), /was changed after it was applied/);
    });

    it('rolls a failed transaction back whole', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO things (id, name) VALUES ('t1', 'kept?')");
          await tx.query('SELECT * FROM no_such_table');
        }),
        /no_such_table/,
      );
      const rows = await db.query("SELECT id FROM things WHERE id = 't1'");
      assert.equal(rows.rows.length, 0);
    });

    it('upserts in batches: inserts, then only rows whose change column differs are updated', async () => {
      const rows = Array.from({ length: 1200 }, (_, i) => ({ id: `k${i}`, name: `n${i}`, tags: [i, 'x'], hash: `h${i}` }));
      assert.deepEqual(await upsertRows(db, SPEC, rows), { inserted: 1200, updated: 0, unchanged: 0 });
      const before = await db.query<{ updated_at: Date }>("SELECT updated_at FROM things WHERE id = 'k10'");
      assert.deepEqual(await upsertRows(db, SPEC, rows), { inserted: 0, updated: 0, unchanged: 1200 });
      const changed = rows.map((row, i) => (i < 5 ? { ...row, name: 'renamed', hash: 'new' } : row));
      assert.deepEqual(await upsertRows(db, SPEC, [...changed, { id: 'k-new', name: 'n', tags: null, hash: 'z' }]), {
        inserted: 1,
        updated: 5,
        unchanged: 1195,
      });
      const check = await db.query<{ name: string; tags: unknown; updated_at: Date }>(
        "SELECT name, tags, updated_at FROM things WHERE id IN ('k0', 'k10') ORDER BY id",
      );
      assert.equal(check.rows[0]?.name, 'renamed');
      assert.deepEqual(check.rows[0]?.tags, [0, 'x'], 'jsonb round-trips');
      assert.equal(check.rows[1]?.updated_at.getTime(), before.rows[0]?.updated_at.getTime(), 'an unchanged row keeps its updated_at');
    });

    it('refuses a batch that names one key twice', async () => {
      await assert.rejects(
        upsertRows(db, SPEC, [
          { id: 'd', hash: '1' },
          { id: 'd', hash: '2' },
        ]),
        /appears twice/,
      );
    });
  });
}

describe('migrations from two processes at once', () => {
  it('on Postgres: both succeed and each migration is applied once', async () => {
    const fresh = await freshPostgresDatabase();
    const [a, b] = await Promise.all([openPostgres(fresh.url), openPostgres(fresh.url)]);
    try {
      const results = await Promise.all([migrate(a), migrate(b)]);
      const total = (await readMigrations()).length;
      assert.equal(results[0].length + results[1].length, total, 'exactly one of them applied each migration');
      const rows = await a.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
      assert.equal(rows.rows[0]?.n, total);
    } finally {
      await a.close();
      await b.close();
      await fresh.drop();
    }
  });

  it('on PGlite: two processes opening one data directory take turns (lock), neither corrupts it', async () => {
    const tmp = await tempDir('pglite-two-');
    const dir = path.join(tmp.dir, 'pg');
    const script = `
      import { openPglite, migrate, createLogger } from ${JSON.stringify(path.join(REPO_ROOT, 'components/core/platform/index.ts'))};
      const db = await openPglite(${JSON.stringify(dir)}, createLogger('t', 'silent'));
      const applied = await migrate(db);
      await db.query("INSERT INTO load_refusals (source, raw_hash, reason, raw) VALUES ('p' || pg_backend_pid(), $1, 'r', 'x')", [process.pid + '']);
      await new Promise((r) => setTimeout(r, 300));
      await db.close();
      console.log(JSON.stringify(applied));`;
    const run = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('close', (code) => resolve({ code, out }));
      });
    try {
      const [first, second] = await Promise.all([run(), run()]);
      assert.equal(first.code, 0, first.out);
      assert.equal(second.code, 0, second.out);
      const applied = [JSON.parse(first.out) as string[], JSON.parse(second.out) as string[]];
      assert.equal(applied[0]!.length + applied[1]!.length, (await readMigrations()).length);
      const { openPglite, createLogger } = await import('../../components/core/platform/index.js');
      const db = await openPglite(dir, createLogger('t', 'silent'));
      const rows = await db.query<{ n: number }>('SELECT count(*) AS n FROM load_refusals');
      await db.close();
      assert.equal(rows.rows[0]?.n, 2, 'both processes wrote their row');
    } finally {
      await tmp.remove();
    }
  });
});
