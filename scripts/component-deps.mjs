#!/usr/bin/env node
/**
 * Per-component dependency sets, driven by what each component's code really loads: the images install
 * every production dependency (`npm ci --omit=dev`, one lock file), then keep only the packages their
 * component's import graph reaches, with everything those packages need (their dependencies, optional
 * and peer dependencies, as npm laid them out in node_modules).
 *
 *   node scripts/component-deps.mjs list <entry.js|entry.ts>… [--json]
 *       The bare packages the entries load, following relative imports (static imports and exports,
 *       dynamic import() and require() of a literal, require.resolve / import.meta.resolve). Type-only
 *       imports are not loads (the project compiles with verbatimModuleSyntax, so `import type` is the
 *       only way to write one, and TypeScript erases it). A dynamic import of a computed name is
 *       reported on stderr: its packages must be named with --extra where the image needs them.
 *   node scripts/component-deps.mjs prune --from <node_modules> --to <dir> [--entry <file>]… [--extra <pkg>]…
 *       Copies into <dir> the packages of `list` (of the entries) plus the extras, with their whole
 *       dependency closure resolved as Node resolves it from each package's place in the tree, and
 *       nothing else (nor native binaries of other platforms: foreignBinary); prints the kept packages
 *       and their size as one JSON line.
 *
 * Needs `typescript` (a dev dependency) only to read .ts entries and to scan: run it where dev
 * dependencies are installed (the images' build stage), or pass the list to `prune` with --extra.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

function packageName(specifier) {
  return specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
}

function isBare(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return false;
  if (/^[a-z]+:/i.test(specifier)) return false; // data:, file:
  return !builtinModules.includes(packageName(specifier));
}

/** The specifiers one file loads at run time, and whether it imports a computed name. */
export function scanSource(text, fileName) {
  const ts = require('typescript');
  let code = text;
  if (/\.[cm]?ts$/.test(fileName)) {
    code = ts.transpileModule(text, {
      fileName,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
  }
  const info = ts.preProcessFile(code, true, true);
  const specifiers = info.importedFiles.map((file) => file.fileName);
  for (const match of code.matchAll(/\b(?:require|import\.meta)\.resolve\(\s*['"]([^'"]+)['"]/g)) specifiers.push(match[1]);
  const computed = /\bimport\(\s*(?!['"`])[^)]/.test(code);
  return { specifiers, computed };
}

function resolveRelative(from, specifier) {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = from.endsWith('.ts')
    ? [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, path.join(base, 'index.ts')]
    : [base, `${base}.js`, path.join(base, 'index.js')];
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
}

/** Walks the import graph from the entries: { packages: sorted names, computed: files with computed imports }. */
export function listPackages(entries) {
  const seen = new Set();
  const packages = new Set();
  const computed = [];
  const queue = entries.map((entry) => path.resolve(entry));
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.[cm]?[jt]s$/.test(file)) continue; // JSON and other data files
    const scanned = scanSource(readFileSync(file, 'utf8'), file);
    if (scanned.computed) computed.push(file);
    for (const specifier of scanned.specifiers) {
      if (specifier.startsWith('.')) {
        const target = resolveRelative(file, specifier);
        if (!target) throw new Error(`${file}: cannot resolve ${specifier}`);
        queue.push(target);
      } else if (isBare(specifier)) {
        packages.add(packageName(specifier));
      }
    }
  }
  return { packages: [...packages].sort(), computed: computed.sort(), files: seen.size };
}

/** The lock-file paths (node_modules/a/node_modules/b) of the packages and their closure. */
export function closure(nodeModules, names) {
  const lockFile = path.join(nodeModules, '.package-lock.json');
  if (!existsSync(lockFile)) throw new Error(`${lockFile} is missing: install with npm ci first`);
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')).packages ?? {};
  const root = path.dirname(nodeModules);
  const keep = new Set();
  const missing = [];
  const locate = (from, name) => {
    // Node's resolution: <from>/node_modules/<name>, then each ancestor's node_modules.
    let dir = from;
    for (;;) {
      const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (lock[candidate] && existsSync(path.join(root, candidate))) return candidate;
      if (!dir) return undefined;
      const at = dir.lastIndexOf('/node_modules/');
      dir = at < 0 ? '' : dir.slice(0, at);
    }
  };
  const visit = (from, name, optional) => {
    const found = locate(from, name);
    if (!found) {
      if (!optional) missing.push(from ? `${name} (needed by ${from})` : name);
      return;
    }
    if (keep.has(found)) return;
    keep.add(found);
    const entry = lock[found];
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(found, dep, false);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(found, dep, true);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) visit(found, dep, Boolean(entry.peerDependenciesMeta?.[dep]?.optional));
  };
  for (const name of names) visit('', name, false);
  if (missing.length > 0) throw new Error(`not installed: ${missing.join(', ')}`);
  return [...keep].sort();
}

function sizeOf(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

/** `bin/napi-v<N>/<platform>[/<arch>]` of another platform or architecture than this one's. */
export function foreignBinary(parts, platform = process.platform, arch = process.arch) {
  const at = parts.findIndex((part, i) => /^napi-v\d+$/.test(part) && parts[i - 1] === 'bin');
  if (at < 0 || parts.length <= at + 1) return false;
  if (parts[at + 1] !== platform) return true;
  return parts.length > at + 2 && parts[at + 2] !== arch;
}

function prune(nodeModules, to, names) {
  const root = path.dirname(path.resolve(nodeModules));
  const kept = closure(path.resolve(nodeModules), names);
  const target = path.resolve(to);
  mkdirSync(target, { recursive: true });
  for (const location of kept) {
    const source = path.join(root, location);
    const destination = path.join(target, location.replace(/^node_modules\//, ''));
    // A package's own files, not its nested node_modules: the kept nested packages are copied on their own.
    // Nor native binaries built for other systems (onnxruntime-node ships darwin, win32 and linux/arm64
    // ones too, ~220 MB that a linux/x64 image never loads).
    cpSync(source, destination, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (file) => {
        if (file === source) return true;
        const parts = path.relative(source, file).split(path.sep);
        return !parts.includes('node_modules') && !foreignBinary(parts);
      },
    });
  }
  return { packages: kept.length, bytes: sizeOf(target) };
}

function main(argv) {
  const [command, ...rest] = argv;
  const flags = { entry: [], extra: [], from: undefined, to: undefined, json: false };
  const positional = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--json') flags.json = true;
    else if (arg === '--entry' || arg === '--extra' || arg === '--from' || arg === '--to') {
      const value = rest[++i];
      if (!value) throw new Error(`${arg} needs a value`);
      if (arg === '--entry') flags.entry.push(value);
      else if (arg === '--extra') flags.extra.push(...value.split(',').filter(Boolean));
      else flags[arg.slice(2)] = value;
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (command === 'list') {
    const entries = [...positional, ...flags.entry];
    if (entries.length === 0) throw new Error('list needs an entry file');
    const result = listPackages(entries);
    for (const file of result.computed)
      process.stderr.write(`component-deps: ${file} imports a computed name: name its packages with --extra\n`);
    process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${result.packages.join('\n')}\n`);
    return;
  }
  if (command === 'prune') {
    if (!flags.from || !flags.to) throw new Error('prune needs --from <node_modules> and --to <dir>');
    const names = new Set(flags.extra);
    if (flags.entry.length > 0) for (const name of listPackages(flags.entry).packages) names.add(name);
    const result = prune(flags.from, flags.to, [...names].sort());
    process.stdout.write(`${JSON.stringify({ direct: [...names].sort(), ...result })}\n`);
    return;
  }
  throw new Error('usage: component-deps.mjs list <entry>… | prune --from <node_modules> --to <dir> [--entry <file>]… [--extra <pkg>]…');
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('component-deps.mjs')) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`component-deps: ${error.message}\n`);
    process.exit(1);
  }
}
