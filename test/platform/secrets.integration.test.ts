/**
 * No secret in what the project writes: the commands run with a database password and S3 keys in
 * their environment, then every line they printed, every object they stored and the compiled pipeline
 * spec are searched for those values.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compileToYaml } from '../../pipelines/marketplace/compile.js';
import { marketplaceRanking } from '../../pipelines/marketplace/pipeline.js';
import { openS3Store } from '../../components/core/platform/index.js';
import { collect, freshBucket, freshPostgresDatabase, REPO_ROOT, s3ProcessEnv, testS3Client } from '../helpers.js';

describe('secrets stay out of outputs', () => {
  it('load, clean and drift print and store no password or key, even when they fail', async () => {
    const database = await freshPostgresDatabase();
    try {
      // The test server trusts loopback connections, so a password in the URL is accepted and ignored.
      const password = 'Pw-8f3a91c2e77b';
      const url = new URL(database.url);
      url.password = password;
      const bucket = await freshBucket();
      const env: NodeJS.ProcessEnv = { ...process.env, ...s3ProcessEnv(bucket), DATABASE_URL: url.href, LOG_LEVEL: 'debug', LOG_JSON: '1' };
      const secrets = [password, env['AWS_SECRET_ACCESS_KEY']!];
      const run = (script: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
        spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, script), ...args], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
          env: { ...env, ...extra },
        });
      const load = run('components/load/main.ts', [path.join(REPO_ROOT, 'test', 'fixtures', 'export-7col')]);
      const clean = run('components/clean/main.ts', []);
      const snapshotId = (JSON.parse(clean.stdout || '{}') as { snapshot?: { id: string } }).snapshot?.id ?? '';
      const outputs = [
        load,
        clean,
        run('components/drift/main.ts', ['--snapshot', snapshotId]),
        // Failures print their causes: a refused secret key, an unreachable database.
        run('components/clean/main.ts', [], { AWS_SECRET_ACCESS_KEY: `${secrets[1]}-wrong` }),
        run('components/load/main.ts', ['--from', `postgres://reader:${password}@127.0.0.1:1/seed`]),
      ];
      assert.deepEqual(
        outputs.map((o) => o.status),
        [0, 0, 0, 1, 1],
        outputs.map((o) => o.stderr).join('\n'),
      );
      const texts = outputs.flatMap((o) => [o.stdout, o.stderr]);
      const store = openS3Store(`s3://${bucket}/artifacts`, testS3Client());
      for (const object of await collect(store.list(''))) {
        const body = await store.get(object.key);
        texts.push(object.key.endsWith('.gz') ? (await import('node:zlib')).gunzipSync(body).toString('utf8') : body.toString('utf8'));
      }
      texts.push(await compileToYaml(marketplaceRanking, { imageRegistry: 'registry.example/marketplace' }));
      assert.ok(texts.length > 8, 'there was output to search');
      for (const secret of secrets) {
        const leaks = texts.filter((text) => text.includes(secret));
        assert.equal(leaks.length, 0, `a secret leaked into: ${leaks.map((t) => t.slice(0, 200)).join(' | ')}`);
      }
      assert.match(outputs[4]!.stderr, /postgres:\/\/reader:\*\*\*@127\.0\.0\.1:1\/seed/, 'shown masked where it is named');
    } finally {
      await database.drop();
    }
  });
});
