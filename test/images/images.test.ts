/**
 * The container images, read without an engine (test/containers.test.ts builds and runs them): two
 * templates with an ARG for the component (images/node.Dockerfile, images/faiss.Dockerfile) and
 * train's own, one .dockerignore, the base images named in one place (images/bases.env, pinned by
 * digest); every pipeline component has an image whose template compiles the file its command runs;
 * every build is multi-stage, keeps only the component's own packages, and runs as a numeric non-root
 * user; the npm certificate authority comes in as a build secret only; images/build.sh names, tags and
 * refuses as it says, with podman or docker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as components from '../../pipelines/marketplace/components.js';
import { REPO_ROOT } from '../helpers.js';

const IMAGES = path.join(REPO_ROOT, 'images');
const BUILD = path.join(IMAGES, 'build.sh');
const read = (file: string) => readFileSync(path.join(IMAGES, file), 'utf8');
const TEMPLATES = ['node.Dockerfile', 'faiss.Dockerfile', 'train.Dockerfile'];

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
  const globalArgs: string[] = [];
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') break;
    if (instruction.keyword === 'ARG') globalArgs.push(instruction.args);
  }
  return { stages: result, globalArgs };
}

const runs = (stage: { body: { keyword: string; args: string }[] }) =>
  stage.body
    .filter((i) => i.keyword === 'RUN')
    .map((i) => i.args)
    .join('\n');

/** `images/build.sh --list`: name, template, image reference. */
function listed(...args: string[]): { name: string; template: string; image: string }[] {
  const result = spawnSync('bash', [BUILD, '--list', ...args], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [name = '', template = '', image = ''] = line.split('\t');
      return { name, template, image };
    });
}

const pipelineComponents = Object.values(components).map((fn) => fn.definition);

