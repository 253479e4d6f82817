import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AlreadyExistsError,
  CredentialsError,
  InputError,
  NotFoundError,
  openArtifactStore,
  openFsStore,
  openS3Store,
  type ArtifactStore,
} from '../../components/core/platform/index.js';
import { collect, freshBucket, storeBackends, testS3Client } from '../helpers.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

for (const backend of storeBackends) {
  describe(`artifact store on ${backend.name}`, () => {
    let store: ArtifactStore;
    let dispose: () => Promise<void>;
    before(async () => ({ store, dispose } = await backend.open()));
    after(() => dispose());

    it('puts and gets bytes, text and streams', async () => {
      await store.put('models/v1/model.json', '{"a":1}', { contentType: 'application/json' });
      await store.put('models/v1/weights.bin', Buffer.from([1, 2, 3]));
      await store.put('models/v1/stream.txt', Readable.from(['hello ', 'stream']));
      assert.equal((await store.get('models/v1/model.json')).toString(), '{"a":1}');
      assert.deepEqual([...(await store.get('models/v1/weights.bin'))], [1, 2, 3]);
      const chunks = await collect(await store.getStream('models/v1/stream.txt'));
      assert.equal(Buffer.concat(chunks.map((c) => Buffer.from(c as Buffer))).toString(), 'hello stream');
      assert.deepEqual(await store.stat('models/v1/weights.bin'), { key: 'models/v1/weights.bin', size: 3 });
      assert.equal(await store.exists('models/v1/weights.bin'), true);
      assert.equal(await store.exists('models/v1/nothing'), false);
      assert.equal(await store.stat('models/v1/nothing'), null);
      assert.ok(store.uri('models/v1/model.json').endsWith('/models/v1/model.json'));
    });

    it('lists by prefix, in key order', async () => {
      for (const key of ['idx/b/2', 'idx/a/1', 'idx/a/3', 'idxother/x', 'other/y']) await store.put(key, key);
      assert.deepEqual(
        (await collect(store.list('idx/'))).map((o) => o.key),
        ['idx/a/1', 'idx/a/3', 'idx/b/2'],
      );
      assert.deepEqual(
        (await collect(store.list('idx/a'))).map((o) => o.key),
        ['idx/a/1', 'idx/a/3'],
      );
      assert.deepEqual(
        (await collect(store.list('idx'))).map((o) => o.key),
        ['idx/a/1', 'idx/a/3', 'idx/b/2', 'idxother/x'],
      );
      assert.deepEqual(await collect(store.list('none/')), []);
    });

    it('names the missing object in a NotFoundError', async () => {
      await assert.rejects(store.get('missing/key.bin'), (error: unknown) => {
        assert.ok(error instanceof NotFoundError);
        assert.match(error.message, /no artifact at (s3|file):\/\/.*\/missing\/key\.bin/);
        return true;
      });
      await assert.rejects(store.getStream('missing/key.bin'), NotFoundError);
      await store.delete('missing/key.bin'); // absent is fine
    });

    it('creates only when absent: a second conditional write fails and the first content stays', async () => {
      await store.put('serving/current.json', 'first', { ifAbsent: true });
      await assert.rejects(store.put('serving/current.json', 'second', { ifAbsent: true }), AlreadyExistsError);
      assert.equal((await store.get('serving/current.json')).toString(), 'first');
      await store.put('serving/current.json', 'third');
      assert.equal((await store.get('serving/current.json')).toString(), 'third');
    });

    it('refuses keys that escape the root or are not plain paths', async () => {
      for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/./b', '.tmp/x', 'a/b/', 'sp ace']) {
        await assert.rejects(store.put(key, 'x'), InputError, key);
      }
    });

    it('deletes', async () => {
      await store.put('tmp/delete-me', 'x');
      await store.delete('tmp/delete-me');
      assert.equal(await store.exists('tmp/delete-me'), false);
    });

    it('never shows a partial object when a streamed write fails', async () => {
      const failing = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          setImmediate(() => this.destroy(new Error('source broke')));
        },
      });
      await assert.rejects(store.put('partial/object.bin', failing), /source broke/);
      assert.equal(await store.exists('partial/object.bin'), false);
      assert.deepEqual(await collect(store.list('partial/')), []);
    });
  });
}

