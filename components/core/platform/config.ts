/**
 * Configuration comes from the environment only (twelve-factor; Kubernetes Secrets and ConfigMaps
 * arrive as environment variables), validated once at start. A bad value fails with an InputError
 * that names the variable and never shows a secret.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { InputError } from './errors.js';
import { isLogLevel, type LogLevel } from './log.js';
import { maskUrl } from './secrets.js';

export type DatabaseConfig = { kind: 'postgres'; url: string } | { kind: 'pglite'; dir: string };

export interface S3Config {
  /** Custom endpoint (Ceph RGW, MinIO); unset means AWS itself. */
  endpoint: string | undefined;
  region: string;
  /** Path-style addressing (`http://host/bucket/key`), needed by most non-AWS servers. */
  forcePathStyle: boolean;
}

export interface Config {
  /** Where the embedded defaults live (PGlite data, local artifact folder). */
  home: string;
  database: DatabaseConfig;
  /** `file:///abs/path` or `s3://bucket/prefix`, never with a trailing slash. */
  artifactRoot: string;
  s3: S3Config;
  logLevel: LogLevel;
}

const nonEmpty = (value: unknown) => (value === '' ? undefined : value);

const postgresUrl = z.string().refine((value) => /^postgres(ql)?:\/\/\S+$/.test(value), {
  message: 'must be a postgres:// or postgresql:// URL',
});

const artifactRoot = z.string().refine((value) => /^(file:\/\/\/\S*|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?)$/.test(value), {
  message: 'must be file:///absolute/path or s3://bucket[/prefix]',
});

const booleanText = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const EnvSchema = z.object({
  MARKETPLACE_HOME: z.preprocess(nonEmpty, z.string().default('./.marketplace')),
  DATABASE_URL: z.preprocess(nonEmpty, postgresUrl.optional()),
  ARTIFACT_ROOT: z.preprocess(nonEmpty, artifactRoot.optional()),
  S3_ENDPOINT: z.preprocess(nonEmpty, z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  S3_FORCE_PATH_STYLE: z.preprocess(nonEmpty, booleanText.optional()),
  AWS_REGION: z.preprocess(nonEmpty, z.string().default('us-east-1')),
  LOG_LEVEL: z.preprocess(
    nonEmpty,
    z.string().default('info').refine(isLogLevel, { message: 'must be one of fatal, error, warn, info, debug, trace, silent' }),
  ),
});

/** Reads and validates the configuration; `cwd` resolves the relative default home. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '?');
      const raw = env[variable];
      const shown = raw === undefined ? '' : ` (got '${maskUrl(raw)}')`;
      return `${variable} ${issue.message}${shown}`;
    });
    throw new InputError(`invalid configuration: ${problems.join('; ')}`);
  }
  const values = parsed.data;
  const home = path.resolve(cwd, values.MARKETPLACE_HOME);
  const database: DatabaseConfig = values.DATABASE_URL
    ? { kind: 'postgres', url: values.DATABASE_URL }
    : { kind: 'pglite', dir: path.join(home, 'pg') };
  const root = values.ARTIFACT_ROOT ?? pathToFileURL(path.join(home, 'artifacts')).href;
  return {
    home,
    database,
    artifactRoot: root.replace(/\/+$/, ''),
    s3: {
      endpoint: values.S3_ENDPOINT,
      region: values.AWS_REGION,
      forcePathStyle: values.S3_FORCE_PATH_STYLE ?? values.S3_ENDPOINT !== undefined,
    },
    logLevel: values.LOG_LEVEL as LogLevel,
  };
}

/** The configuration as it may be logged: no passwords. */
export function describeConfig(config: Config): Record<string, string> {
  return {
    home: config.home,
    database: config.database.kind === 'postgres' ? maskUrl(config.database.url) : `pglite:${config.database.dir}`,
    artifactRoot: config.artifactRoot,
    s3Endpoint: config.s3.endpoint ?? '(AWS)',
  };
}