describe('container images (images/)', () => {
  it('two templates and train’s own, one .dockerignore, the base images in one place', () => {
    assert.deepEqual(
      readdirSync(IMAGES)
        .filter((file) => /Dockerfile/.test(file))
        .sort(),
      [...TEMPLATES].sort(),
    );
    assert.deepEqual(
      readdirSync(IMAGES).filter((file) => file.endsWith('.dockerignore')),
      [],
      'no per-image ignore files',
    );
    const ignore = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8');
    assert.match(ignore, /^\*\*$/m, 'the context starts from nothing');
    for (const kept of ['package.json', 'package-lock.json', '.npmrc', 'scripts/', 'components/', 'pipelines/'])
      assert.match(ignore, new RegExp(`^!${kept.replace('.', '\\.')}$`, 'm'));
    assert.doesNotMatch(ignore, /^!(node_modules|dist|\.marketplace|test)/m);

    const bases = Object.fromEntries(
      readFileSync(path.join(IMAGES, 'bases.env'), 'utf8')
        .split('\n')
        .filter((line) => /^\w+=/.test(line))
        .map((line) => line.split('=', 2) as [string, string]),
    );
    assert.deepEqual(Object.keys(bases).sort(), ['CUDA_IMAGE', 'NODE_IMAGE']);
    for (const [name, image] of Object.entries(bases))
      assert.match(image, /^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/, `${name} is pinned by digest`);
    assert.match(bases['CUDA_IMAGE'] ?? '', /^nvidia\/cuda:11\.\d+\.\d+-cudnn8-runtime-/);
    assert.match(bases['NODE_IMAGE'] ?? '', /^node:20-bookworm-slim@/);
    // No Dockerfile names a base itself: every FROM is an ARG without a default, `scratch`, or an earlier stage.
    for (const file of TEMPLATES) {
      const text = read(file);
      assert.doesNotMatch(text, /@sha256:/, `${file} pins nothing itself`);
      assert.doesNotMatch(text, /^# syntax=/m, 'no BuildKit frontend to pull');
      const { stages: built, globalArgs } = stages(text);
      for (const arg of globalArgs) assert.match(arg, /^\w+$/, `${file}: ARG ${arg} has no default`);
      const names = new Set<string>();
      for (const stage of built) {
        const [image = '', as, name] = stage.from.split(/\s+/);
        const arg = /^\$\{(\w+)\}$/.exec(image)?.[1];
        assert.ok(image === 'scratch' || names.has(image) || (arg && globalArgs.includes(arg)), `${file}: FROM ${stage.from}`);
        if (as?.toUpperCase() === 'AS' && name) names.add(name);
      }
    }
  });

  it('every pipeline component has an image whose template compiles the file its command runs', () => {
    const images = new Map(listed('--tag', 'v1').map((entry) => [entry.name, entry]));
    assert.ok(pipelineComponents.length >= 7);
    const build = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    for (const definition of pipelineComponents) {
      const name = definition.image.replace(/^marketplace-/, '');
      const entry = images.get(name);
      assert.ok(entry, `${definition.name}: images/build.sh builds ${definition.image}`);
      assert.equal(entry.image, `${definition.image}:v1`);
      const [program, script = ''] = definition.command;
      assert.equal(program, 'node');
      const match = /^\/app\/(dist\/components\/([\w-]+)\/main)\.js$/.exec(script);
      assert.ok(match, `${definition.name}: the command runs a compiled component entrypoint`);
      assert.equal(match[2], name, `${definition.name}: the image of component ${match[2]}`);
      assert.ok(existsSync(path.join(REPO_ROOT, `${match[1]!.replace(/^dist\//, '')}.ts`)), `${definition.name}: ${match[1]}.ts exists`);
      assert.ok(
        build.include.some((glob) => `components/${name}/main.ts`.startsWith(glob.replace(/\*\*\/\*\.ts$/, ''))),
        'compiled by tsconfig.build.json',
      );
      // The image's own entrypoint runs that file: named by the COMPONENT argument (train's names itself),
      // and checked at build time to answer --help.
      const template = read(path.basename(entry.template));
      const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(template)?.[1] ?? 'null') as string[];
      if (name === 'train') assert.deepEqual(entrypoint, definition.command.slice(0, 2));
      else {
        assert.deepEqual(entrypoint, ['/bin/sh', '-c', 'exec node "/app/dist/components/$MARKETPLACE_COMPONENT/main.js" "$@"', '--']);
        assert.match(template, /^ENV MARKETPLACE_COMPONENT=\$\{COMPONENT\}$/m);
      }
      assert.match(
        template,
        new RegExp(`RUN node "?dist/components/(\\$\\{COMPONENT\\}|${name})/main\\.js"? --help \\| grep -q '\\^Usage: '`),
      );
    }
    assert.ok(
      images.has('serve') && images.has('load') && images.has('train-cpu'),
      'the search service, the loader and train’s CPU flavour have images',
    );
    assert.equal(images.get('train-cpu')?.image, 'marketplace-train:v1-cpu');
    assert.equal(images.get('train')?.template, 'images/train.Dockerfile');
    for (const name of ['index', 'evaluate', 'serve'])
      assert.equal(images.get(name)?.template, 'images/faiss.Dockerfile', `${name} searches with faiss`);
    for (const name of ['load', 'clean', 'drift', 'deploy']) assert.equal(images.get(name)?.template, 'images/node.Dockerfile');
  });

  for (const file of TEMPLATES) {
    it(`${file}: multi-stage, only the component’s packages at run time, non-root, the CA a build secret only`, () => {
      const text = read(file);
      const { stages: built } = stages(text);
      const stage = (name: string) => built.find((s) => new RegExp(`\\bAS ${name}$`, 'i').test(s.from));
      const buildStage = stage('build');
      assert.ok(buildStage, 'a build stage');
      assert.match(runs(buildStage), /npm ci(?![^\n]*--omit=dev)/, 'the build stage installs dev dependencies');
      assert.match(runs(buildStage), /npm run build/);
      const packages = stage('packages');
      assert.ok(packages, 'a stage that lists what the component loads');
      assert.match(runs(packages), /node scripts\/component-deps\.mjs list "?dist\/components\/(\$\{COMPONENT\}|train)\/main\.js"?/);
      const deps = stage('deps');
      assert.ok(deps, 'a production dependencies stage');
      assert.match(runs(deps), /npm ci --omit=dev/);
      assert.match(
        runs(deps),
        /node scripts\/component-deps\.mjs prune --from node_modules --to \/app\/pruned\/node_modules --extra "\$\(paste -sd, packages\.txt\)/,
      );
      const final = built.at(-1);
      assert.ok(final && !/\bAS\b/i.test(final.from), 'the last stage is the runtime');
      const copies = final.body.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      assert.ok(copies.includes('--from=deps /app/pruned/node_modules ./node_modules'), 'node_modules are the pruned production set');
      assert.ok(!copies.some((args) => /--from=build \/app\/node_modules/.test(args)), 'never the build stage’s (dev) node_modules');
      assert.ok(!runs(final).includes('npm '), 'no npm at run time');
      const users = final.body.filter((i) => i.keyword === 'USER').map((i) => i.args);
      assert.match(users.at(-1) ?? '', /^[1-9]\d*:[1-9]\d*$/, 'a numeric non-root user, so runAsNonRoot can check it');
      // The npm CA: a secret mount of the commands that reach the registry, never a COPY, ENV or ARG.
      const npmRuns = built.flatMap((s) => s.body.filter((i) => i.keyword === 'RUN' && /npm ci/.test(i.args)));
      assert.ok(npmRuns.length >= 2);
      for (const instruction of npmRuns) assert.match(instruction.args, /^--mount=type=secret,id=npm_ca,required=false /);
      assert.doesNotMatch(text, /^(COPY|ADD|ENV|ARG)\b.*(ca-certificates\.crt|cafile|npm_ca|\.pem\b)/im);
      for (const instruction of instructions(text).filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
        assert.doesNotMatch(
          instruction.args,
          /(SECRET|PASSWORD|TOKEN|AWS_ACCESS_KEY_ID|DATABASE_URL|API_KEY)/i,
          `${file}: ${instruction.keyword} ${instruction.args}`,
        );
      }
      assert.doesNotMatch(text, /:latest\b/, 'no latest tag');
    });
  }

  it('only train carries a native TF.js package, named by its flavour; the faiss template builds the binding', () => {
    for (const file of ['node.Dockerfile', 'faiss.Dockerfile']) assert.doesNotMatch(read(file), /tfjs-node/);
    const train = read('train.Dockerfile');
    assert.match(train, /^ARG TFJS_NATIVE=@tensorflow\/tfjs-node-gpu$/m);
    assert.match(train, /npm rebuild "\$\{TFJS_NATIVE\}"/);
    assert.equal(components.train.definition.resources?.gpu?.count, 1);
    const faiss = read('faiss.Dockerfile');
    assert.match(faiss, /libfaiss-dev/);
    assert.match(faiss, /node scripts\/build-faiss\.mjs --require/);
    assert.match(faiss, /libopenblas0-pthread libgomp1/);
    assert.doesNotMatch(read('node.Dockerfile'), /faiss/);
  });

  it('images/build.sh: podman or docker, bases from bases.env or made offline, the CA as a secret, pass-through options, refuses latest', () => {
    const dry = (env: NodeJS.ProcessEnv, ...args: string[]) => {
      const result = spawnSync('bash', [BUILD, '--dry-run', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout;
    };
    const bases = readFileSync(path.join(IMAGES, 'bases.env'), 'utf8');
    const nodeImage = /^NODE_IMAGE=(.+)$/m.exec(bases)?.[1] ?? '';
    const cudaImage = /^CUDA_IMAGE=(.+)$/m.exec(bases)?.[1] ?? '';

    const docker = dry(
      { CONTAINER_ENGINE: 'docker', NODE_IMAGE: '', CUDA_IMAGE: '' },
      '--registry',
      'registry.example/team',
      '--tag',
      'v1.2.3',
      '--ca-bundle',
      '/etc/hostname',
      '--',
      '--no-cache',
    );
    for (const { name, template } of listed()) {
      const image = name === 'train-cpu' ? 'marketplace-train:v1.2.3-cpu' : `marketplace-${name}:v1.2.3`;
      const line = docker.split('\n').find((l) => l.includes(`--tag registry.example/team/${image} `));
      assert.ok(line, `${name} is built`);
      assert.match(line, /^env DOCKER_BUILDKIT=1 docker build /);
      assert.ok(line.includes(`--file ${path.join(REPO_ROOT, template)} `), line);
      assert.ok(line.includes(`--build-arg NODE_IMAGE=${nodeImage} `), 'the node base of bases.env');
      assert.ok(line.includes('--secret id=npm_ca,src=/etc/hostname '), 'the CA bundle as a build secret');
      assert.match(line, / --no-cache \/\S+$/, 'pass-through options last, then the context');
      if (name === 'train')
        assert.ok(line.includes(`--build-arg TRAIN_BASE=${cudaImage} --build-arg TFJS_NATIVE=@tensorflow/tfjs-node-gpu`));
      else if (name === 'train-cpu') assert.ok(line.includes(`--build-arg TRAIN_BASE=${nodeImage} --build-arg TFJS_NATIVE= `));
      else assert.ok(line.includes(`--build-arg COMPONENT=${name} `));
    }

    const offline = dry({ CONTAINER_ENGINE: 'podman' }, '--offline', '--tag', 'v1', '--no-ca-bundle');
    assert.doesNotMatch(offline, /--tag marketplace-train:v1 /, 'offline leaves the GPU train image out');
    assert.match(offline, /--tag marketplace-train:v1-cpu /);
    assert.match(offline, /^podman build --network=host --layers --file /m);
    assert.match(offline, /--build-arg NODE_IMAGE=localhost\/marketplace\/node:\d+\.\d+\.\d+-bookworm /, 'the node base made here');
    assert.doesNotMatch(offline, /--secret/);
    const refused = spawnSync('bash', [BUILD, '--dry-run', '--offline', 'train'], { encoding: 'utf8' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /cannot be built offline/);

    assert.equal(spawnSync('bash', [BUILD, '--dry-run', '--tag', 'latest'], { encoding: 'utf8' }).status, 2);
    assert.equal(spawnSync('bash', [BUILD, '--dry-run'], { encoding: 'utf8', env: { ...process.env, TAG: 'latest' } }).status, 2);
    assert.equal(spawnSync('bash', [BUILD, '--dry-run', 'nonesuch'], { encoding: 'utf8' }).status, 2);
    assert.equal(
      spawnSync('bash', [BUILD, '--dry-run', '--engine', 'rkt', 'load'], { encoding: 'utf8' }).status,
      0,
      'a dry run needs no engine',
    );
    const defaultTag = dry({ TAG: '' }, 'deploy');
    assert.match(defaultTag, /--tag marketplace-deploy:[0-9a-f]{12}(-dirty)? /, 'the commit by default');
  });

  it('containers.conf holds the settings restricted hosts need', () => {
    const conf = read('containers.conf');
    assert.match(conf, /^runtime = "runc"$/m);
    assert.match(conf, /^cgroup_manager = "cgroupfs"$/m);
    assert.match(conf, /^default_ulimits = \["nofile=20000:20000", "nproc=32768:32768"\]$/m);
    assert.match(conf, /^netns = "none"$/m);
  });
});
