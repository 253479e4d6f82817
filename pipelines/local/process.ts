/** A task as a local process: the image's command mapped to this checkout, run with its log, dying with the runner. */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';

/**
 * Container commands of this project's images (`node /app/dist/<path>.js`) run from the checkout at
 * `appRoot` (`tsx <path>.ts`): the same code the image carries, without building it first.
 */
export function mapCommandToCheckout(appRoot: string): (command: readonly string[]) => string[] {
  return (command) => {
    const [program, script, ...rest] = command;
    if (program === 'node' && script?.startsWith('/app/dist/') && script.endsWith('.js')) {
      const source = path.join(appRoot, script.slice('/app/dist/'.length).replace(/\.js$/, '.ts'));
      return [process.execPath, '--import', 'tsx', source, ...rest];
    }
    return [...command];
  };
}

/**
 * Task processes die with the runner. Without this, a runner killed by SIGKILL (kill -9, the OOM
 * killer) leaves its running task behind as an orphan that goes on writing to the database and the
 * store with nobody to record its result; the resumed run then races it, or finds its work half or
 * wholly done (a snapshot pinned twice says "0 new listings"), and does not end with the outputs of an
 * uninterrupted run. Linux's parent-death signal (util-linux `setpriv --pdeathsig`, exec'd in place,
 * so the task stays the runner's child) sends the task SIGTERM the moment the runner dies: SIGTERM
 * rather than SIGKILL, so the task still releases its locks (the embedded database's lock would stay
 * for 30 s until it goes stale). Where setpriv is missing (macOS), tasks start as before.
 */
let pdeathsig: boolean | undefined;
function withParentDeathSignal(command: string[]): string[] {
  pdeathsig ??= process.platform === 'linux' && /--pdeathsig/.test(spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout ?? '');
  return pdeathsig ? ['setpriv', '--pdeathsig', 'TERM', '--', ...command] : command;
}

export function runProcess(
  command: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  append: boolean,
  started: (pid: number) => void,
): Promise<{ code: number | null; error?: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = withParentDeathSignal(command);
    const out = createWriteStream(logFile, { flags: append ? 'a' : 'w' });
    out.write(`$ ${command.join(' ')}\n`);
    const child = spawn(program ?? '', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) started(child.pid);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', (error) => out.end(() => resolve({ code: null, error: `could not start ${command[0]}: ${error.message}` })));
    child.on('close', (code, signal) => out.end(() => resolve({ code, error: signal ? `killed by ${signal}` : undefined })));
  });
}
