/**
 * Pipeline tasks in their container images, on this machine: the closest one machine gets to Kubeflow.
 * Each task runs its image's own command from the compiled spec (`node /app/dist/components/<name>/main.js
 * …`, never a checkout's sources), with podman (or docker), as Kubernetes would run the pod:
 *  - as uid 1000, with a read-only root filesystem and a private /tmp (the pod's emptyDir);
 *  - with no network, unless the configuration names a database or S3 server (DATABASE_URL, S3_ENDPOINT):
 *    then the host's network, so that the loopback servers a local run uses are reachable;
 *  - with the configuration the cluster passes as environment (DATABASE_URL from a Secret; ARTIFACT_ROOT,
 *    AWS_REGION, LOG_LEVEL from a ConfigMap; S3 endpoint and keys where IRSA would give them), passed by
 *    name so that no value appears on a command line or in a log;
 *  - with the folders it reads and writes mounted at the same paths as on the host (MARKETPLACE_HOME: the
 *    embedded database and the local artifact root; the run folder), so artifact paths need no mapping.
 * An image is never pulled: the spec's image, else the same name and tag built here (`localhost/…`),
 * else, with no GPU visible, its `-cpu` flavour (train's). Which image and digest ran is returned, and
 * the local runner records it in the task table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chown, lstat, mkdir, readdir } from 'node:fs/promises';
import { createWriteStream, existsSync, type Stats } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../components/core/platform/index.js';

/** The configuration a component reads (components/core/platform/config.ts), passed through by name when set. */
export const CONFIG_VARIABLES = [
  'DATABASE_URL',
  'ARTIFACT_ROOT',
  'S3_ENDPOINT',
  'S3_FORCE_PATH_STYLE',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'LOG_LEVEL',
] as const;

/** The uid and gid every image runs as (images/*.Dockerfile: USER 1000:1000). */
export const TASK_USER = { uid: 1000, gid: 1000 } as const;

export type Engine = 'podman' | 'docker';

export interface ContainerSettings {
  engine: Engine;
  /** MARKETPLACE_HOME on the host (absolute): mounted read-write at the same path and passed as is. */
  home: string;
  /** More folders the tasks write (the runs folder, a file:// artifact root outside home). */
  writable: string[];
  /** Folders the tasks only read (an export folder for load). */
  readOnly: string[];
  /** Where the configuration variables are read from (the runner's environment). */
  env: NodeJS.ProcessEnv;
  network: 'none' | 'host';
  /** Size of each task's private /tmp. */
  tmpSize: string;
}

/** One task to run: the spec's image, the resolved command line (host paths), the task's own variables. */
export interface ContainerTask {
  image: string;
  command: string[];
  /** The executor's env from the spec and the run's (MARKETPLACE_RUN_ID, MARKETPLACE_TASK): not the runner's whole environment. */
  env: Record<string, string>;
  /** Folders the runner made for this task's outputs: handed to the task's user. */
  writable?: string[];
  logFile: string;
  append?: boolean;
  started?: (pid: number) => void;
  /** Keep stdout apart from the log (the JSON summary), as well as writing it there. */
  captureStdout?: boolean;
}

export interface ContainerExit {
  code: number | null;
  error?: string;
  /** The local image that ran, and its digest (podman: the manifest digest; docker: the image id). */
  image: string;
  imageDigest: string;
  stdout?: string;
}

/** The engine: $CONTAINER_ENGINE, else podman when installed, else docker (as images/build.sh picks it). */
export function pickEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const named = env['CONTAINER_ENGINE'];
  if (named === 'podman' || named === 'docker') return named;
  if (named) throw new InputError(`CONTAINER_ENGINE must be podman or docker, not '${named}'`);
  for (const engine of ['podman', 'docker'] as const) {
    if (spawnSync(engine, ['--version'], { stdio: 'ignore' }).status === 0) return engine;
  }
  throw new InputError('--containers needs podman or docker: install podman (bash test/services/podman.sh install)');
}

