/**
 * The container images, linted without a Docker engine (none runs here; hadolint is not in Debian):
 * every pipeline component has an image whose entrypoint is the command the pipeline gives it and a
 * file the build compiles; every build is multi-stage with production-only dependencies at run time;
 * base images are pinned by digest; nothing runs as root; no secret and no `latest` tag is baked in;
 * only train carries tfjs-node-gpu, on a CUDA base. And images/build.sh tags them all, refusing `latest`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as components from '../pipelines/components.js';
import { REPO_ROOT } from './helpers.js';

const IMAGES = path.join(REPO_ROOT, 'images');
const dockerfiles = readdirSync(IMAGES).filter((file) => file.endsWith('.Dockerfile'));
const read = (file: string) => readFileSync(path.join(IMAGES, file), 'utf8');

/** Instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { keyword: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each build stage (after each FROM), and the ARGs before the first. */
function stages(text: string) {
  const all = instructions(text);
  const result: { from: string; body: { keyword: string; args: string }[] }[] = [];
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') result.push({ from: instruction.args, body: [] });
    else result.at(-1)?.body.push(instruction);
  }
  const globalArgs = new Map<string, string>();
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') break;
    const [name = '', value = ''] = instruction.args.split('=');
    if (instruction.keyword === 'ARG') globalArgs.set(name, value);
  }
  return { stages: result, globalArgs };
}

function entrypoint(text: string): string[] {
  const found = instructions(text).filter((instruction) => instruction.keyword === 'ENTRYPOINT').at(-1);
  assert.ok(found, 'an ENTRYPOINT');
  return JSON.parse(found.args) as string[];
}

const pipelineComponents = Object.values(components).map((fn) => fn.definition);

