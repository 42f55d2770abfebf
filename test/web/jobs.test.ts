/**
 * The jobs, models and sweeps pages against a real server and a real trainer
 * (sequence-classifier on the EEG sample, small enough to run in seconds): live progress and
 * charts, a server restart the live view survives, success and its charge, the model page's
 * playground, cancelling from the page (refund), another user's job (not found), the jobs
 * list's filters, and a sweep's comparison table.
 */
import { rm } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { expectAccessible, expectCleanConsole, launchBrowser, newAccount, openPage, screenshot, VIEWPORTS, type WatchedPage } from '../helpers/browser.js';
import { TEST_SERVER_ENV } from '../helpers/test-env.js';
import { waitForReadyDataset } from '../helpers/wait.js';

const ENV = { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '1000' };
/** Deep model, no early stopping: every epoch runs and reports, a second or so each. */
const HYPER = { model_type: 'original', sequence_length: 8, batch_size: 16, learning_rate: 0.005, patience: 0, min_epochs: 0 };

let app: TestApp;
/** The runtime started by the restart test on the same port, database and data folder. */
let restarted: Runtime | null = null;
let browser: Browser;
let api: ReturnType<typeof client>;
let user: Awaited<ReturnType<typeof newAccount>>;
let datasetId: string;
let firstJob: string;

beforeAll(async () => {
  app = await startTestApp({ env: ENV });
  api = client(app.url);
  browser = await launchBrowser();
  user = await newAccount(app.url, 'jobs');
  const d = await api.post('/v1/datasets/samples', { kind: 'eeg', size: 600, seed: 5 }, user.token);
  expect(d.status).toBe(201);
  datasetId = (await waitForReadyDataset(api, user.token, d.body.id)).id;
});
afterAll(async () => {
  await browser?.close();
  if (restarted) {
    await restarted.close();
    await app.testDb.drop();
    await rm(app.dataDir, { recursive: true, force: true });
  } else await app?.close();
});

async function startJob(epochs: number, model: string): Promise<string> {
  const r = await api.post(
    '/v1/jobs',
    { trainer: 'sequence-classifier', dataset_id: datasetId, hyperparameters: { ...HYPER, epochs }, output: { model_name: model } },
    user.token,
  );
  expect(r.status).toBe(202);
  return r.body.id as string;
}

/**
 * The server goes away and comes back on the same port, database and data folder: open
 * streams are cut (Node's closeAllConnections, as a crash or a deploy would), the worker hands
 * its running job back, and the new server's worker resumes it.
 */
async function restartServer(): Promise<void> {
  const port = new URL(app.url).port;
  const old = restarted ?? app.rt;
  const closing = old.close();
  old.app!.server.closeAllConnections();
  await closing;
  restarted = await startRuntime(loadConfig({ DATA_DIR: app.dataDir, ...TEST_SERVER_ENV, ...ENV, PORT: port }), {
    db: app.testDb.db,
    logger: pino({ level: 'silent' }),
  });
  expect(restarted.url).toBe(app.url);
}

const liveState = (p: Page) => p.locator('.live-state').getAttribute('data-state');
const progressNow = async (p: Page) => Number((await p.getByRole('progressbar', { name: 'Training progress' }).getAttribute('aria-valuenow')) ?? -1);
const chart = (p: Page, title: string) => p.locator('figure.chart').filter({ has: p.locator('figcaption', { hasText: new RegExp(`^${title}$`) }) });
const lossPoints = async (p: Page) =>
  Number(
    (await chart(p, 'Loss')
      .getAttribute('data-points', { timeout: 1000 })
      .catch(() => '0')) ?? 0,
  );
const jobStatus = (p: Page) => p.getByTestId('job-status').textContent();

/** Both viewports: the page as it is on a desktop, then on a phone (and back). */
async function screenshots(w: WatchedPage, name: string) {
  await screenshot(w.page, name);
  await w.page.setViewportSize(VIEWPORTS.phone);
  await expectAccessible(w.page, `${name} (phone)`);
  // Nothing wider than the phone: wide tables scroll inside their own box.
  await expect.poll(() => w.page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number)).toBeLessThanOrEqual(VIEWPORTS.phone.width);
  await screenshot(w.page, name);
  await w.page.setViewportSize(VIEWPORTS.desktop);
}