/**
 * podman's defaults fail on restricted hosts (no CAP_SYS_RESOURCE, cgroups v1 and v2 side by side):
 * there, and only there, images/containers.conf is used, as images/engine.sh decides for the builds:
 * by running `node -e 0` in `image` with the defaults first. Returns the environment the engine runs with.
 */
export function engineEnvironment(
  engine: Engine,
  repoRoot: string,
  image: string,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  if (engine !== 'podman' || env['CONTAINERS_CONF']) return env;
  const probe = (probeEnv: NodeJS.ProcessEnv) =>
    spawnSync(
      'podman',
      ['run', '--rm', '--pull=never', '--network=none', '--read-only', '--user=1000:1000', '--entrypoint', 'node', image, '-e', '0'],
      { env: probeEnv, stdio: 'ignore' },
    ).status === 0;
  if (probe(env)) return env;
  const withConf = { ...env, CONTAINERS_CONF: path.join(repoRoot, 'images', 'containers.conf') };
  if (probe(withConf)) return withConf;
  throw new InputError(
    `podman cannot run ${image} here, with its defaults or with images/containers.conf (try: podman run --rm ${image} --help)`,
  );
}

export function containerSettings(options: {
  engine: Engine;
  home: string;
  env: NodeJS.ProcessEnv;
  writable?: string[];
  readOnly?: string[];
}): ContainerSettings {
  const { env } = options;
  const writable = [...(options.writable ?? [])];
  const root = env['ARTIFACT_ROOT'];
  if (root?.startsWith('file://')) writable.push(new URL(root).pathname);
  // A database or S3 server named by the configuration is reached over the host's network (here its
  // loopback servers); the embedded defaults need none.
  const network = env['DATABASE_URL'] || env['S3_ENDPOINT'] || root?.startsWith('s3://') ? 'host' : 'none';
  return {
    engine: options.engine,
    home: path.resolve(options.home),
    writable: writable.map((dir) => path.resolve(dir)),
    readOnly: (options.readOnly ?? []).map((dir) => path.resolve(dir)),
    env,
    network,
    tmpSize: '2g',
  };
}

function gpuVisible(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}

interface LocalImage {
  image: string;
  imageDigest: string;
}

function inspect(engine: Engine, env: NodeJS.ProcessEnv, image: string): LocalImage | undefined {
  const format = engine === 'podman' ? '{{.Digest}} {{.Id}}' : '{{.Id}} {{.Id}}';
  const result = spawnSync(engine, ['image', 'inspect', '--format', format, image], { encoding: 'utf8', env });
  if (result.status !== 0) return undefined;
  const [digest = '', id = ''] = result.stdout.trim().split(/\s+/);
  return { image, imageDigest: digest.startsWith('sha256:') ? digest : `sha256:${id.replace(/^sha256:/, '')}` };
}

/** The images to try for a spec's image, in order (see the module comment). */
export function imageCandidates(specImage: string, gpu: boolean): string[] {
  const at = specImage.lastIndexOf('/');
  const local = `localhost/${specImage.slice(at + 1)}`;
  const names = [specImage, ...(local === specImage ? [] : [local])];
  const cpu = names.map((name) => `${name}-cpu`);
  return gpu ? [...names, ...cpu] : [...cpu, ...names];
}

const resolved = new Map<string, LocalImage>();

/** The local image that runs a spec's image, with its digest; an InputError naming the build command when none is there. */
export function resolveImage(engine: Engine, env: NodeJS.ProcessEnv, specImage: string): LocalImage {
  const key = `${engine} ${specImage}`;
  const known = resolved.get(key);
  if (known) return known;
  for (const candidate of imageCandidates(specImage, gpuVisible())) {
    const found = inspect(engine, env, candidate);
    if (found) {
      resolved.set(key, found);
      return found;
    }
  }
  const tag = specImage.slice(specImage.lastIndexOf(':') + 1);
  throw new InputError(`no local image for ${specImage}: build the images first (npm run images -- --offline --tag ${tag})`);
}

