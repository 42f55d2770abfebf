import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { expectAccessible, expectCleanConsole, launchBrowser, newAccount, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { waitFor, waitForJob, waitForReadyDataset } from '../helpers/wait.js';

// The datasets pages and the new-job form in real Chromium against a real server: samples,
// uploads (multipart and pre-signed) with per-file progress, validation problems by file and
// line, and a job form generated from the trainer's hyperparameter schema, priced before it starts.

let app: TestApp;
/** A second server whose accounts start with 1 credit: the form must say so before anything is sent. */
let poorApp: TestApp;
let browser: Browser;
const opened: WatchedPage[] = [];
const jobs: { id: string; token: string }[] = [];

beforeAll(async () => {
  [app, poorApp, browser] = await Promise.all([startTestApp(), startTestApp({ env: { SIGNUP_CREDIT_GRANT: '1' } }), launchBrowser()]);
});
afterAll(async () => {
  // No training left running when the server stops.
  if (app) {
    const api = client(app.url);
    for (const j of jobs) {
      await api.call('POST', `/v1/jobs/${j.id}/cancel`, { token: j.token });
      await waitForJob(api, j.token, j.id, undefined, 60_000);
    }
  }
  for (const w of opened) await w.context.close().catch(() => {});
  await browser?.close();
  await Promise.all([app?.close(), poorApp?.close()]);
});

async function open(baseURL: string, token: string, viewport: 'desktop' | 'phone' = 'desktop'): Promise<WatchedPage> {
  const w = await openPage(browser, { baseURL, token, viewport });
  opened.push(w);
  return w;
}

/** What the progress bar of one upload says, as a number (aria-valuenow). */
const progressOf = (page: Page, filename: string) =>
  page
    .getByRole('progressbar', { name: `Upload of ${filename}` })
    .getAttribute('aria-valuenow')
    .then((v) => Number(v));

let acct: Awaited<ReturnType<typeof newAccount>>;
let eegId: string;

describe('datasets in the dashboard', () => {
  it('makes the EEG sample from a button; its page shows it ready with rows, columns and class balance', async () => {
    acct = await newAccount(app.url, 'ds');
    const w = await open(app.url, acct.token);
    const { page } = w;
    await page.goto('/datasets');
    await page.getByText('No datasets yet').waitFor();
    await expectAccessible(page, 'datasets (empty)');

    await page.getByRole('button', { name: 'EEG sample' }).click();
    await page.waitForURL(/\/datasets\/ds_[a-z0-9]+$/);
    eegId = decodeURIComponent(page.url().split('/').pop()!);
    // Validating, then ready: the page looks again by itself.
    await page.locator('.ds-status .badge', { hasText: 'ready' }).waitFor({ timeout: 30_000 });
    await expect.poll(() => page.getByTestId('row-count').textContent()).toBe((6000).toLocaleString());
    const columns = page.locator('table.columns-table tbody tr');
    await expect.poll(() => columns.count()).toBe(7);
    await expect.poll(() => page.locator('table.columns-table tbody tr', { hasText: 'timestamp' }).locator('td').nth(1).textContent()).toBe('datetime');
    const bars = page.getByTestId('class-balance').locator('li');
    await expect.poll(() => bars.count()).toBe(3);
    for (const cls of ['relaxed', 'focused', 'drowsy']) expect(await bars.filter({ hasText: cls }).locator('.bar-fill').isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('link', { name: 'Train on this dataset' }).getAttribute('href')).toBe(`/jobs/new?dataset=${eegId}`);
    await expectAccessible(page, 'dataset detail');
    await screenshot(page, 'dataset-detail');

    const phone = await open(app.url, acct.token, 'phone');
    await phone.page.goto(`/datasets/${eegId}`);
    await phone.page.getByTestId('class-balance').waitFor();
    await expectAccessible(phone.page, 'dataset detail (phone)');
    await screenshot(phone.page, 'dataset-detail');
    expectCleanConsole(phone);

    // Listed, with its status and size.
    await page.goto('/datasets');
    const row = page.locator('table.datasets-table tbody tr').first();
    await row.waitFor();
    expect(await row.locator('.badge').textContent()).toBe('ready');
    expect(await row.locator('td.num').textContent()).toBe(`${(6000).toLocaleString()} rows`);
    expectCleanConsole(w);
  });

  it('shows an image dataset as thumbnails, each image loaded from its signed URL', async () => {
    const w = await open(app.url, acct.token);
    const { page } = w;
    await page.goto('/datasets');
    await page.getByRole('button', { name: 'Images sample' }).click();
    await page.waitForURL(/\/datasets\/ds_[a-z0-9]+$/);
    await page.locator('.ds-status .badge', { hasText: 'ready' }).waitFor({ timeout: 30_000 });
    const thumbs = page.getByTestId('thumbnails').locator('img');
    await expect.poll(() => thumbs.count()).toBeGreaterThan(0);
    // Decoded pictures, not broken-image icons: every thumbnail has pixels and a name.
    await expect
      .poll(() =>
        thumbs.evaluateAll((imgs) =>
          imgs.every(
            (i) => (i as unknown as { complete: boolean; naturalWidth: number }).complete && (i as unknown as { naturalWidth: number }).naturalWidth > 0,
          ),
        ),
      )
      .toBe(true);
    for (const alt of await thumbs.evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt') ?? ''))) expect(alt).toMatch(/\.(png|jpe?g|webp)$/);
    await expectAccessible(page, 'image dataset');
    await screenshot(page, 'dataset-images');
    expectCleanConsole(w);
  });

  it('a dropped CSV with a short row: the dataset is invalid and the page names the file and the line', async () => {
    const w = await open(app.url, acct.token);
    const { page } = w;
    await page.goto('/datasets');
    await page.getByTestId('dropzone').waitFor();
    // A real drop event carrying a file, as a drag from the desktop delivers it.
    const dt = await page.evaluateHandle(() => {
      // Runs in the page; the root tsconfig has no DOM types.
      const g = globalThis as any;
      const d = new g.DataTransfer();
      d.items.add(new g.File(['a,b,label\n1,2,x\n3\n'], 'short-row.csv', { type: 'text/csv' }));
      return d;
    });
    await page.dispatchEvent('[data-testid=dropzone]', 'dragenter', { dataTransfer: dt });
    await page.dispatchEvent('[data-testid=dropzone]', 'drop', { dataTransfer: dt });
    await expect.poll(() => progressOf(page, 'short-row.csv')).toBe(100);
    await page.getByText('1 of 1 file uploaded').waitFor();
    // The kind and the name are guessed from the file; the header offers the columns.
    expect(await page.getByLabel('Kind').inputValue()).toBe('tabular-csv');
    expect(await page.getByLabel('Name').inputValue()).toBe('short-row');
    await page.getByText('Columns in short-row.csv: a, b, label.').waitFor();
    await page.getByLabel('Label column').fill('label');
    await expectAccessible(page, 'new dataset form');
    // A name already taken: the server's 409 shows at the name field, and the uploads stay.
    const taken = (await client(app.url).get(`/v1/datasets/${eegId}`, acct.token)).body.name as string;
    await page.getByLabel('Name').fill(taken);
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.locator('#ds-name-error', { hasText: `you already have a dataset named "${taken}"` }).waitFor();
    expect(await page.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('alert').filter({ hasText: 'DATASET_NAME_EXISTS' }).waitFor();
    await page.getByLabel('Name').fill('short-row');
    await page.getByRole('button', { name: 'Create dataset' }).click();

    await page.waitForURL(/\/datasets\/ds_[a-z0-9]+$/);
    await page.locator('.ds-status .badge', { hasText: 'invalid' }).waitFor({ timeout: 30_000 });
    const problem = page.getByTestId('problem').filter({ hasText: 'expected 3 fields, got 1' });
    await problem.waitFor();
    expect(await problem.locator('.problem-file').textContent()).toBe('short-row.csv');
    expect(await problem.locator('.problem-line').textContent()).toBe('3');
    expect(await problem.locator('.problem-message').textContent()).toBe('expected 3 fields, got 1');
    await expectAccessible(page, 'invalid dataset');
    await screenshot(page, 'dataset-invalid');
    expect(await page.getByRole('link', { name: 'Train on this dataset' }).count()).toBe(0);

    // Deleted after a confirmation in a modal dialog; the list no longer has it.
    const id = decodeURIComponent(page.url().split('/').pop()!);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete short-row?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete dataset' }).click();
    await page.waitForURL(/\/datasets$/);
    await page.locator('table.datasets-table').waitFor();
    expect(await page.getByRole('link', { name: 'short-row' }).count()).toBe(0);
    expect((await client(app.url).get(`/v1/datasets/${id}`, acct.token)).status).toBe(404);
    expectCleanConsole(w, [/Failed to load resource: the server responded with a status of 409/]);
  });

  it('uploads a small CSV (multipart) and a large one (pre-signed PUT) with progress to 100 %, then a ready dataset of both', async () => {
    const w = await open(app.url, acct.token);
    const { page } = w;
    await page.goto('/datasets');
    const small = 'x,y,label\n' + Array.from({ length: 50 }, (_, i) => `${i},${i * 2},${i % 2 ? 'odd' : 'even'}`).join('\n') + '\n';
    // Past the 8 MB threshold: POST /v1/uploads, PUT to the signed URL, complete with the sha256.
    const line = '1234567,7654321,odd\n';
    const big = 'x,y,label\n' + line.repeat(Math.ceil((9 * 1024 * 1024) / line.length));
    await page.getByLabel('Choose files to upload').setInputFiles([
      { name: 'small.csv', mimeType: 'text/csv', buffer: Buffer.from(small) },
      { name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.from(big) },
    ]);
    await expect.poll(() => progressOf(page, 'small.csv')).toBe(100);
    await expect.poll(() => progressOf(page, 'big.csv'), { timeout: 60_000 }).toBe(100);
    await page.getByText('2 of 2 files uploaded').waitFor({ timeout: 60_000 });
    // The large file went through the pre-signed flow: the API records its source.
    const files = (await client(app.url).get('/v1/files?limit=10', acct.token)).body.data as { filename: string; source: string }[];
    expect(files.find((f) => f.filename === 'big.csv')?.source).toBe('presigned');
    expect(files.find((f) => f.filename === 'small.csv')?.source).toBe('upload');
    await screenshot(page, 'datasets-uploads');

    await page.getByLabel('Name').fill('two files');
    await page.getByLabel('Label column').fill('label');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.waitForURL(/\/datasets\/ds_[a-z0-9]+$/);
    await page.locator('.ds-status .badge', { hasText: 'ready' }).waitFor({ timeout: 60_000 });
    const rows = 50 + Math.ceil((9 * 1024 * 1024) / line.length);
    await expect.poll(() => page.getByTestId('row-count').textContent()).toBe(rows.toLocaleString());

    await page.goto('/datasets');
    await page.getByRole('link', { name: 'two files' }).waitFor();
    await expectAccessible(page, 'datasets list');
    await screenshot(page, 'datasets');
    const phone = await open(app.url, acct.token, 'phone');
    await phone.page.goto('/datasets');
    await phone.page.getByRole('link', { name: 'two files' }).waitFor();
    await expectAccessible(phone.page, 'datasets list (phone)');
    await screenshot(phone.page, 'datasets');
    expectCleanConsole(phone);
    expectCleanConsole(w);
  });
});

describe('the new-job form', () => {
  it('is generated from the schema: defaults shown, out-of-range values refused at the field; a start sends the form’s hyperparameters', async () => {
    const w = await open(app.url, acct.token);
    const { page } = w;
    await page.goto(`/datasets/${eegId}`);
    await page.getByRole('link', { name: 'Train on this dataset' }).click();
    await page.waitForURL(new RegExp(`/jobs/new\\?dataset=${eegId}$`));
    await page.locator('input[type=radio][name=trainer][value=sequence-classifier]').check();

    const epochs = page.getByLabel('Epochs', { exact: true });
    await expect.poll(() => epochs.inputValue()).toBe('100');
    expect(await epochs.getAttribute('min')).toBe('1');
    expect(await epochs.getAttribute('max')).toBe('500');
    expect(await page.getByLabel('Batch size').inputValue()).toBe('32');
    expect(await page.getByLabel('Model type').inputValue()).toBe('"auto"');
    expect(await page.getByLabel('Use separable').isChecked()).toBe(true);
    // integer | "auto" is a select with a number beside it once a number is chosen.
    expect(await page.getByLabel('Sequence length', { exact: true }).inputValue()).toBe('"auto"');
    // The training dataset came from the link; the price follows the schema's pricing rule.
    expect(await page.getByLabel('Training dataset').inputValue()).toBe(eegId);
    await expect.poll(() => page.getByTestId('price').textContent()).toMatch(/This job costs 11 credits.*Your balance: 100 credits available/);
    await expectAccessible(page, 'new job');
    await screenshot(page, 'new-job');

    for (const [value, message] of [
      ['0', 'Must be at least 1.'],
      ['100000', 'Must be at most 500.'],
      ['2.5', 'Enter a whole number.'],
    ] as const) {
      await epochs.fill(value);
      await expect.poll(() => page.getByTestId('error-epochs').textContent()).toBe(message);
      expect(await epochs.getAttribute('aria-invalid')).toBe('true');
    }
    await page.getByRole('button', { name: /Start training/ }).click();
    await page.getByText('Fix the fields marked above before starting.').waitFor();
    expect(page.url()).toMatch(/\/jobs\/new\?/);

    // A nested object (validation: {folds}) is a fieldset, switched on and checked like the rest.
    await page.getByLabel('Use validation').check();
    await expect.poll(() => page.getByTestId('error-validation.folds').textContent()).toBe('Required.');
    await page.getByLabel('Folds').fill('1');
    await expect.poll(() => page.getByTestId('error-validation.folds').textContent()).toBe('Must be at least 2.');
    await page.getByLabel('Use validation').uncheck();

    await page.getByLabel('Sequence length', { exact: true }).selectOption({ label: 'a whole number…' });
    await page.getByLabel('Sequence length: value').fill('16');
    await epochs.fill('2');
    await page.getByLabel('Model type').selectOption({ label: 'minirocket' });
    await page.getByLabel('Minirocket features').fill('168');
    await expect.poll(() => page.getByTestId('price').textContent()).toMatch(/This job costs 2 credits/);
    await page.getByLabel('Model name').fill('eeg-from-the-form');
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/v1/jobs');
    await page.getByRole('button', { name: /Start training/ }).click();
    expect((await sent).headers()['idempotency-key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await page.waitForURL(/\/jobs\/job_[a-z0-9]+$/);
    const jobId = decodeURIComponent(page.url().split('/').pop()!);
    jobs.push({ id: jobId, token: acct.token });

    const job = (await client(app.url).get(`/v1/jobs/${jobId}`, acct.token)).body;
    expect(job.trainer).toBe('sequence-classifier');
    expect(job.dataset_id).toBe(eegId);
    expect(job.output.model_name).toBe('eeg-from-the-form');
    expect(job.cost).toBe(2);
    expect(job.hyperparameters).toMatchObject({
      epochs: 2,
      model_type: 'minirocket',
      minirocket_features: 168,
      sequence_length: 16,
      batch_size: 32,
      use_separable: true,
    });
    expect(job.hyperparameters.validation).toBeUndefined();
    expectCleanConsole(w);

    const phone = await open(app.url, acct.token, 'phone');
    await phone.page.goto(`/jobs/new?dataset=${eegId}&trainer=sequence-classifier`);
    await phone.page.getByLabel('Epochs', { exact: true }).waitFor();
    await expectAccessible(phone.page, 'new job (phone)');
    await screenshot(phone.page, 'new-job');
    expectCleanConsole(phone);
  });

  it('says what the job costs against the balance before it is sent, and explains the 402 in words', async () => {
    const poor = await newAccount(poorApp.url, 'poor');
    const api = client(poorApp.url);
    const ds = await api.post('/v1/datasets/samples', { kind: 'eeg', size: 200 }, poor.token);
    expect(ds.status).toBe(201);
    await waitForReadyDataset(api, poor.token, ds.body.id, 30_000);

    const w = await open(poorApp.url, poor.token);
    const { page } = w;
    await page.goto(`/jobs/new?dataset=${ds.body.id}&trainer=sequence-classifier`);
    const short = page.getByTestId('short-of-credits');
    await short.waitFor();
    expect(await short.textContent()).toBe('This job costs 11 credits, you have 1 available: ask an admin for credits or buy some on the Credits page.');
    expect(await short.getByRole('link', { name: 'Credits page' }).getAttribute('href')).toBe('/credits');
    await expectAccessible(page, 'new job (short of credits)');

    await page.getByRole('button', { name: /Start training/ }).click();
    const refused = page.getByTestId('insufficient');
    await refused.waitFor();
    expect(await refused.textContent()).toBe('This job costs 11 credits, you have 1 available: ask an admin for credits or buy some on the Credits page.');
    // The API's own words too, with its code.
    await page.getByRole('alert').filter({ hasText: 'INSUFFICIENT_CREDITS' }).waitFor();
    expect(page.url()).toMatch(/\/jobs\/new\?/);
    await waitFor(
      async () => (await api.get('/v1/jobs', poor.token)).body.data.length,
      (n) => n === 0,
      { message: 'no job for the poor account' },
    );
    await screenshot(page, 'new-job-short');
    expectCleanConsole(w, [/Failed to load resource: the server responded with a status of 402/]);
  });
});

describe('the datasets pages under load and failure', () => {
  /** A new account with a ready EEG sample: its id. */
  async function eegOf(token: string): Promise<string> {
    const api = client(app.url);
    const ds = await api.post('/v1/datasets/samples', { kind: 'eeg', size: 200 }, token);
    expect(ds.status).toBe(201);
    return (await waitForReadyDataset(api, token, ds.body.id, 30_000)).id;
  }
  const setStatus = (id: string, status: string) => app.testDb.db.query('update datasets set status = $2 where id = $1', [id, status]);

  it('a file name that cannot be looked up is asked once per change of the dataset, not in a loop', async () => {
    const acct2 = await newAccount(app.url, 'dsfail');
    const id = await eegOf(acct2.token);
    const fileIds = (await client(app.url).get(`/v1/datasets/${id}`, acct2.token)).body.file_ids as string[];
    expect(fileIds.length).toBeGreaterThan(0);
    // Shown as validating, the page looks at the dataset again every second: those looks are the clock here.
    await setStatus(id, 'processing');
    const w = await open(app.url, acct2.token);
    let fileLooks = 0;
    let datasetLooks = 0;
    // Every file lookup fails, as a network blip would make it.
    await w.page.route('**/v1/files/*', (r) => (fileLooks++, r.abort('failed')));
    w.page.on('request', (r) => void (r.url().endsWith(`/v1/datasets/${id}`) && datasetLooks++));
    await w.page.goto(`/datasets/${id}`);
    await expect.poll(() => datasetLooks, { timeout: 15_000 }).toBeGreaterThanOrEqual(4);
    // At most one lookup per file per look at the dataset (it used to be some 40 a second).
    expect(fileLooks).toBeGreaterThan(0);
    expect(fileLooks).toBeLessThanOrEqual(fileIds.length * (datasetLooks + 1));
    await setStatus(id, 'ready');
    await w.context.close();
  });

  it('"Show more datasets" rows stay while a validating dataset refreshes the first page', async () => {
    const acct3 = await newAccount(app.url, 'dsmany');
    const id = await eegOf(acct3.token);
    // 60 older datasets: copies of the sample made in the database, a second apart.
    await app.testDb.db.query(
      `insert into datasets
         select (jsonb_populate_record(null::datasets, to_jsonb(d) || jsonb_build_object(
           'id', d.id || 'c' || g, 'name', d.name || '-' || g, 'created_at', d.created_at - make_interval(secs => g)))).*
         from datasets d, generate_series(1, 60) g where d.id = $1`,
      [id],
    );
    await setStatus(id, 'processing');
    const w = await open(app.url, acct3.token);
    let refreshes = 0;
    w.page.on('request', (r) => void (/\/v1\/datasets\?limit=50$/.test(r.url()) && refreshes++));
    const rows = w.page.locator('table.datasets-table tbody tr');
    await w.page.goto('/datasets');
    await expect.poll(() => rows.count()).toBe(50);
    await w.page.getByRole('button', { name: 'Show more datasets' }).click();
    await expect.poll(() => rows.count()).toBe(61);
    const seen = refreshes;
    // Two refreshes later (every 2 s while one on the first page validates): all 61 still listed.
    await expect.poll(() => refreshes, { timeout: 15_000 }).toBeGreaterThanOrEqual(seen + 2);
    expect(await rows.count()).toBe(61);
    expect(await w.page.getByRole('button', { name: 'Show more datasets' }).count()).toBe(0);
    await setStatus(id, 'ready');
    await w.context.close();
  });
});