describe('artifact store on s3: what only a real S3 server can show', () => {
  let bucket: string;
  before(async () => (bucket = await freshBucket()));

  it('uploads a large stream as a multipart upload and reads back the same bytes', async () => {
    const store = openS3Store(`s3://${bucket}/big`, testS3Client());
    const data = randomBytes(20 * 1024 * 1024 + 12345);
    const parts = Array.from({ length: 21 }, (_, i) => data.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
    await store.put('index/products.faiss', Readable.from(parts));
    assert.equal((await store.stat('index/products.faiss'))?.size, data.length);
    assert.equal(sha256(await store.get('index/products.faiss')), sha256(data));
  });

  it('a wrong secret key is a CredentialsError (403), not a missing object', async () => {
    const store = openS3Store(`s3://${bucket}/x`, testS3Client('not-the-secret-key-at-all-000000000000000'));
    await assert.rejects(store.get('anything'), (error: unknown) => {
      assert.ok(error instanceof CredentialsError, String(error));
      assert.match(error.message, /S3 refused the credentials for s3:\/\/.*\/x\/anything \((SignatureDoesNotMatch|AccessDenied)\)/);
      assert.doesNotMatch(error.message, /not-the-secret/);
      return true;
    });
    await assert.rejects(store.put('anything', 'x'), CredentialsError);
  });

  it('a bucket that does not exist is named in the error', async () => {
    const store = openS3Store('s3://no-such-bucket-here/x', testS3Client());
    await assert.rejects(store.get('k'), /bucket 'no-such-bucket-here' does not exist/);
  });
});

describe('artifact store on the filesystem: atomic writes', () => {
  it('leaves no temporary file behind, and the configured default root is a folder', async () => {
    const { tempDir } = await import('../helpers.js');
    const tmp = await tempDir();
    try {
      const store = openArtifactStore({
        artifactRoot: `file://${tmp.dir}/root`,
        s3: { endpoint: undefined, region: 'x', forcePathStyle: false },
      });
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('same/key', `writer ${i}`)));
      assert.match((await store.get('same/key')).toString(), /^writer \d+$/, 'one whole write wins');
      const root = fileURLToPath(store.root);
      assert.deepEqual(await readdir(path.join(root, '.tmp')), [], 'temporary files are renamed or removed');
    } finally {
      await tmp.remove();
    }
  });
});

describe('artifact store on the filesystem: a full disk and a read-only root', () => {
  it('fails with an error naming the artifact and the cause, and leaves nothing half-written', async () => {
    const { tempDir } = await import('../helpers.js');
    const { execFileSync, spawnSync } = await import('node:child_process');
    const tmp = await tempDir('full-');
    const small = path.join(tmp.dir, 'small');
    const readOnly = path.join(tmp.dir, 'read-only');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(small);
    await mkdir(readOnly);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      const store = openFsStore(small);
      await store.put('models/ok.bin', randomBytes(10_000));
      await assert.rejects(
        store.put('models/big.bin', randomBytes(1024 * 1024)),
        /cannot write artifact file:\/\/.*\/small\/models\/big\.bin: .*ENOSPC/,
      );
      await assert.rejects(store.put('models/streamed.bin', Readable.from([randomBytes(600_000), randomBytes(600_000)])), /ENOSPC/);
      assert.deepEqual(
        (await collect(store.list('models/'))).map((o) => o.key),
        ['models/ok.bin'],
        'no partial object',
      );
      assert.deepEqual(await readdir(path.join(small, '.tmp')), [], 'no temporary file left');

      await store.put('kept.txt', 'before');
      execFileSync('mount', ['-o', 'bind,ro', small, readOnly]);
      const frozen = openFsStore(readOnly);
      await assert.rejects(frozen.put('kept.txt', 'after'), /cannot write artifact file:\/\/.*\/read-only\/kept\.txt: .*EROFS/);
      assert.equal((await frozen.get('kept.txt')).toString(), 'before', 'what was stored is not lost');
    } finally {
      // The read-only bind exists only when the test got that far.
      spawnSync('umount', [readOnly]);
      spawnSync('umount', [small]);
      await tmp.remove();
    }
  });
});
