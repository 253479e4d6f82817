/**
 * `npm start` as a user runs it, in a child process with its own MARKETPLACE_HOME: the exit code, the
 * JSON summary line it prints last on stdout, and its stderr (progress, logs, the run's report).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './helpers.js';

export function runStart<Summary>(
  args: readonly string[],
  home: string,
): Promise<{ code: number | null; summary: Summary; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'pipelines', 'cli', 'start.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], MARKETPLACE_HOME: home, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) =>
      resolve({ code, summary: (stdout.trim() ? JSON.parse(stdout.trim().split('\n').at(-1)!) : {}) as Summary, stderr }),
    );
  });
}