/** The engine's command line for one task (no secret in it: variables are passed by name). */
export function runArguments(settings: ContainerSettings, image: string, task: Pick<ContainerTask, 'command' | 'env'>): string[] {
  const [program, ...args] = task.command;
  if (!program) throw new InputError('a task without a command');
  const mounts = [...new Set([settings.home, ...settings.writable].filter((dir) => !settings.readOnly.includes(dir)))].map((dir) => [
    '--volume',
    `${dir}:${dir}:rw`,
  ]);
  const readOnly = settings.readOnly.map((dir) => ['--volume', `${dir}:${dir}:ro`]);
  const names = [
    ...CONFIG_VARIABLES.filter((name) => settings.env[name] !== undefined && settings.env[name] !== ''),
    ...Object.keys(task.env),
    'MARKETPLACE_HOME',
  ];
  return [
    'run',
    '--rm',
    '--init',
    '--pull=never',
    `--network=${settings.network}`,
    '--read-only',
    '--tmpfs',
    `/tmp:rw,exec,size=${settings.tmpSize},mode=1777`,
    `--user=${TASK_USER.uid}:${TASK_USER.gid}`,
    ...(settings.engine === 'podman' && process.getuid?.() !== 0 ? [`--userns=keep-id:uid=${TASK_USER.uid},gid=${TASK_USER.gid}`] : []),
    '--security-opt=no-new-privileges',
    '--cap-drop=all',
    ...mounts.flat(),
    ...readOnly.flat(),
    ...[...new Set(names)].flatMap((name) => ['--env', name]),
    '--workdir=/app',
    '--entrypoint',
    program,
    image,
    ...args,
  ];
}

/** chown -R, not following links: the task's user must write where the runner (root here) made folders. */
async function handOver(dir: string): Promise<void> {
  let info: Stats;
  try {
    info = await lstat(dir);
  } catch {
    return;
  }
  if (info.isSymbolicLink()) return;
  if (info.uid !== TASK_USER.uid || info.gid !== TASK_USER.gid) await chown(dir, TASK_USER.uid, TASK_USER.gid);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(dir)) await handOver(path.join(dir, entry));
}

/**
 * Runs tasks in their images. Folders are handed to uid 1000 where this process runs as root (rootful
 * podman, docker): the whole home and the other writable mounts once, each task's output folders
 * before it starts. Rootless podman maps uid 1000 to the caller instead (--userns=keep-id).
 */
export class ContainerRunner {
  private prepared: Promise<void> | undefined;
  private engineEnv: NodeJS.ProcessEnv | undefined;

  constructor(
    readonly settings: ContainerSettings,
    private readonly repoRoot: string,
  ) {}

  /** The engine's environment, decided on the first image run (see engineEnvironment). */
  private environment(image: string): NodeJS.ProcessEnv {
    this.engineEnv ??= engineEnvironment(this.settings.engine, this.repoRoot, image, this.settings.env);
    return this.engineEnv;
  }

  private async prepare(): Promise<void> {
    for (const dir of new Set([this.settings.home, ...this.settings.writable])) await mkdir(dir, { recursive: true });
    if (process.getuid?.() !== 0) return;
    for (const dir of new Set([this.settings.home, ...this.settings.writable])) await handOver(dir);
  }

  /** The local image and digest for a spec's image (throws when it is not built). */
  image(specImage: string): LocalImage {
    return resolveImage(this.settings.engine, this.settings.env, specImage);
  }

