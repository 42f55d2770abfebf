import type axe from 'axe-core';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { client } from './app.js';

/**
 * Real headless Chromium (Debian's `chromium`, which .ci/run installs) driven by
 * playwright-core. A missing browser fails the web tests: they never skip.
 */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_BIN)) throw new Error(`no Chromium at ${CHROMIUM_BIN}: install Debian's chromium (as .ci/run does) or set CHROMIUM_BIN`);
  return chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

export const VIEWPORTS = {
  desktop: { width: 1280, height: 900 },
  phone: { width: 390, height: 844 },
} as const;

/** A page that records what a person would notice in the console: errors and uncaught exceptions. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  consoleErrors: string[];
}

export async function openPage(
  browser: Browser,
  o: { token?: string; viewport?: keyof typeof VIEWPORTS; colorScheme?: 'light' | 'dark'; baseURL: string },
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: VIEWPORTS[o.viewport ?? 'desktop'],
    colorScheme: o.colorScheme ?? 'light',
    baseURL: o.baseURL,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  // Signed in the way the app signs in: its token in localStorage before any script runs.
  if (o.token) await context.addInitScript((t) => (globalThis as any).localStorage.setItem('trainyard.token', t), o.token);
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  return { page, context, consoleErrors };
}

/**
 * No console errors but those a test expects (Chromium logs every non-2xx fetch, e.g. the 404
 * of another user's job, as "Failed to load resource").
 */
export function expectCleanConsole(w: WatchedPage, allowed: RegExp[] = []): void {
  expect(w.consoleErrors.filter((e) => !allowed.some((a) => a.test(e)))).toEqual([]);
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core in the page: no serious or critical violation (WCAG 2.1 A/AA rules and best practices). */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Evaluated rather than added as a <script>: the dashboard's CSP (script-src 'self') rightly refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const result = (await page.evaluate(() => (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ['violations'] }))) as axe.AxeResults;
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${what}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad).toEqual([]);
}

export const SCREENSHOT_DIR = path.resolve('test-results/screenshots');

/** A full-page screenshot, test-results/screenshots/<name>-<viewport>.png, for people to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const size = page.viewportSize();
  const file = path.join(SCREENSHOT_DIR, `${name}-${size && size.width < 700 ? 'phone' : 'desktop'}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

let n = 0;
/** A new account through the public API (signup + login); returns its token (a JWT), id and name. */
export async function newAccount(baseURL: string, prefix = 'web'): Promise<{ token: string; username: string; password: string; id: string }> {
  return client(baseURL).user(`${prefix}${Date.now().toString(36)}${n++}`);
}