describe('a job, live', () => {
  it('shows progress and charts growing, survives a server restart, succeeds and shows the charge', async () => {
    firstJob = await startJob(120, 'eeg-live');
    const w = await openPage(browser, { baseURL: app.url, token: user.token });
    await w.page.goto(`/jobs/${firstJob}`);
    await expect.poll(() => w.page.getByRole('heading', { level: 1 }).textContent()).toBe(`Job ${firstJob}`);
    await expect.poll(() => liveState(w.page), { timeout: 20_000 }).toBe('live');

    // Progress and the loss chart advance while it runs.
    await expect.poll(() => progressNow(w.page), { timeout: 60_000 }).toBeGreaterThan(0);
    const p1 = await progressNow(w.page);
    await expect.poll(() => lossPoints(w.page), { timeout: 60_000 }).toBeGreaterThan(0);
    const n1 = await lossPoints(w.page);
    await expect.poll(() => progressNow(w.page), { timeout: 60_000 }).toBeGreaterThan(p1);
    await expect.poll(() => lossPoints(w.page), { timeout: 60_000 }).toBeGreaterThan(n1);
    expect(await chart(w.page, 'Accuracy').count()).toBe(1);
    // Held while it runs, and the balance says so.
    await expect.poll(() => w.page.getByTestId('job-credits').textContent()).toMatch(/held while the job runs/);
    await expect.poll(() => w.page.getByText(/held by unfinished jobs/).count()).toBe(1);
    await expectAccessible(w.page, 'job running');
    await screenshots(w, 'job-running');

    // The server restarts mid-run: the page says it is reconnecting, then is live again and goes on.
    expect(await jobStatus(w.page)).toBe('running');
    const restarting = restartServer();
    await expect.poll(() => liveState(w.page), { interval: 20 }).toBe('reconnecting');
    await expect.poll(() => w.page.getByRole('status').filter({ hasText: 'Reconnecting…' }).count()).toBe(1);
    await restarting;
    await expect.poll(() => liveState(w.page), { timeout: 30_000 }).toBe('live');
    const n2 = await lossPoints(w.page);
    await expect.poll(() => lossPoints(w.page), { timeout: 60_000 }).toBeGreaterThan(n2);

    // Success: full bar, the charge, the result and the model's version.
    await expect.poll(() => jobStatus(w.page), { timeout: 120_000 }).toBe('succeeded');
    await expect.poll(() => progressNow(w.page)).toBe(100);
    await expect.poll(() => w.page.getByTestId('job-credits').textContent()).toMatch(/charged/);
    await expect.poll(() => w.page.locator('tr[data-type="capture"]').count()).toBe(1);
    await expect.poll(() => w.page.getByText(/held by unfinished jobs/).count()).toBe(0);
    const balance = (await api.get('/v1/credits/balance', user.token)).body;
    await expect.poll(() => w.page.getByTestId('balance').textContent()).toBe(`${balance.balance.toLocaleString('en-US')} credits`);
    await expect.poll(() => w.page.locator('tr[data-metric="val_accuracy"]').count()).toBe(1);
    await expect.poll(() => w.page.locator('table.confusion').count()).toBeGreaterThan(0);
    expect(await w.page.getByRole('log', { name: 'Job log' }).getAttribute('data-lines')).not.toBe('0');
    await expectAccessible(w.page, 'job succeeded');
    await screenshots(w, 'job-succeeded');

    // On to the model page, by the link to the version the job made.
    await w.page.getByRole('link', { name: /eeg-live version 1/ }).click();
    await w.page.waitForURL(/\/models\/eeg-live$/);
    await expect.poll(() => w.page.locator('tr[data-version="1"]').count()).toBe(1);
    await w.page.getByRole('button', { name: 'Predict' }).click();
    await expect.poll(() => w.page.getByTestId('predicted-label').count(), { timeout: 30_000 }).toBe(1);
    const bars = await w.page.getByTestId('prediction').locator('.bars li').count();
    expect(bars).toBeGreaterThanOrEqual(2);
    // An alias of one's own, and the model made public.
    await w.page.getByLabel('Alias', { exact: true }).fill('production');
    await w.page.getByRole('button', { name: 'Point alias' }).click();
    await expect.poll(() => w.page.locator('li[data-alias="production"]').textContent()).toMatch(/production → v1/);
    await w.page.getByRole('button', { name: 'Make public' }).click();
    await expect.poll(() => w.page.locator('.badge-public').count()).toBe(1);
    expect((await api.get('/v1/models/eeg-live', user.token)).body).toMatchObject({ visibility: 'public', aliases: { production: 1 } });
    await expectAccessible(w.page, 'model detail');
    await screenshots(w, 'model-detail');
    // Reconnecting to a server that was down logs refused connections; nothing else may be logged.
    expectCleanConsole(w, [/ERR_CONNECTION_REFUSED/, /ERR_CONNECTION_RESET/, /ERR_EMPTY_RESPONSE/, /ERR_INCOMPLETE_CHUNKED_ENCODING/]);
    await w.context.close();
  });

  it('shows a queued job its place and estimate; cancels from the page after confirming; the credits come back', async () => {
    const id = await startJob(300, 'eeg-cancel');
    // The worker runs one job at a time: a second one waits, first in line.
    const queued = await startJob(300, 'eeg-cancel');
    const w = await openPage(browser, { baseURL: app.url, token: user.token });
    await w.page.goto(`/jobs/${queued}`);
    const queue = w.page.getByTestId('queue');
    await expect.poll(() => queue.textContent(), { timeout: 30_000 }).toMatch(/Waiting in the queue: next to run/);
    // No first-attempt run of this trainer has finished here (the first one was resumed) and its catalog entry has no figure.
    expect(await queue.textContent()).toMatch(/No run-time estimate yet/);
    await expectAccessible(w.page, 'job queued');
    await w.page.getByRole('button', { name: 'Cancel job' }).click();
    await w.page.getByRole('dialog', { name: 'Cancel this job?' }).getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => jobStatus(w.page)).toBe('cancelled');
    await expect.poll(() => w.page.getByTestId('job-credits').textContent()).toMatch(/refunded/);

    await w.page.goto(`/jobs/${id}`);
    await expect.poll(() => jobStatus(w.page), { timeout: 30_000 }).toBe('running');
    await w.page.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = w.page.getByRole('dialog', { name: 'Cancel this job?' });
    await dialog.waitFor();
    await expectAccessible(w.page, 'cancel dialog');
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => jobStatus(w.page), { timeout: 30_000 }).toBe('cancelled');
    await expect.poll(() => w.page.getByTestId('job-credits').textContent()).toMatch(/refunded/);
    await expect.poll(() => w.page.locator('tr[data-type="release"]').count()).toBe(1);
    expect((await api.get(`/v1/jobs/${id}`, user.token)).body.status).toBe('cancelled');
    expectCleanConsole(w);
    await w.context.close();
  });

  it("another user's job: 'Job not found' with the API's error, not a blank page", async () => {
    const other = await newAccount(app.url, 'other');
    const w = await openPage(browser, { baseURL: app.url, token: other.token });
    await w.page.goto(`/jobs/${firstJob}`);
    await expect.poll(() => w.page.getByRole('heading', { level: 1 }).textContent()).toBe('Job not found');
    const alert = w.page.getByRole('alert');
    await expect.poll(() => alert.textContent()).toMatch(/JOB_NOT_FOUND/);
    expect(await alert.locator('.request-id').count()).toBe(1);
    await expectAccessible(w.page, 'job not found');
    expectCleanConsole(w, [/Failed to load resource: the server responded with a status of 404/]);
    await w.context.close();
  });

  it('lists the jobs with filters in the address', async () => {
    const w = await openPage(browser, { baseURL: app.url, token: user.token });
    await w.page.goto('/jobs');
    await expect.poll(() => w.page.locator('table.jobs-table tbody tr').count()).toBe(3);
    await expectAccessible(w.page, 'jobs list');
    await screenshots(w, 'jobs-list');
    await w.page.getByLabel('Status').selectOption('succeeded');
    await w.page.waitForURL(/\/jobs\?status=succeeded$/);
    await expect.poll(() => w.page.locator('table.jobs-table tbody tr').count()).toBe(1);
    expect(await w.page.locator('table.jobs-table tbody tr').textContent()).toContain(firstJob);
    // The filter is in the address: a reload keeps it.
    await w.page.reload();
    await expect.poll(() => w.page.getByLabel('Status').inputValue()).toBe('succeeded');
    await w.page.getByRole('link', { name: 'New job' }).waitFor();
    expectCleanConsole(w);
    await w.context.close();
  });
});

