/**
 * The dashboard's first load, side by side with the Swagger UI page the same process serves
 * at /docs (`npm run bench:dashboard`; issue #14's target: under 300 kB of gzipped JavaScript for
 * the first page). Real headless Chromium (Debian's, via playwright-core), a fresh browser
 * context per load (cold cache), the real server on PGlite over loopback.
 *
 * Per page: JavaScript bytes on the wire (gzip, as served) and requests, first contentful paint,
 * and the time until the page's first real content is visible (the log-in form; the jobs page's
 * heading once /v1/me answered; Swagger's operation list).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { api, startBenchApp } from './lib/app.js';
import { ms, printTable, summarize } from './lib/stats.js';

const RUNS = Number(process.env.RUNS ?? 15);
const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

interface Load {
  jsBytes: number;
  jsRequests: number;
  fcp: number;
  ready: number;
}

async function load(browser: Browser, base: string, url: string, ready: string, token?: string): Promise<Load> {
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 } });
  if (token)
    await context.addInitScript(
      (t) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('trainyard.token', t),
      token,
    );
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.locator(ready).first().waitFor({ state: 'visible' });
  const readyMs = Date.now() - t0;
  const m = await page.evaluate(() => {
    const perf = (globalThis as unknown as { performance: { getEntriesByType(t: string): unknown[]; getEntriesByName(n: string): unknown[] } }).performance;
    const res = perf.getEntriesByType('resource') as { initiatorType: string; name: string; encodedBodySize: number }[];
    const js = res.filter((r) => r.name.endsWith('.js'));
    const fcp = (perf.getEntriesByName('first-contentful-paint')[0] as { startTime: number } | undefined)?.startTime ?? NaN;
    return { jsBytes: js.reduce((n, r) => n + r.encodedBodySize, 0), jsRequests: js.length, fcp };
  });
  await context.close();
  return { ...m, ready: readyMs };
}

function distSizes(): { entry: number; all: number; files: number } {
  const dir = path.resolve('web/dist/assets');
  const html = readFileSync(path.resolve('web/dist/index.html'), 'utf8');
  const entry = /src="\/assets\/([^"]+\.js)"/.exec(html)?.[1];
  let all = 0;
  let files = 0;
  let entryGz = 0;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js')) continue;
    const gz = gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length;
    all += gz;
    files++;
    if (f === entry) entryGz = gz;
  }
  return { entry: entryGz, all, files };
}

async function main(): Promise<void> {
  const sizes = distSizes();
  const app = await startBenchApp('pglite');
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const c = api(app.url);
    const username = `bench${Date.now().toString(36)}`;
    const password = 'correct horse battery staple';
    await c.call('POST', '/v1/auth/signup', { json: { username, email: `${username}@example.com`, password } });
    const token = (await c.call<{ access_token: string }>('POST', '/v1/auth/login', { json: { username, password } })).body.access_token;
    const pages = [
      { name: 'dashboard /login (signed out)', url: '/login', ready: '#username' },
      { name: 'dashboard /jobs (signed in)', url: '/jobs', ready: 'h1#page-title', token },
      { name: 'Swagger UI /docs (reference)', url: '/docs', ready: '.opblock' },
    ];
    // One untimed load of each warms the server (gzip cache, route compilation), not the browser.
    for (const p of pages) await load(browser, app.url, p.url, p.ready, p.token);
    const results = new Map<string, Load[]>(pages.map((p) => [p.name, []]));
    // Interleaved, so a noisy moment of the shared machine hits every page alike.
    for (let i = 0; i < RUNS; i++) for (const p of pages) results.get(p.name)!.push(await load(browser, app.url, p.url, p.ready, p.token));
    console.log(`\nweb/dist: entry chunk ${(sizes.entry / 1000).toFixed(1)} kB gzip; all ${sizes.files} JS files ${(sizes.all / 1000).toFixed(1)} kB gzip\n`);
    printTable(
      ['page', 'JS on the wire (gzip)', 'JS requests', 'first contentful paint p50', 'content visible p50', 'content visible p95'],
      pages.map((p) => {
        const r = results.get(p.name)!;
        const fcp = summarize(r.map((x) => x.fcp));
        const ready = summarize(r.map((x) => x.ready));
        return [p.name, `${(r[0]!.jsBytes / 1000).toFixed(1)} kB`, r[0]!.jsRequests, ms(fcp.p50), ms(ready.p50), ms(ready.p95)];
      }),
    );
    console.log(`\n${RUNS} cold loads per page (fresh browser context each), interleaved; Chromium ${browser.version()}`);
  } finally {
    await browser.close();
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
