/**
 * images/prune.sh chooses what to remove from the engine's image list. The engine here is a fake
 * (a `podman` script on PATH that prints a fixed `images --format json` and records every other
 * call), because the choice is the thing under test: the real podman's removal is its own business.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers.js';

const PRUNE = path.join(REPO_ROOT, 'images', 'prune.sh');
const HOUR = 3600;
const NOW = 1_800_000_000;

interface FakeImage {
  id: string;
  names: string[];
  created: number;
  revision?: string;
}

const component = (name: string, revision: string, created: number): FakeImage => ({
  id: `${name}-${revision}`,
  names: [`localhost/marketplace-${name}:${revision}`],
  created,
  revision,
});

function fakeEngine(images: FakeImage[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'prune-test-'));
  const json = images.map((image) => ({
    Id: image.id,
    Names: image.names.length ? image.names : null,
    Created: image.created,
    Labels: image.revision
      ? { 'io.marketplace.component': 'x', 'org.opencontainers.image.revision': image.revision }
      : { 'io.buildah.version': '1.28.2' },
  }));
  writeFileSync(path.join(dir, 'images.json'), JSON.stringify(json));
  const script = `#!/bin/sh
if [ "$1" = images ]; then cat "${dir}/images.json"; exit 0; fi
echo "$*" >> "${dir}/calls"
`;
  writeFileSync(path.join(dir, 'podman'), script);
  chmodSync(path.join(dir, 'podman'), 0o755);
  return dir;
}

function prune(images: FakeImage[], ...args: string[]) {
  const dir = fakeEngine(images);
  dirs.push(dir);
  const result = spawnSync('bash', [PRUNE, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, CONTAINER_ENGINE: 'podman' },
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');
  } catch {
    // no calls recorded
  }
  return { ...result, removed: calls.filter((c) => c.startsWith('rmi ')).map((c) => c.slice(4)), calls };
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('images/prune.sh (fake engine)', () => {
  // Two builds a day apart, each with its untagged builder stages, and a base image.
  const old = [component('load', 'aaa', NOW - 25 * HOUR), component('serve', 'aaa', NOW - 24 * HOUR)];
  const current = [component('load', 'bbb', NOW - 10 * 60), component('serve', 'bbb', NOW)];
  const stages = [
    { id: 'stage-old', names: [], created: NOW - 25 * HOUR - 60 },
    { id: 'stage-current', names: [], created: NOW - 12 * 60 },
  ];
  const base = { id: 'base', names: ['localhost/marketplace/node:20'], created: NOW - 48 * HOUR };
  const all = [...old, ...current, ...stages, base];

  it("removes the older build's images by name and its stages, keeps the newest build, its stages and the base", () => {
    const result = prune(all);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.removed.sort(), ['localhost/marketplace-load:aaa', 'localhost/marketplace-serve:aaa', 'stage-old']);
    assert.match(result.stderr, /keeping build\(s\) bbb/);
    // The orphans of the removed tags go too, but only those older than the kept build.
    const pruneCall = result.calls.find((c) => c.startsWith('image prune'));
    assert.ok(pruneCall, 'image prune is called');
    assert.match(pruneCall, /until=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  });

  it('--keep 2 keeps both builds; --dry-run lists and removes nothing', () => {
    assert.deepEqual(prune(all, '--keep', '2').removed, []);
    const dry = prune(all, '--dry-run');
    assert.equal(dry.status, 0, dry.stderr);
    assert.deepEqual(dry.calls, []);
    assert.deepEqual(dry.stdout.trim().split('\n').sort(), [
      'localhost/marketplace-load:aaa',
      'localhost/marketplace-serve:aaa',
      'stage-old',
    ]);
  });

  it('with no component images, or a bad --keep, removes nothing', () => {
    const none = prune([base, stages[0]!]);
    assert.equal(none.status, 0);
    assert.deepEqual(none.removed, []);
    const bad = prune(all, '--keep', '0');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--keep must be a whole number of builds, at least 1, not '0'/);
    assert.deepEqual(bad.removed, []);
  });
});