describe('a long jobs list', () => {
  it('keeps every row "Load more" added while an active job refreshes the list (it fell back to 100)', async () => {
    const many = await newAccount(app.url, 'many');
    const d = await api.post('/v1/datasets/samples', { kind: 'eeg', size: 600, seed: 6 }, many.token);
    const ds = (await waitForReadyDataset(api, many.token, d.body.id)).id;
    const live = await api.post(
      '/v1/jobs',
      { trainer: 'sequence-classifier', dataset_id: ds, hyperparameters: { ...HYPER, epochs: 300 }, output: { model_name: 'many-live' } },
      many.token,
    );
    expect(live.status).toBe(202);
    // A real job that runs while the page is open, and 130 finished ones before it: copies of it
    // made in the database (a history the API would take minutes to build), a second apart.
    await app.testDb.db.query(
      `insert into jobs
         select (jsonb_populate_record(null::jobs, to_jsonb(j) || jsonb_build_object(
           'id', 'job_many' || lpad(g::text, 4, '0'), 'owner_id', $2::text, 'status', 'cancelled', 'idempotency_key', null,
           'dataset_id', null, 'created_at', j.created_at - make_interval(secs => g)))).*
         from jobs j, generate_series(1, 130) g where j.id = $1`,
      [live.body.id, many.id],
    );
    const w = await openPage(browser, { baseURL: app.url, token: many.token });
    try {
      const rows = w.page.locator('table.jobs-table tbody tr');
      let refreshes = 0;
      w.page.on('request', (r) => void (/\/v1\/jobs\?/.test(r.url()) && !r.url().includes('cursor=') && refreshes++));
      await w.page.goto('/jobs');
      await expect.poll(() => rows.count()).toBe(25);
      for (const n of [50, 75, 100, 125]) {
        await w.page.getByRole('button', { name: 'Load more' }).click();
        await expect.poll(() => rows.count()).toBe(n);
      }
      // Two refreshes (every 3 s while a job is active) later: all 125 rows, and "Load more" goes on after them.
      const seen = refreshes;
      await expect.poll(() => refreshes, { timeout: 15_000 }).toBeGreaterThanOrEqual(seen + 2);
      expect(await rows.count()).toBe(125);
      await w.page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => rows.count()).toBe(131);
      expectCleanConsole(w);
    } finally {
      await w.context.close();
      await api.post(`/v1/jobs/${live.body.id}/cancel`, {}, many.token);
    }
  });
});

