/**
 * The repository's import rules (.dependency-cruiser.cjs): core's layers import only downward
 * (platform <- contracts <- ml), components import core through each layer's index.ts and never each
 * other, the lean commands reach no model runtime, and no module imports in a circle. The rules are
 * run by dependency-cruiser over the real tree, and shown to bite on a small tree that breaks them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './helpers.js';

const CONFIG = path.join(REPO_ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(REPO_ROOT, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string, paths: string[]) {
  const run = spawnSync(DEPCRUISE, ['--config', CONFIG, '--output-type', 'err', ...paths], { cwd, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('architecture', () => {
  it('the repository keeps its import rules: layers downward, no cycles', () => {
    const { status, output } = cruise(REPO_ROOT, ['components', 'pipelines', 'bench', 'test']);
    assert.equal(status, 0, output);
  });

  it('the rules fail a tree whose platform imports ml, whose contracts import ml, or that has a cycle', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'layers-'));
    try {
      const file = (relative: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
        writeFileSync(path.join(root, relative), text);
      };
      file('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
      file('components/core/ml/embed.ts', 'export const embed = 1;\n');
      file('components/core/platform/log.ts', "import { embed } from '../ml/embed.js';\nexport const log = embed;\n");
      file('components/core/contracts/serving.ts', "import { embed } from '../ml/embed.js';\nexport const serving = embed;\n");
      file('components/clean/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
      file('components/clean/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
      const { status, output } = cruise(root, ['components']);
      assert.notEqual(status, 0);
      for (const rule of ['platform-imports-no-layer-above', 'contracts-import-no-ml', 'no-circular'])
        assert.match(output, new RegExp(rule), output);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
