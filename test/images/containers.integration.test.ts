/**
 * The images, built and run for real: `images/build.sh --offline` builds every image but the GPU train
 * image with podman (test/run.sh installs it; the Debian and Node bases are made here, no registry), the
 * engine's layer cache reused when there is one. Then, for each image: non-root, its entrypoint and the
 * pipeline's command answer --help in a container with no network and a read-only root; load, clean and
 * deploy carry no ONNX Runtime and no TF.js and weigh at most a third of what they did (1.14 GB); the
 * npm certificate authority given to the build (the host's, plus a canary made here) is in no file of
 * any image. Then the demo pipeline, end to end, each task in its container (`npm start -- --containers
 * --quick`): every task ran in its image, as uid 1000, read-only, without network, and the task table
 * names image and digest; its snapshot hash equals the same run's on the host; and the search service
 * image answers /search over what that run deployed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as components from '../../pipelines/marketplace/components.js';
import { engineEnvironment } from '../../pipelines/local/containers.js';
import type { RunRecord } from '../../pipelines/local/run-record.js';
import { REPO_ROOT, tempDir } from '../helpers.js';

const BUILD = path.join(REPO_ROOT, 'images', 'build.sh');
/** Today's images (the Dockerfiles before #22, built here with podman): clean and load 1.14 GB, deploy the same. */
const SIZE_BEFORE = 1_140_000_000;
const LEAN = ['load', 'clean', 'deploy'];

function run(command: string, args: string[], env?: NodeJS.ProcessEnv, input?: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 * 1024 * 1024, input });
}

/** `npm start` (pipelines/cli/start.ts) in its own home; resolves with the exit code, the JSON summary and stderr. */
function start(home: string, args: string[]): Promise<{ code: number | null; summary: Record<string, unknown>; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'start.ts'), '--quick', ...args], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        MARKETPLACE_HOME: home,
        LOG_LEVEL: 'warn',
        ...(process.env['CONTAINER_ENGINE'] ? { CONTAINER_ENGINE: process.env['CONTAINER_ENGINE'] } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      let summary: Record<string, unknown> = {};
      try {
        summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      } catch {
        // reported by the assertions on code and summary
      }
      resolve({ code, summary, stderr });
    });
  });
}

/** The base64 body lines of each PEM certificate in a file. */
function certificateLines(file: string): string[][] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----\n([\s\S]*?)-----END CERTIFICATE-----/g)].map((match) =>
    match[1]!.trim().split('\n'),
  );
}