describe('a sweep', () => {
  it('compares its grid points: mean ± std over the repeats, the best marked, a spread chart', async () => {
    const r = await api.post(
      '/v1/sweeps',
      {
        trainer: 'sequence-classifier',
        dataset_id: datasetId,
        hyperparameters: { ...HYPER, epochs: 2 },
        grid: { learning_rate: [0.002, 0.01] },
        repeats: 2,
        output: { model_name: 'eeg-sweep' },
      },
      user.token,
    );
    expect(r.status).toBe(201);
    const w = await openPage(browser, { baseURL: app.url, token: user.token });
    await w.page.goto(`/sweeps/${r.body.id}`);
    await expect.poll(() => w.page.locator('table.sweep-table tbody tr').count()).toBe(2);
    // Filled in as the runs finish (the page refreshes itself while the sweep runs).
    await expect
      .poll(() => w.page.getByTestId('mean-std').allTextContents(), { timeout: 120_000 })
      .toEqual([expect.stringMatching(/^\S+ ± \S+$/), expect.stringMatching(/^\S+ ± \S+$/)]);
    await expect.poll(() => w.page.locator('.badge').first().textContent(), { timeout: 30_000 }).toBe('succeeded');
    expect(await w.page.locator('tr[data-best]').count()).toBe(1);
    expect(await w.page.locator('figure.spread').getAttribute('data-points')).toBe('2');
    for (const job of (await api.get(`/v1/sweeps/${r.body.id}`, user.token)).body.points.flatMap((p: { jobs: { id: string }[] }) => p.jobs))
      expect(await w.page.locator(`a[href="/jobs/${job.id}"]`).count()).toBe(1);
    await expectAccessible(w.page, 'sweep detail');
    await screenshots(w, 'sweep-detail');

    await w.page.getByRole('link', { name: 'Sweeps', exact: true }).click();
    await w.page.waitForURL(/\/sweeps$/);
    await expect.poll(() => w.page.locator(`a[href="/sweeps/${r.body.id}"]`).count()).toBe(1);
    await expectAccessible(w.page, 'sweeps list');
    // The models list: the first job's model and the sweep's (the cancelled job made none).
    await w.page.getByRole('link', { name: 'Models', exact: true }).click();
    await expect.poll(() => w.page.locator('tbody tr').count()).toBe(2);
    await expectAccessible(w.page, 'models list');
    expectCleanConsole(w);
    await w.context.close();
  });
});
