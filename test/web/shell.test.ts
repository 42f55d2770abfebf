import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { expectAccessible, expectCleanConsole, launchBrowser, newAccount, openPage } from '../helpers/browser.js';

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  app = await startTestApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('the dashboard shell', () => {
  it('is served at / by the API process, without shadowing the API, docs or operations routes', async () => {
    const html = await fetch(`${app.url}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(html.headers.get('cache-control')).toBe('no-cache');
    const page = await html.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
    expect(asset).toBeTruthy();
    const js = await fetch(`${app.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    // Deep links are the app's; API paths keep their JSON answers.
    expect((await fetch(`${app.url}/jobs/job_anything`)).headers.get('content-type')).toMatch(/text\/html/);
    for (const p of ['/v1/nope', '/compat/nope', '/openapi.json/x', '/blobs/x', '/assets/missing.js', '/missing.png']) {
      const r = await fetch(`${app.url}${p}`, { headers: { accept: 'text/html' } });
      // A JSON error from the route that owns the path (/blobs checks its signature first: 400).
      expect([p, r.status >= 400 && r.status < 500, r.headers.get('content-type')]).toEqual([p, true, 'application/json; charset=utf-8']);
    }
    expect((await fetch(`${app.url}/v1/jobs`)).status).toBe(401);
    expect((await fetch(`${app.url}/openapi.json`)).headers.get('content-type')).toMatch(/json/);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.url}/metrics`)).headers.get('content-type')).toMatch(/text\/plain/);
  });

  it('sends a signed-out visitor of a deep link to log in, and shows the page after', async () => {
    const acct = await newAccount(app.url, 'shell');
    const w = await openPage(browser, { baseURL: app.url });
    await w.page.goto('/jobs');
    await w.page.waitForURL(/\/login\?next=%2Fjobs/);
    await expectAccessible(w.page, 'log-in');
    await w.page.getByLabel('Username').fill(acct.username);
    await w.page.getByLabel('Password').fill(acct.password);
    await w.page.getByRole('button', { name: 'Log in' }).click();
    await w.page.waitForURL(/\/jobs$/);
    await expect.poll(() => w.page.getByTestId('whoami').textContent()).toBe(acct.username);
    expectCleanConsole(w);
    await w.context.close();
  });
});