describe('container images (images/)', () => {
  it('every pipeline component has an image whose entrypoint is the command the pipeline runs', () => {
    assert.ok(pipelineComponents.length >= 7);
    for (const definition of pipelineComponents) {
      const name = definition.image.replace(/^marketplace-/, '');
      const file = `${name}.Dockerfile`;
      assert.ok(dockerfiles.includes(file), `${definition.name}: images/${file} for image ${definition.image}`);
      // KFP replaces the entrypoint with the component's command; the image's own must be the same program.
      assert.deepEqual(entrypoint(read(file)), definition.command.slice(0, 2), definition.name);
    }
    assert.ok(dockerfiles.includes('serve.Dockerfile'), 'the search service has an image');
    assert.ok(dockerfiles.includes('load.Dockerfile'), 'the loader has an image');
  });

  it("every image's entrypoint is a file that `npm run build` writes to dist/", () => {
    const build = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[]; exclude: string[]; compilerOptions?: { outDir?: string } };
    const base = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    assert.equal(build.compilerOptions?.outDir ?? base.compilerOptions.outDir, 'dist');
    assert.equal(base.compilerOptions.rootDir, '.');
    const covered = (source: string) =>
      build.include.some((glob) => source.startsWith(glob.replace(/\*\*\/\*\.ts$/, ''))) && !build.exclude.some((dir) => source.startsWith(`${dir}/`));
    const missing: string[] = [];
    for (const file of dockerfiles) {
      const [program, script = ''] = entrypoint(read(file));
      assert.equal(program, 'node', file);
      const match = /^\/app\/dist\/(.+)\.js$/.exec(script);
      assert.ok(match, `${file}: the entrypoint runs a file under /app/dist`);
      const source = `${match[1]}.ts`;
      assert.ok(covered(source), `${file}: ${source} is compiled by tsconfig.build.json`);
      if (!existsSync(path.join(REPO_ROOT, source))) missing.push(`${file}: ${source}`);
    }
    assert.deepEqual(missing, [], 'entrypoints whose source does not exist');
  });

  for (const file of dockerfiles) {
    it(`${file}: multi-stage, production dependencies only at run time, base pinned by digest, non-root, nothing secret`, () => {
      const text = read(file);
      const { stages: built, globalArgs } = stages(text);
      assert.ok(built.length >= 2, 'multi-stage');
      const runs = (stage: { body: { keyword: string; args: string }[] }) => stage.body.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
      const buildStage = built.find((stage) => /\bAS build$/i.test(stage.from));
      assert.ok(buildStage, 'a build stage');
      assert.match(runs(buildStage), /npm ci(?![^\n]*--omit=dev)/, 'the build stage installs dev dependencies');
      assert.match(runs(buildStage), /npm run build/);
      const depsStage = built.find((stage) => /\bAS deps$/i.test(stage.from));
      assert.ok(depsStage, 'a production dependencies stage');
      assert.match(runs(depsStage), /npm ci --omit=dev/);
      const final = built.at(-1);
      assert.ok(final && !/\bAS\b/i.test(final.from.replace(/^\$\{\w+\}$/, '')), 'the last stage is the runtime');
      const copies = final.body.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      assert.ok(copies.some((args) => /--from=deps \/app\/node_modules/.test(args)), 'node_modules come from the production stage');
      assert.ok(!copies.some((args) => /--from=build \/app\/node_modules/.test(args)), 'never the build stage’s (dev) node_modules');
      assert.ok(!runs(final).includes('npm '), 'no npm install at run time');

      // Every base is pinned by digest: literally, or through an ARG whose default is.
      for (const stage of built) {
        const image = stage.from.split(/\s+/)[0] ?? '';
        const arg = /^\$\{(\w+)\}$/.exec(image)?.[1];
        const resolved = arg ? (globalArgs.get(arg) ?? '') : image;
        if (!arg && built.some((other) => new RegExp(`\\bAS ${image}$`, 'i').test(other.from))) continue; // an earlier stage
        assert.match(resolved, /^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/, `${file}: ${stage.from} is pinned by digest`);
      }
      assert.doesNotMatch(text, /:latest\b/, 'no latest tag');

      const users = final.body.filter((i) => i.keyword === 'USER').map((i) => i.args);
      assert.ok(users.length > 0, 'the runtime stage sets USER');
      const user = users.at(-1) ?? '';
      assert.doesNotMatch(user, /^(root|0)(:|$)/, 'not root');
      assert.match(user, /^[1-9]\d*(:\d+)?$/, 'numeric, so runAsNonRoot can check it');

      // Nothing secret: no credential variables or values, no URL with a password.
      for (const instruction of instructions(text).filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
        assert.doesNotMatch(instruction.args, /(SECRET|PASSWORD|TOKEN|AWS_ACCESS_KEY_ID|DATABASE_URL|API_KEY)/i, `${file}: ${instruction.keyword} ${instruction.args}`);
      }
      assert.doesNotMatch(text, /AKIA[0-9A-Z]{16}/, 'no AWS access key');
      assert.doesNotMatch(text, /[a-z]+:\/\/[^\s/:@]+:[^\s/@]+@/i, 'no URL with a password');
      assert.ok(existsSync(path.join(IMAGES, `${file}.dockerignore`)), 'a build-context ignore file (keeps node_modules and .marketplace out)');
    });
  }

  it('only train carries tfjs-node-gpu, on a CUDA base, and runs on the GPU node group the pipeline selects', () => {
    for (const file of dockerfiles) {
      const installsGpu = /npm rebuild @tensorflow\/tfjs-node-gpu/.test(read(file));
      assert.equal(installsGpu, file === 'train.Dockerfile', file);
    }
    const { stages: built, globalArgs } = stages(read('train.Dockerfile'));
    assert.match(globalArgs.get('CUDA_IMAGE') ?? '', /^nvidia\/cuda:11\.\d+\.\d+-cudnn8-runtime-/);
    assert.equal(built.at(-1)?.from, '${CUDA_IMAGE}');
    assert.equal(components.train.definition.resources?.gpu?.count, 1);
  });

  it('the images that search (index, serve, and evaluate for its retrieval scores) build faiss against Debian’s libfaiss', () => {
    for (const file of ['index.Dockerfile', 'evaluate.Dockerfile', 'serve.Dockerfile']) {
      assert.match(read(file), /libfaiss-dev/);
      assert.match(read(file), /node scripts\/build-faiss\.mjs --require/);
    }
  });

  it('images/build.sh builds and tags every image, and refuses `latest`', () => {
    const script = path.join(IMAGES, 'build.sh');
    const dry = spawnSync('bash', [script, '--dry-run', '--registry', 'registry.example/team', '--tag', 'v1.2.3'], { encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    for (const file of dockerfiles) {
      const name = file.replace(/\.Dockerfile$/, '');
      assert.match(dry.stdout, new RegExp(`--file \\S*images/${name}\\.Dockerfile --tag registry\\.example/team/marketplace-${name}:v1\\.2\\.3 `));
    }
    assert.equal(spawnSync('bash', [script, '--dry-run', '--tag', 'latest'], { encoding: 'utf8' }).status, 2);
    assert.equal(spawnSync('bash', [script, '--dry-run'], { encoding: 'utf8', env: { ...process.env, TAG: 'latest' } }).status, 2);
    const defaultTag = spawnSync('bash', [script, '--dry-run', 'deploy'], { encoding: 'utf8', env: { ...process.env, TAG: '' } });
    assert.equal(defaultTag.status, 0, defaultTag.stderr);
    assert.match(defaultTag.stdout, /--tag marketplace-deploy:[0-9a-f]{12}(-dirty)? /, 'the commit by default');
  });
});
