/**
 * The compiled output, which the container images run (`node dist/…/main.js`): every component's
 * entrypoint starts, the files read at run time (migrations, gazetteer, the search page) are there, and the compiled
 * compiler writes the same bytes as the source.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, tempDir } from '../helpers.js';

describe('the build (what the images run)', () => {
  it('compiles, carries its data files, and every entrypoint answers --help', async () => {
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr + build.stdout);
    const dist = path.join(REPO_ROOT, 'dist');
    for (const file of [
      'components/core/platform/db/migrations/0001_raw_tables.sql',
      'components/core/contracts/gazetteer/gb-places.json',
      'components/core/contracts/gazetteer/regions.json',
      'components/serve/web/index.html',
      'components/serve/web/app.js',
      'components/serve/web/uk-outline.json',
    ]) {
      assert.ok(existsSync(path.join(dist, file)), `dist/${file}`);
    }
    const components = ['load', 'clean', 'drift', 'train', 'evaluate', 'index', 'deploy', 'serve'];
    for (const entry of [
      ...components.map((name) => `components/${name}/main.js`),
      'pipelines/cli/start.js',
      'pipelines/cli/compile.js',
      'pipelines/cli/run-local.js',
      'pipelines/cli/kfp.js',
    ]) {
      const help = spawnSync(process.execPath, [path.join(dist, entry), '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0, `${entry}: ${help.stderr}`);
      assert.match(help.stdout, /^Usage: /, entry);
    }
    // Only some images build faiss-node's native binding (index, evaluate, serve); the others must
    // start without it (the shared library loads faiss on first use, not on import).
    const noFaiss = path.join(REPO_ROOT, 'test/fixtures/no-faiss.cjs');
    const templates = new Map(
      spawnSync('bash', [path.join(REPO_ROOT, 'images/build.sh'), '--list'], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .map((line) => line.split('\t') as [string, string]),
    );
    const withoutFaiss = components.filter(
      (name) => !readFileSync(path.join(REPO_ROOT, templates.get(name) ?? '?'), 'utf8').includes('build-faiss.mjs --require'),
    );
    assert.deepEqual(withoutFaiss, ['load', 'clean', 'drift', 'train', 'deploy']);
    for (const name of withoutFaiss) {
      const entry = path.join(dist, `components/${name}/main.js`);
      const help = spawnSync(process.execPath, ['--require', noFaiss, entry, '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0, `${name} without faiss-node: ${help.stderr}`);
      assert.match(help.stdout, /^Usage: /, name);
    }
    const blocked = spawnSync(process.execPath, ['--require', noFaiss, '-e', "require('faiss-node')"], { encoding: 'utf8' });
    assert.notEqual(blocked.status, 0, 'the preload must really block faiss-node');
    const tmp = await tempDir('build-');
    try {
      const compiled = path.join(tmp.dir, 'compiled.yaml');
      const source = path.join(tmp.dir, 'source.yaml');
      assert.equal(spawnSync(process.execPath, [path.join(dist, 'pipelines/cli/compile.js'), '--out', compiled]).status, 0);
      assert.equal(
        spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines/cli/compile.ts'), '--out', source], {
          cwd: REPO_ROOT,
        }).status,
        0,
      );
      assert.equal(readFileSync(compiled, 'utf8'), readFileSync(source, 'utf8'));
    } finally {
      await tmp.remove();
    }
  });
});