describe('container images, built offline and run (podman)', () => {
  let tmp: { dir: string; remove(): Promise<void> };
  let images: Map<string, string>;
  let engineEnv: NodeJS.ProcessEnv;
  let canary: string;
  const podman = (...args: string[]) => run('podman', args, engineEnv);

  before(async () => {
    tmp = await tempDir('containers-');
  });
  after(async () => {
    await tmp?.remove();
  });

  it('images/build.sh --offline builds every image but the GPU train image', () => {
    assert.equal(
      run('bash', [path.join(REPO_ROOT, 'test/services/podman.sh'), 'check']).status,
      0,
      'podman, runc and debootstrap are installed (test/services/podman.sh install)',
    );
    // The CA bundle the build's npm commands get: the host's, plus a certificate made now, which must
    // not appear in any image.
    const key = path.join(tmp.dir, 'canary.key');
    const cert = path.join(tmp.dir, 'canary.crt');
    const made = run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=marketplace build canary ${Date.now()}`,
    ]);
    assert.equal(made.status, 0, made.stderr);
    const bundle = path.join(tmp.dir, 'ca-bundle.crt');
    const host = existsSync('/etc/ssl/certs/ca-certificates.crt') ? readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8') : '';
    writeFileSync(bundle, `${host}\n${readFileSync(cert, 'utf8')}`);
    canary = certificateLines(cert)[0]!.slice(1, 3).join('\n');

    const started = Date.now();
    const built = run('nice', ['-n', '10', 'bash', BUILD, '--offline', '--ca-bundle', bundle]);
    const seconds = Math.round((Date.now() - started) / 1000);
    assert.equal(built.status, 0, built.stderr.slice(-6000));
    const listed = run('bash', [BUILD, '--list', '--offline'])
      .stdout.trim()
      .split('\n')
      .map((line) => line.split('\t') as [string, string, string]);
    images = new Map(listed.map(([name, , image]) => [name, image]));
    // podman's defaults, or images/containers.conf where they fail (as the local runner decides).
    engineEnv = engineEnvironment('podman', REPO_ROOT, images.get('load')!, process.env);
    assert.deepEqual([...images.keys()].sort(), ['clean', 'deploy', 'drift', 'evaluate', 'index', 'load', 'serve', 'train-cpu']);
    assert.deepEqual(built.stdout.trim().split('\n').sort(), [...images.values()].sort(), 'stdout names the images built');
    for (const line of built.stderr.split('\n').filter((l) => /^build\.sh: .*: \d+ MB, built in/.test(l))) console.log(`# ${line}`);
    console.log(`# images built in ${seconds} s`);
  });

  it('every image: non-root, its entrypoint and the pipeline’s command answer --help with no network and a read-only root', () => {
    const commands = new Map<string, string[][]>();
    for (const { image, command } of Object.values(components).map((fn) => fn.definition)) {
      const name = image.replace(/^marketplace-/, '');
      commands.set(name, [...(commands.get(name) ?? []), [...command]]);
    }
    commands.set('train-cpu', commands.get('train') ?? []);
    commands.set('serve', [['node', '/app/dist/components/serve/main.js']]);
    for (const [name, image] of images) {
      const inspected = JSON.parse(podman('image', 'inspect', image).stdout) as {
        Config: { User: string; Entrypoint: string[]; Labels: Record<string, string> };
      }[];
      const config = inspected[0]!.Config;
      assert.equal(config.User, '1000:1000', `${name} runs as uid 1000`);
      assert.ok(
        config.Entrypoint.join(' ').includes(
          name === 'train-cpu' ? '/app/dist/components/train/main.js' : '/app/dist/components/$MARKETPLACE_COMPONENT/main.js',
        ),
        name,
      );
      assert.equal(config.Labels['io.marketplace.component'], name.replace(/-cpu$/, ''));
      const sandbox = ['run', '--rm', '--network=none', '--read-only', '--cap-drop=all'];
      const help = podman(...sandbox, image, '--help');
      assert.equal(help.status, 0, `${name}: ${help.stderr}`);
      assert.match(help.stdout, /^Usage: /, name);
      for (const [program, script, ...sub] of commands.get(name) ?? []) {
        const viaCommand = podman(...sandbox, '--entrypoint', program!, image, script!, ...sub, '--help');
        assert.equal(viaCommand.status, 0, `${name}: ${[program, script, ...sub].join(' ')} --help: ${viaCommand.stderr}`);
        assert.match(viaCommand.stdout, /^Usage: /);
      }
      const id = podman(
        ...sandbox,
        '--entrypoint',
        'node',
        image,
        '-e',
        "process.stdout.write(String(process.getuid())); try { require('fs').writeFileSync('/app/x', ''); process.exit(3) } catch {}",
      );
      assert.equal(id.status, 0, `${name}: the root filesystem is read-only (${id.stderr})`);
      assert.equal(id.stdout, '1000');
    }
  });

  it('load, clean and deploy: no ONNX Runtime, no TF.js, at most a third of today’s size; each image only its packages', () => {
    const sizes: string[] = [];
    for (const [name, image] of images) {
      const size = Number(podman('image', 'inspect', '--format', '{{.Size}}', image).stdout.trim());
      sizes.push(`${name} ${Math.round(size / 1e6)} MB`);
      const listing = podman(
        'run',
        '--rm',
        '--network=none',
        '--read-only',
        '--entrypoint',
        'node',
        image,
        '-e',
        "const fs=require('fs');const top=fs.readdirSync('/app/node_modules').flatMap(n=>n.startsWith('@')?fs.readdirSync('/app/node_modules/'+n).map(m=>n+'/'+m):[n]);console.log(JSON.stringify(top))",
      );
      assert.equal(listing.status, 0, listing.stderr);
      const packages = new Set(JSON.parse(listing.stdout) as string[]);
      assert.ok(packages.has('commander') && packages.has('zod'), `${name}: its own packages`);
      assert.ok(
        !packages.has('typescript') && !packages.has('tsx') && !packages.has('fast-check'),
        `${name}: no dev or build-time packages`,
      );
      if (LEAN.includes(name)) {
        assert.ok(size <= SIZE_BEFORE / 3, `${name}: ${Math.round(size / 1e6)} MB, at most a third of ${SIZE_BEFORE / 1e6} MB`);
        for (const heavy of [
          'onnxruntime-node',
          '@tensorflow/tfjs',
          '@tensorflow/tfjs-core',
          '@tensorflow/tfjs-backend-wasm',
          '@tensorflow/tfjs-node',
          'faiss-node',
          'nsfwjs',
        ]) {
          assert.ok(!packages.has(heavy), `${name} carries ${heavy}`);
        }
      }
      if (name === 'deploy') assert.ok(packages.has('@kubernetes/client-node'));
      if (name === 'clean') assert.ok(packages.has('sharp'));
      if (['index', 'evaluate', 'serve'].includes(name)) {
        assert.ok(packages.has('faiss-node') && packages.has('onnxruntime-node'), name);
        const native = podman(
          'run',
          '--rm',
          '--network=none',
          '--read-only',
          '--entrypoint',
          'node',
          image,
          '-e',
          "const f=require('faiss-node');const i=new f.IndexFlatIP(2);i.add([1,0,0,1]);console.log(JSON.stringify(i.search([1,0],1)));require('onnxruntime-node')",
        );
        assert.equal(native.status, 0, `${name}: faiss-node's binding and ONNX Runtime (linux/x64 only) load: ${native.stderr}`);
      }
      if (name === 'train-cpu') assert.ok(!packages.has('@tensorflow/tfjs-node-gpu') && packages.has('@tensorflow/tfjs-backend-wasm'));
    }
    console.log(`# image sizes: ${sizes.join(', ')}`);
  });

  it('the CA bundle given to the build is in no file of any image', () => {
    const patterns = [canary];
    // Certificates this host added to its bundle (a TLS-intercepting proxy's): none may be in an image.
    const local = '/usr/local/share/ca-certificates';
    if (existsSync(local))
      for (const file of readdirSync(local).filter((f) => f.endsWith('.crt')))
        for (const lines of certificateLines(path.join(local, file))) patterns.push(lines.slice(1, 3).join('\n'));
    const patternFile = path.join(tmp.dir, 'patterns');
    // grep -F matches line by line: each certificate by one of its body lines (the second, 64 characters).
    writeFileSync(patternFile, `${patterns.map((p) => p.split('\n')[0]).join('\n')}\n`);
    for (const [name, image] of images) {
      const mounted = podman('image', 'mount', image);
      assert.equal(mounted.status, 0, mounted.stderr);
      const root = mounted.stdout.trim();
      try {
        const found = run('bash', [
          '-c',
          `find "$1" -xdev -type f -size -20M -print0 | xargs -0 grep -lF -f "$2" || true`,
          'find',
          root,
          patternFile,
        ]);
        assert.equal(found.stdout.trim(), '', `${name}: the build's CA bundle is in ${found.stdout.trim()}`);
        assert.ok(!existsSync(path.join(root, 'usr/local/etc/npmrc')), `${name}: no global npmrc`);
      } finally {
        podman('image', 'unmount', image);
      }
    }
  });

  it('the demo pipeline end to end, every task in its container (npm start -- --containers --quick): the host run’s snapshot', async () => {
    const tag = images.get('load')!.split(':').at(-1)!;
    const home = path.join(tmp.dir, 'containers-home');
    const started = Date.now();
    const inContainers = await start(home, ['--containers', '--image-tag', tag]);
    const seconds = Math.round((Date.now() - started) / 1000);
    assert.equal(inContainers.code, 0, inContainers.stderr.slice(-4000));
    const summary = inContainers.summary as {
      run: { record: string; status: string };
      snapshot: { hash: string; products: number };
      metrics: Record<string, number> | null;
      load: { products?: unknown };
    };
    assert.equal(summary.run.status, 'SUCCEEDED');
    assert.ok(summary.load, 'the load ran in its image and printed its summary');
    const record = JSON.parse(readFileSync(summary.run.record, 'utf8')) as RunRecord;
    const ran = Object.values(record.tasks).filter((task) => task.status === 'SUCCEEDED' && task.log !== undefined); // container tasks, not DAG groups
    const ranImages = new Set(ran.map((task) => task.image?.replace(/^localhost\//, '').replace(/:.*$/, '')));
    for (const image of [
      'marketplace-clean',
      'marketplace-drift',
      'marketplace-train',
      'marketplace-evaluate',
      'marketplace-index',
      'marketplace-deploy',
    ])
      assert.ok(ranImages.has(image), `a task ran in ${image}: ${[...ranImages].join(', ')}`);
    for (const task of ran) {
      assert.match(task.imageDigest ?? '', /^sha256:[0-9a-f]{64}$/, `${task.path}: the digest of the image that ran it`);
      const log = readFileSync(task.log!, 'utf8');
      const line = log.split('\n')[0]!;
      assert.match(line, /^\$ podman run --rm /, task.path);
      for (const flag of ['--network=none', '--read-only', '--user=1000:1000', '--cap-drop=all', '--entrypoint node'])
        assert.ok(line.includes(flag), `${task.path}: ${flag}`);
      assert.match(
        line,
        / localhost\/marketplace-[\w-]+:\S+ \/app\/dist\/components\/[\w-]+\/main\.js/,
        `${task.path} runs the image's compiled command`,
      );
    }
    assert.ok(
      ran.some((task) => task.image?.endsWith('-cpu')),
      'train ran in its CPU flavour',
    );
    assert.match(inContainers.stderr, /localhost\/marketplace-clean:\S+ sha256:[0-9a-f]{64}/, 'the task table names image and digest');
    console.log(
      `# demo pipeline in containers: ${seconds} s, snapshot ${summary.snapshot.hash}, metrics ${JSON.stringify(summary.metrics)}`,
    );

    // The same run on the host (each task a local process from the checkout): the same catalogue.
    const onHost = await start(path.join(tmp.dir, 'host-home'), []);
    assert.equal(onHost.code, 0, onHost.stderr.slice(-4000));
    const hostSummary = onHost.summary as typeof summary;
    assert.equal(summary.snapshot.hash, hostSummary.snapshot.hash, 'the snapshot in containers is the host run’s');
    assert.equal(summary.snapshot.products, hostSummary.snapshot.products);
    console.log(`# the same on the host: snapshot ${hostSummary.snapshot.hash}, metrics ${JSON.stringify(hostSummary.metrics)}`);

    // The search service image over what the container run deployed: /search answers from inside the
    // container (no network: the request comes from a second process in the same container).
    const serve = images.get('serve')!;
    const name = `marketplace-serve-test-${process.pid}`;
    const up = podman(
      'run',
      '-d',
      '--rm',
      '--name',
      name,
      '--network=none',
      '--read-only',
      '--tmpfs',
      '/tmp:rw,mode=1777',
      '--user=1000:1000',
      '--volume',
      `${home}:${home}:rw`,
      '--env',
      `MARKETPLACE_HOME=${home}`,
      '--env',
      'PORT=8080',
      serve,
    );
    assert.equal(up.status, 0, up.stderr);
    try {
      const query =
        "for(let i=0;i<120;i++){try{const r=await fetch('http://127.0.0.1:8080/search?q=chair&k=3');if(r.ok){console.log(await r.text());process.exit(0)}}catch{}await new Promise(r=>setTimeout(r,500))}process.exit(1)";
      const answer = podman('exec', name, 'node', '--input-type=module', '-e', query);
      assert.equal(answer.status, 0, `/search did not answer: ${podman('logs', name).stderr.slice(-2000)}`);
      const results = JSON.parse(answer.stdout) as { results: unknown[] };
      assert.ok(Array.isArray(results.results) && results.results.length > 0, answer.stdout.slice(0, 500));
    } finally {
      podman('rm', '-f', name);
    }
  });
});
