/**
 * An image LoRA in the dashboard: lora-diffusion on the tiny random Stable Diffusion (real
 * diffusers and PEFT on the CPU) shows its sample images on the job page as they are
 * rendered, and the model page then generates an image. Needs the Python trainer environment
 * (test/helpers/python.ts); skipped, saying so, where it is absent, as the python tests are.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { client, TestApp } from '../helpers/app.js';
import { expectAccessible, expectCleanConsole, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { registerBaseModel, startPythonApp } from '../helpers/python-app.js';
import { HAVE_PYTHON } from '../helpers/python.js';
import { waitForReadyDataset } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let browser: Browser;
let u: { token: string; id: string };
let images: string;

const LORA = {
  trigger_word: 'sks',
  steps: 40,
  resolution: 64,
  rank: 4,
  alpha: 4,
  learning_rate: 0.05,
  checkpoint_every: 10,
  preview_steps: 4,
  gradient_checkpointing: false,
  seed: 1,
  sample_every: 10,
  sample_prompts: ['{trigger_word} on a beach'],
};

/** The rendered width of every image that matched (0 for one that did not load). */
const widths = (p: Page, selector: string) =>
  p.locator(selector).evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));

describe.skipIf(!HAVE_PYTHON)('a LoRA in the dashboard', () => {
  beforeAll(async () => {
    let admin: string;
    let modelDir: string;
    ({ t, api, admin, modelDir } = await startPythonApp('tiny-stable-diffusion'));
    await registerBaseModel(api, admin, 'tiny-sd', modelDir, 'stable-diffusion', ['lora-diffusion', 'diffusion-generate']);
    u = await api.user('painter');
    const d = await api.post('/v1/datasets/samples', { kind: 'images' }, u.token);
    images = (await waitForReadyDataset(api, u.token, d.body.id, 60_000)).id;
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows the sample images as they arrive, then generates an image from the model page', async () => {
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'lora-diffusion', dataset_id: images, base_model: 'tiny-sd', hyperparameters: LORA, output: { model_name: 'sks-lora' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const w = await openPage(browser, { baseURL: t.url, token: u.token });
    await w.page.goto(`/jobs/${r.body.id}`);
    await expect.poll(() => w.page.locator('.live-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('live');

    // Samples every 10 steps of 40 with one prompt: four, each a real 64 px image, shown as they come.
    await expect.poll(() => w.page.locator('.samples img').count(), { timeout: 240_000 }).toBeGreaterThanOrEqual(1);
    await expect.poll(() => w.page.getByTestId('job-status').textContent(), { timeout: 240_000 }).toBe('succeeded');
    await expect.poll(() => w.page.locator('.samples img').count()).toBe(4);
    await expect.poll(() => widths(w.page, '.samples img')).toEqual([64, 64, 64, 64]);
    expect(await w.page.locator('.samples img').first().getAttribute('alt')).toMatch(/^Sample 1 at step 10: sks on a beach$/);
    // One loss report a step, drawn as they came.
    await expect
      .poll(async () => Number(await w.page.locator('figure.chart').filter({ hasText: 'Loss' }).getAttribute('data-points')))
      .toBeGreaterThanOrEqual(LORA.steps);
    await expectAccessible(w.page, 'lora job');
    await screenshot(w.page, 'lora-job');

    // The model page: no prediction playground, an image generation panel instead.
    await w.page.getByRole('link', { name: /sks-lora version 1/ }).click();
    await w.page.waitForURL(/\/models\/sks-lora$/);
    await w.page.getByRole('heading', { name: 'Generate an image' }).waitFor();
    expect(await w.page.getByRole('button', { name: 'Predict' }).count()).toBe(0);
    await expect.poll(() => w.page.getByLabel('Prompt').inputValue()).toBe('a photo of sks');
    await w.page.getByLabel('Steps').fill('4');
    await w.page.getByLabel('Seed (optional)').fill('7');
    // The first look at the generation fails (a network blip): the panel looks again, and gets there.
    let blip = false;
    await w.page.route(/\/v1\/generations\/[^/?]+$/, (r) => (r.request().method() === 'GET' && !blip ? ((blip = true), r.abort('failed')) : r.continue()));
    await w.page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => w.page.getByTestId('generation').getAttribute('data-status'), { timeout: 120_000 }).toBe('succeeded');
    expect(blip).toBe(true);
    await expect.poll(() => widths(w.page, '.generated img')).toEqual([64]);
    expect(await w.page.locator('.generated figcaption').textContent()).toMatch(/^Seed 7 · 4 steps/);
    await expectAccessible(w.page, 'lora model');
    await screenshot(w.page, 'lora-model');
    expectCleanConsole(w, [/Failed to load resource: net::ERR_FAILED/]);
    await w.context.close();
  }, 600_000);
});
