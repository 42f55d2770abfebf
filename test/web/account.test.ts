import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { expectAccessible, expectCleanConsole, launchBrowser, newAccount, openPage, screenshot } from '../helpers/browser.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';

// The account pages of the dashboard (issue #14): API keys, credits and the admin page, driven
// in a real browser against the real API, every effect checked through the API itself.

const ADMIN = { username: 'web-admin', password: 'correct horse battery staple' };
// SIGNUP_CREDIT_GRANT's default (src/config.ts): what a new account starts with.
const SIGNUP_GRANT = 100;

let app: TestApp;
let browser: Browser;
let api: ReturnType<typeof client>;
let adminToken: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-web-acct-'));
  // The test trainers beside the built-in ones: gpu-echo needs a GPU this server lacks, so its job stays queued and holds its cost.
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  app = await startTestApp({ dataDir, env: { TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password } });
  api = client(app.url);
  adminToken = (await api.post('/v1/auth/login', ADMIN)).body.access_token;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The same page on a phone, in dark mode: accessible there too, and a screenshot of it. */
async function phoneCheck(token: string, url: string, name: string, ready: (p: Page) => Promise<unknown>): Promise<void> {
  const w = await openPage(browser, { baseURL: app.url, token, viewport: 'phone', colorScheme: 'dark' });
  await w.page.goto(url);
  await ready(w.page);
  await expectAccessible(w.page, `${name} (phone, dark)`);
  await screenshot(w.page, name);
  expectCleanConsole(w);
  await w.context.close();
}

const balanceOf = async (token: string) => (await api.get('/v1/credits/balance', token)).body as { balance: number; held: number };

describe('API keys page', () => {
  it('creates a key shown once with a copy button; the key works; revoking it in the page makes it fail', async () => {
    const u = await newAccount(app.url, 'keys');
    const w = await openPage(browser, { baseURL: app.url, token: u.token });
    const { page } = w;
    await page.goto('/keys');
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await page.getByText('You have no API keys yet.').waitFor();
    await expectAccessible(page, 'keys (empty)');

    await page.getByLabel('Key name', { exact: true }).fill('laptop script');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secretEl = page.getByTestId('new-key-secret');
    await secretEl.waitFor();
    await expect.poll(() => page.getByText('you will not see it again').count()).toBe(1);
    const secret = (await secretEl.textContent())!.trim();
    expect(secret.length).toBeGreaterThan(20);
    // The copy button puts exactly that on the clipboard and says so.
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByText('Copied', { exact: true }).waitFor();
    expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText() as Promise<string>)).toBe(secret);

    // The key is listed by its prefix, never in full.
    const row = page.getByRole('row', { name: /laptop script/ });
    await row.waitFor();
    const listed = (await api.get('/v1/api-keys', u.token)).body.data as { id: string; prefix: string }[];
    expect(listed).toHaveLength(1);
    expect(await row.textContent()).toContain(listed[0]!.prefix);
    expect(await page.locator('table').textContent()).not.toContain(secret);
    await expectAccessible(page, 'keys (new key shown)');
    await screenshot(page, 'keys');

    // It works as a bearer token.
    const me = await api.get('/v1/me', secret);
    expect([me.status, me.body.username]).toEqual([200, u.username]);

    // Dismissed, the secret is gone from the page for good.
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await expect.poll(() => page.getByTestId('new-key-secret').count()).toBe(0);

    // Revoke, through the confirmation dialog.
    await page.getByRole('button', { name: 'Revoke laptop script' }).click();
    const dialog = page.getByRole('dialog', { name: /Revoke “laptop script”/ });
    await dialog.waitFor();
    await expectAccessible(page, 'keys (revoke dialog)');
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText(/Key “laptop script” revoked/).waitFor();
    await page.getByText('You have no API keys yet.').waitFor();
    const after = await api.get('/v1/me', secret);
    expect([after.status, after.body.error.code]).toEqual([401, 'INVALID_API_KEY']);
    // The session that revoked it is untouched.
    expect((await api.get('/v1/me', u.token)).status).toBe(200);
    expectCleanConsole(w);
    await w.context.close();

    const k2 = await api.post('/v1/api-keys', { name: 'phone view key' }, u.token);
    expect(k2.status).toBe(201);
    await phoneCheck(u.token, '/keys', 'keys', (p) => p.getByRole('row', { name: /phone view key/ }).waitFor());
  });
});

