import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeConfig, InputError, loadConfig, maskUrl, redact } from '../../components/core/platform/index.js';

describe('configuration from the environment', () => {
  it('defaults to the embedded database and a local artifact folder under MARKETPLACE_HOME', () => {
    const config = loadConfig({}, '/srv/app');
    assert.equal(config.home, '/srv/app/.marketplace');
    assert.deepEqual(config.database, { kind: 'pglite', dir: '/srv/app/.marketplace/pg' });
    assert.equal(config.artifactRoot, 'file:///srv/app/.marketplace/artifacts');
    assert.equal(config.s3.region, 'us-east-1');
    assert.equal(config.s3.forcePathStyle, false);
  });

  it('treats empty variables as unset (Kubernetes often sets them to "")', () => {
    const config = loadConfig({ DATABASE_URL: '', ARTIFACT_ROOT: '', MARKETPLACE_HOME: '' }, '/x');
    assert.equal(config.database.kind, 'pglite');
    assert.equal(config.artifactRoot, 'file:///x/.marketplace/artifacts');
  });

  it('takes a Postgres URL, an s3:// root and a custom endpoint with path-style addressing', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://app:pw@db:5432/market',
      ARTIFACT_ROOT: 's3://my-bucket/prefix/',
      S3_ENDPOINT: 'http://127.0.0.1:7480',
    });
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgresql://app:pw@db:5432/market' });
    assert.equal(config.artifactRoot, 's3://my-bucket/prefix');
    assert.equal(config.s3.forcePathStyle, true);
    assert.equal(describeConfig(config).database, 'postgresql://app:***@db:5432/market');
  });

  it('names every bad variable, and never shows a password in the message', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://root:hunter22@db/x', ARTIFACT_ROOT: 'bucket/path', LOG_LEVEL: 'loud' }),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got 'mysql:\/\/root:\*\*\*@db\/x'\)/);
        assert.match(error.message, /ARTIFACT_ROOT must be file:\/\/\/absolute\/path or s3:\/\/bucket/);
        assert.match(error.message, /LOG_LEVEL must be one of/);
        assert.doesNotMatch(error.message, /hunter22/);
        return true;
      },
    );
    assert.throws(() => loadConfig({ S3_ENDPOINT: 'ftp://x' }), /S3_ENDPOINT must be an http/);
    assert.throws(() => loadConfig({ S3_FORCE_PATH_STYLE: 'maybe' }), /S3_FORCE_PATH_STYLE/);
  });
});

describe('secrets stay out of logs', () => {
  it('masks URL passwords', () => {
    assert.equal(maskUrl('postgres://u:p%40ss@h:1/d'), 'postgres://u:***@h:1/d');
    assert.equal(maskUrl('see https://:tok@host/x and postgres://u@h/d'), 'see https://:***@host/x and postgres://u@h/d');
  });

  it('masks the values of credential variables wherever they appear', () => {
    const env = { AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG', DATABASE_URL: 'postgres://a:Sup3rSecret@h/d' };
    const text = redact('key=wJalrXUtnFEMI/K7MDENG failed; password Sup3rSecret rejected', env);
    assert.equal(text, 'key=*** failed; password *** rejected');
  });
});
