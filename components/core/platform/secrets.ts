/**
 * Secrets never reach a log line, an error message or a summary. Two kinds are masked:
 * passwords inside URLs (`postgres://user:pw@host`), and the values of environment variables
 * that hold credentials, wherever they appear in a text.
 */

const SECRET_ENV_NAMES = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'PGPASSWORD', 'DATABASE_PASSWORD', 'KFP_TOKEN'] as const;

const MASK = '***';

/** `scheme://user:password@host` -> `scheme://user:***@host`; also `scheme://:password@`. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]*)@/gi;

export function maskUrl(url: string): string {
  return url.replace(URL_PASSWORD, (_match, userPart: string) => `${userPart}:${MASK}@`);
}

/** Masks URL passwords and the values of credential variables in `env` found anywhere in `text`. */
export function redact(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = maskUrl(text);
  for (const name of SECRET_ENV_NAMES) {
    const value = env[name];
    // Very short values would mask ordinary words; real secrets are long.
    if (value && value.length >= 6) out = out.split(value).join(MASK);
  }
  const dbUrl = env['DATABASE_URL'];
  if (dbUrl) {
    const password = passwordOf(dbUrl);
    if (password && password.length >= 4) out = out.split(password).join(MASK);
  }
  return out;
}

function passwordOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.password ? decodeURIComponent(parsed.password) : undefined;
  } catch {
    return undefined;
  }
}