describe('credits page', () => {
  it('shows the balance and the held credits the API reports, and the transactions with their purpose, kind and job, a page at a time', async () => {
    const u = await newAccount(app.url, 'credits');
    // 55 small grants, then a job that stays queued (holding its cost): more than one page of entries.
    for (let i = 0; i < 55; i++)
      expect((await api.post('/v1/admin/credits/grants', { username: u.username, credits: 1, note: `top-up ${i}` }, adminToken)).status).toBe(201);
    const ds = await csvDataset(api, u.token, 'credits-ds');
    const job = await api.post('/v1/jobs', { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'held-model' } }, u.token);
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const jobId = job.body.id as string;
    const b = await balanceOf(u.token);
    expect(b).toMatchObject({ balance: SIGNUP_GRANT + 55 - 5, held: 5 });

    const w = await openPage(browser, { baseURL: app.url, token: u.token });
    const { page } = w;
    await page.goto('/credits');
    await expect.poll(() => page.getByTestId('balance').textContent()).toBe(`${b.balance} credits`);
    expect(await page.getByTestId('held').textContent()).toBe('5 credits');

    const rows = page.getByTestId('transactions').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(50);
    // Newest first: the job's hold, linked to the job.
    const hold = rows.first();
    expect(await hold.textContent()).toMatch(/Training.*hold.*−5/);
    expect(await hold.getByRole('link', { name: jobId }).getAttribute('href')).toBe(`/jobs/${jobId}`);
    await expectAccessible(page, 'credits');
    await screenshot(page, 'credits');

    // The rest, with the sign-up grant last.
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => rows.count()).toBe(57);
    await expect.poll(() => page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    expect(await rows.last().textContent()).toMatch(new RegExp(`Grant.*grant.*\\+${SIGNUP_GRANT}`));
    const all = (await api.get('/v1/credits/transactions?limit=200', u.token)).body.data as { id: string }[];
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-tx-id')))).toEqual(all.map((t) => t.id));

    // Filtered by purpose: only the training entries.
    await page.getByLabel('Purpose', { exact: true }).selectOption('training');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(jobId);
    expectCleanConsole(w);
    await w.context.close();

    await phoneCheck(u.token, '/credits', 'credits', (p) => p.getByTestId('transactions').locator('tbody tr').first().waitFor());
    await api.post(`/v1/jobs/${jobId}/cancel`, {}, u.token);
  });
});

