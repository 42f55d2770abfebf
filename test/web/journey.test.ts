/**
 * Issue #14's walk-through as one person would do it, every step in the page, nothing through
 * the API but the checks: sign up, make the EEG sample, start a sequence-classifier job from the
 * generated form, watch the bar and the chart grow, see it succeed and the credits move, predict
 * with the model; then start a second job and cancel it, and see the refund. (The other items —
 * an invalid CSV's line-level error, another user's job URL, the server restart — have their
 * own tests in datasets.test.ts and jobs.test.ts.)
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { expectAccessible, expectCleanConsole, launchBrowser, openPage } from '../helpers/browser.js';

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp({ env: { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0' } }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const status = (p: Page) => p.getByTestId('job-status').textContent();
const progress = async (p: Page) => Number((await p.getByRole('progressbar', { name: 'Training progress' }).getAttribute('aria-valuenow')) ?? -1);
const lossPoints = async (p: Page) =>
  Number(
    (await p
      .locator('figure.chart')
      .filter({ has: p.locator('figcaption', { hasText: /^Loss$/ }) })
      .getAttribute('data-points', { timeout: 1000 })
      .catch(() => '0')) ?? 0,
  );

/** The generated form, filled as a person would: a small deep model so the run takes seconds. */
async function fillForm(page: Page, model: string, epochs: number): Promise<void> {
  await page.locator('input[type=radio][name=trainer][value=sequence-classifier]').check();
  await page.getByLabel('Model type').selectOption({ label: 'original' });
  await page.getByLabel('Epochs', { exact: true }).fill(String(epochs));
  await page.getByLabel('Sequence length', { exact: true }).selectOption({ label: 'a whole number…' });
  await page.getByLabel('Sequence length: value').fill('8');
  await page.getByLabel('Model name').fill(model);
}

describe('a new user, from sign-up to a prediction, in the browser', () => {
  it('signs up, makes the EEG sample, trains from the form, watches it live, predicts; a second job cancelled is refunded', async () => {
    const w = await openPage(browser, { baseURL: app.url });
    const { page } = w;
    const api = client(app.url);

    await page.goto('/signup');
    await page.getByLabel('Username').fill('grace');
    await page.getByLabel('Email').fill('grace@example.com');
    await page.getByLabel('Password').fill('cobol compiler 1959');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/jobs$/);
    await expect.poll(() => page.getByTestId('whoami').textContent()).toBe('grace');
    const token = (await api.post('/v1/auth/login', { username: 'grace', password: 'cobol compiler 1959' })).body.access_token as string;
    const before = (await api.get('/v1/credits/balance', token)).body.balance as number;

    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByRole('button', { name: 'EEG sample' }).click();
    await page.waitForURL(/\/datasets\/ds_[a-z0-9]+$/);
    await page.locator('.ds-status .badge', { hasText: 'ready' }).waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Train on this dataset' }).click();
    await page.waitForURL(/\/jobs\/new\?dataset=/);

    await fillForm(page, 'eeg-journey', 8);
    await expectAccessible(page, 'new job (filled)');
    await page.getByRole('button', { name: /Start training/ }).click();
    await page.waitForURL(/\/jobs\/job_[a-z0-9]+$/);
    const jobId = decodeURIComponent(page.url().split('/').pop()!);

    // Live: the bar and the loss chart both move while it runs.
    await expect.poll(() => lossPoints(page), { timeout: 90_000 }).toBeGreaterThan(0);
    const points = await lossPoints(page);
    const at = await progress(page);
    await expect.poll(() => lossPoints(page), { timeout: 90_000 }).toBeGreaterThan(points);
    await expect.poll(() => progress(page), { timeout: 90_000 }).toBeGreaterThan(at);
    await expect.poll(() => status(page), { timeout: 180_000 }).toBe('succeeded');
    await expect.poll(() => page.getByTestId('job-credits').textContent()).toMatch(/charged/);
    const job = (await api.get(`/v1/jobs/${jobId}`, token)).body;
    const after = (await api.get('/v1/credits/balance', token)).body.balance as number;
    expect(job.cost).toBeGreaterThan(0);
    expect(after).toBe(before - job.cost);
    await expect.poll(() => page.getByTestId('balance').textContent()).toBe(`${after.toLocaleString('en-US')} credits`);

    // The model it made: predict in the playground.
    await page.getByRole('link', { name: /eeg-journey version 1/ }).click();
    await page.waitForURL(/\/models\/eeg-journey$/);
    await page.getByRole('button', { name: 'Predict' }).click();
    await expect.poll(() => page.getByTestId('predicted-label').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.getByTestId('prediction').locator('.bars li').count()).toBe(3);

    // A second job, started from the form and cancelled from its page: the hold comes back.
    await page.goto('/jobs/new');
    await fillForm(page, 'eeg-journey-2', 400);
    await page.getByLabel('Training dataset').selectOption({ index: 1 });
    await page.getByRole('button', { name: /Start training/ }).click();
    await page.waitForURL(/\/jobs\/job_[a-z0-9]+$/);
    const second = decodeURIComponent(page.url().split('/').pop()!);
    await expect.poll(() => page.getByTestId('job-credits').textContent()).toMatch(/held/);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('dialog', { name: 'Cancel this job?' }).getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => status(page), { timeout: 60_000 }).toBe('cancelled');
    await expect.poll(() => page.getByTestId('job-credits').textContent()).toMatch(/refunded/);
    expect((await api.get(`/v1/jobs/${second}`, token)).body.status).toBe('cancelled');
    expect((await api.get('/v1/credits/balance', token)).body.balance).toBe(after);
    expectCleanConsole(w);
    await w.context.close();
  });
});
