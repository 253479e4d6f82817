/**
 * Structured logs on stderr (stdout is reserved for each command's one-line JSON summary).
 * pino writes JSON lines, which Kubernetes log collectors read as they are; every line passes
 * through `redact` before it is written, so a secret that slipped into a message is masked.
 * On a terminal (a person running `npm start`) the same lines are printed readably instead.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redact } from './secrets.js';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LEVELS as readonly string[]).includes(value);
}

export function createLogger(name: string, level: LogLevel = 'info'): Logger {
  return pino(
    {
      name,
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => redact(line) },
    },
    destination(),
  );
}

/** stderr, synchronously so that the last lines before an exit are not lost. */
function destination(): DestinationStream {
  if (process.stderr.isTTY && !process.env['LOG_JSON']) {
    return pretty({ destination: 2, sync: true, colorize: true, singleLine: true, ignore: 'name', translateTime: 'HH:MM:ss' });
  }
  return pino.destination({ dest: 2, sync: true });
}