describe('admin page', () => {
  it('a non-admin sees that the page is for admins only', async () => {
    const u = await newAccount(app.url, 'nonadmin');
    const w = await openPage(browser, { baseURL: app.url, token: u.token });
    await w.page.goto('/admin');
    await w.page.getByTestId('admins-only').waitFor();
    expect(await w.page.getByTestId('admins-only').textContent()).toMatch(/Admins only/);
    expect(await w.page.getByRole('table').count()).toBe(0);
    // The navigation offers no Admin link either.
    expect(await w.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await expectAccessible(w.page, 'admin (non-admin)');
    expectCleanConsole(w);
    await w.context.close();
  });

  it('grants credits, disables and enables an account, lists every job and the catalog’s availability, reloads the catalog', async () => {
    const u = await newAccount(app.url, 'managed');
    const before = await balanceOf(u.token);
    const ds = await csvDataset(api, u.token, 'admin-ds');
    const job = await api.post('/v1/jobs', { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'admin-listed' } }, u.token);
    expect(job.status).toBe(202);

    const w = await openPage(browser, { baseURL: app.url, token: adminToken });
    const { page } = w;
    await page.goto('/admin');
    await page.getByRole('heading', { level: 1, name: 'Admin' }).waitFor();
    const userRow = page.locator(`tr[data-username="${u.username}"]`);
    await userRow.waitFor();
    expect(await userRow.locator('[data-col="status"]').textContent()).toBe('active');
    // The admin's own row offers no way to lock themself out.
    const own = page.locator(`tr[data-username="${ADMIN.username}"]`);
    expect(await own.getByRole('button').count()).toBe(0);

    // Grant credits: the account's balance rises by exactly that.
    await page.getByLabel('Account', { exact: true }).fill(u.username);
    await page.getByLabel('Amount (credits)', { exact: true }).fill('25');
    await page.getByLabel('Reason', { exact: true }).fill('web test grant');
    await page.getByRole('button', { name: 'Grant credits' }).click();
    await expect.poll(() => page.getByTestId('grant-result').textContent()).toMatch(new RegExp(`Granted 25 credits to ${u.username}`));
    expect((await balanceOf(u.token)).balance).toBe(before.balance + 25 - 5);
    const grant = (await api.get('/v1/credits/transactions?purpose=grant&limit=1', u.token)).body.data[0];
    expect(grant).toMatchObject({ credits: 25, note: 'web test grant' });

    // Every owner's jobs, filtered by trainer, each linked to its page.
    await page.getByLabel('Trainer', { exact: true }).selectOption('gpu-echo');
    const jobs = page.getByTestId('admin-jobs');
    await jobs.getByRole('link', { name: job.body.id }).waitFor();
    expect(await jobs.getByRole('link', { name: job.body.id }).getAttribute('href')).toBe(`/jobs/${job.body.id}`);
    await page.getByLabel('Status', { exact: true }).selectOption('succeeded');
    await page.getByText('No jobs match these filters.').waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('queued');
    await jobs.getByRole('link', { name: job.body.id }).waitFor();

    // The catalog: every trainer's availability, and why one cannot run.
    const trainers = (await api.get('/v1/trainers', adminToken)).body.data as { id: string; available: boolean; unavailable_reason: string | null }[];
    const table = page.getByTestId('catalog-trainers');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(trainers.length);
    for (const t of trainers) {
      const r = table.locator(`tr[data-trainer="${t.id}"]`);
      expect([t.id, await r.locator('[data-col="availability"]').textContent()]).toEqual([t.id, t.available ? 'available' : 'unavailable']);
    }
    const off = trainers.find((t) => !t.available);
    if (off) expect(await table.locator(`tr[data-trainer="${off.id}"] [data-col="reason"]`).textContent()).toBe(off.unavailable_reason);
    await expectAccessible(page, 'admin');
    await screenshot(page, 'admin');

    // Disable: confirmed in a dialog; the account's token is refused from its next request.
    expect((await api.get('/v1/me', u.token)).status).toBe(200);
    await userRow.getByRole('button', { name: `Disable ${u.username}` }).click();
    const dialog = page.getByRole('dialog', { name: `Disable ${u.username}?` });
    await dialog.waitFor();
    await expectAccessible(page, 'admin (disable dialog)');
    await dialog.getByRole('button', { name: 'Disable account' }).click();
    await expect.poll(() => userRow.locator('[data-col="status"]').textContent()).toBe('disabled');
    await page.getByText(`${u.username} is now disabled.`).waitFor();
    const refused = await api.get('/v1/me', u.token);
    expect([refused.status, refused.body.error.code]).toEqual([401, 'INVALID_TOKEN']);

    // Enable again: the same token works.
    await userRow.getByRole('button', { name: `Enable ${u.username}` }).click();
    await page
      .getByRole('dialog', { name: `Enable ${u.username}?` })
      .getByRole('button', { name: 'Enable account' })
      .click();
    await expect.poll(() => userRow.locator('[data-col="status"]').textContent()).toBe('active');
    expect((await api.get('/v1/me', u.token)).status).toBe(200);

    // Promote, then demote.
    await userRow.getByRole('button', { name: `Make admin: ${u.username}` }).click();
    await page
      .getByRole('dialog', { name: `Make ${u.username} an admin?` })
      .getByRole('button', { name: 'Make admin' })
      .click();
    await expect.poll(() => userRow.locator('[data-col="role"]').textContent()).toBe('admin');
    expect((await api.get('/v1/me', u.token)).body.role).toBe('admin');
    await userRow.getByRole('button', { name: `Make user: ${u.username}` }).click();
    await page
      .getByRole('dialog', { name: `Make ${u.username} a user?` })
      .getByRole('button', { name: 'Make user' })
      .click();
    await expect.poll(() => userRow.locator('[data-col="role"]').textContent()).toBe('user');
    expect((await api.get('/v1/me', u.token)).body.role).toBe('user');

    // Reload the catalog.
    await page.getByRole('button', { name: 'Reload catalog' }).click();
    await expect
      .poll(() => page.getByTestId('reload-result').textContent(), { timeout: 20_000 })
      .toBe(`Catalog reloaded: ${trainers.length} trainers, ${(await api.get('/v1/base-models', adminToken)).body.data.length} base models.`);
    expectCleanConsole(w);
    await w.context.close();

    await phoneCheck(adminToken, '/admin', 'admin', (p) => p.getByTestId('catalog-trainers').locator('tbody tr').first().waitFor());
    await api.post(`/v1/jobs/${job.body.id}/cancel`, {}, u.token);
  }, 60_000);
});
