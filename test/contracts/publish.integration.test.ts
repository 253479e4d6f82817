/** Publishing file sets with a manifest written last, and reading them back verified, on both stores. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AlreadyExistsError, NotFoundError, type ArtifactStore } from '../../components/core/platform/index.js';
import { CorruptArtifactError, openPublished, publish } from '../../components/core/contracts/index.js';
import { storeBackends } from '../helpers.js';

for (const backend of storeBackends) {
  describe(`publishing on ${backend.name}`, () => {
    let store: ArtifactStore;
    let dispose: () => Promise<void>;
    before(async () => ({ store, dispose } = await backend.open()));
    after(() => dispose());

    const files = [
      { name: 'products.faiss', body: randomBytes(50_000) },
      { name: 'ids.json', body: Buffer.from('["p1","p2"]') },
    ];

    it('publishes files then the manifest, and reads them back checked against it', async () => {
      const manifest = await publish(store, 'indexes/v1', files, { kind: 'index', version: 'v1', metadata: { vectors: 2 } });
      assert.deepEqual(
        manifest.files.map((f) => [f.name, f.bytes]),
        [
          ['products.faiss', 50_000],
          ['ids.json', 11],
        ],
      );
      const published = await openPublished(store, 'indexes/v1');
      assert.deepEqual(published.manifest, manifest);
      assert.deepEqual(await published.read('products.faiss'), files[0]!.body);
      await assert.rejects(published.read('other.bin'), NotFoundError);
    });

    it('never overwrites a published version', async () => {
      await assert.rejects(publish(store, 'indexes/v1', files, { kind: 'index', version: 'v1', metadata: {} }), AlreadyExistsError);
      assert.deepEqual(await (await openPublished(store, 'indexes/v1')).read('ids.json'), files[1]!.body);
    });

    it('refuses a file whose bytes changed after publishing, naming it', async () => {
      await store.put('indexes/v1/products.faiss', randomBytes(50_000));
      const published = await openPublished(store, 'indexes/v1');
      await assert.rejects(
        published.read('products.faiss'),
        (error: unknown) => error instanceof CorruptArtifactError && /products\.faiss does not match its manifest/.test(error.message),
      );
      await store.put('indexes/v1/ids.json', '["p1"]');
      await assert.rejects(published.read('ids.json'), /ids\.json does not match its manifest: 6 bytes, .*the manifest lists 11 bytes/);
    });

    it('calls files without a manifest unpublished (an interrupted publish)', async () => {
      await store.put('indexes/v2/products.faiss', randomBytes(10));
      await assert.rejects(openPublished(store, 'indexes/v2'), /nothing is published at .*indexes\/v2 \(no manifest\.json\)/);
      await store.put('indexes/v3/manifest.json', '{"kind": 1}');
      await assert.rejects(openPublished(store, 'indexes/v3'), CorruptArtifactError);
    });
  });
}
