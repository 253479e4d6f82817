/**
 * A real browser for the page tests: Debian's Chromium (test/services/chromium.sh installs it), driven
 * headless by playwright-core, which downloads no browser of its own. Every page is watched: a console
 * error, an uncaught exception, a request that fails or an HTTP answer of 400 or more is a problem, and
 * the tests fail on any.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './helpers.js';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Where the page tests leave their screenshots (git-ignored). */
export const PAGE_ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts', 'page');

export const LAPTOP = { width: 1366, height: 900 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: run the tests with \`npm test\`, which installs Debian's chromium (test/services/chromium.sh)`,
    );
  await mkdir(PAGE_ARTIFACTS, { recursive: true });
  // As root Chromium refuses its sandbox; /dev/shm is small in containers.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Everything that went wrong on the page so far, in words. */
  problems: string[];
}

/** A fresh context (its own cookies, cache and viewport) and page, with every problem recorded. */
export async function watchedPage(browser: Browser, viewport: { width: number; height: number }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'Europe/London' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A search the page itself abandoned (a newer one replaced it) is not a failure.
    if (request.failure()?.errorText === 'net::ERR_ABORTED' && request.url().includes('/search?')) return;
    problems.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  page.setDefaultTimeout(15_000);
  return { context, page, problems };
}