  async run(task: ContainerTask): Promise<ContainerExit> {
    const local = this.image(task.image);
    const engineEnv = this.environment(local.image);
    this.prepared ??= this.prepare();
    await this.prepared;
    if (process.getuid?.() === 0) for (const dir of task.writable ?? []) await handOver(dir);
    await mkdir(path.dirname(task.logFile), { recursive: true });
    const args = runArguments(this.settings, local.image, task);
    // Values reach the engine through its environment only; the command line names the variables.
    const env: NodeJS.ProcessEnv = { ...engineEnv, ...task.env, MARKETPLACE_HOME: this.settings.home };
    for (const name of CONFIG_VARIABLES) if (this.settings.env[name]) env[name] = this.settings.env[name];
    return new Promise((resolve) => {
      const out = createWriteStream(task.logFile, { flags: task.append ? 'a' : 'w' });
      out.write(`$ ${this.settings.engine} ${args.join(' ')}\n# image ${local.image} ${local.imageDigest}\n`);
      const child = spawn(this.settings.engine, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      if (child.pid !== undefined) task.started?.(child.pid);
      const chunks: Buffer[] = [];
      if (task.captureStdout) child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      const done = (code: number | null, error?: string) =>
        out.end(() =>
          resolve({ code, error, ...local, ...(task.captureStdout ? { stdout: Buffer.concat(chunks).toString('utf8') } : {}) }),
        );
      child.on('error', (error) => done(null, `could not start ${this.settings.engine}: ${error.message}`));
      child.on('close', (code, signal) =>
        done(
          code,
          signal
            ? `killed by ${signal}`
            : code === 125 || code === 126 || code === 127
              ? `the engine could not run the container (exit ${code}; see the log)`
              : undefined,
        ),
      );
    });
  }
}

/** The tag `npm run images` gives images built from this checkout now (the commit, -dirty with changes). */
export function defaultImageTag(repoRoot: string): string {
  const listed = spawnSync('bash', [path.join(repoRoot, 'images', 'build.sh'), '--list', 'load'], { encoding: 'utf8' });
  const tag = /:([^\s:]+)\s*$/.exec(listed.stdout ?? '')?.[1];
  if (listed.status !== 0 || !tag) throw new InputError(`images/build.sh --list failed: ${listed.stderr}`);
  return tag;
}

/** The runner for `--containers` (npm start, pipeline:run-local): MARKETPLACE_HOME and the runs folder mounted. */
export function containerRunner(options: {
  repoRoot: string;
  home: string;
  runsDir: string;
  readOnly?: string[];
  env?: NodeJS.ProcessEnv;
}): ContainerRunner {
  const env = options.env ?? process.env;
  const engine = pickEngine(env);
  const home = path.resolve(options.home);
  const runs = path.resolve(options.runsDir);
  const inside = (dir: string) => dir === home || dir.startsWith(`${home}${path.sep}`);
  const writable = inside(runs) ? [] : [runs];
  // A folder under home is mounted with it (read-write); only those outside are mounted read-only.
  const readOnly = (options.readOnly ?? []).map((dir) => path.resolve(dir)).filter((dir) => !inside(dir));
  return new ContainerRunner(containerSettings({ engine, home, env, writable, readOnly }), options.repoRoot);
}

/**
 * The raw load in the load image (what `npm start` runs before the pipeline): the export folder mounted
 * read-only at its own path; returns the load's JSON summary (its last line on stdout).
 */
export async function loadInContainer(
  runner: ContainerRunner,
  options: { image: string; dir: string; batchSize: number; full: boolean; imagesZip?: string; logFile: string },
): Promise<unknown> {
  const args = [
    options.dir,
    '--batch-size',
    String(options.batchSize),
    ...(options.full ? ['--full'] : []),
    ...(options.imagesZip ? ['--images-zip', options.imagesZip] : []),
  ];
  const ran = await runner.run({
    image: options.image,
    command: ['node', '/app/dist/components/load/main.js', ...args],
    env: {},
    logFile: options.logFile,
    captureStdout: true,
  });
  if (ran.code !== 0)
    throw new InputError(`the load in ${ran.image} failed (${ran.error ?? `exit code ${ran.code}`}); see ${options.logFile}`);
  const last = (ran.stdout ?? '').trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as unknown;
  } catch {
    throw new InputError(`the load in ${ran.image} printed no JSON summary; see ${options.logFile}`);
  }
}
