import { createServer, type Server } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type TestApp } from '../helpers/app.js';
import { registerBaseModel, startPythonApp } from '../helpers/python-app.js';
import { HAVE_PYTHON } from '../helpers/python.js';
import { waitFor } from '../helpers/wait.js';

// Seed 000 end to end on the real lora-diffusion trainer: images fetched from a local origin
// (127.0.0.2, admitted by IMPORT_ALLOW_ADDRESSES), real training on the tiny random Stable
// Diffusion at 32 px on the CPU, then the stable model URL downloads real diffusers LoRA
// weights. 600 real steps take 40-100 s here: COMPAT_LORA_CREDITS_STEP_PERCENT=5 trains the
// 600-step preset as 30 steps (still the first tier: 10 credits), and
// COMPAT_LORA_CREDITS_HYPERPARAMETERS keeps each step cheap.
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TINY = { resolution: 32, rank: 4, alpha: 4, preview_steps: 2, gradient_checkpointing: false, checkpoint_every: 10_000, learning_rate: 0.01, seed: 1 };

let t: TestApp;
let origin: Server;
let originUrl: string;

describe.skipIf(!HAVE_PYTHON)('lora-credits facade on the tiny Stable Diffusion', () => {
  beforeAll(async () => {
    const images = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 20 * i, g: 200 - 15 * i, b: 120 } } })
          .png()
          .toBuffer(),
      ),
    );
    origin = createServer((req, res) => {
      const m = /^\/photos\/(\d+)\.png$/.exec(req.url ?? '');
      if (m && images[Number(m[1])]) return res.writeHead(200, { 'content-type': 'image/png' }).end(images[Number(m[1])]);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.2', r));
    originUrl = `http://127.0.0.2:${(origin.address() as { port: number }).port}`;
    let admin: string;
    let modelDir: string;
    let api: ReturnType<typeof client>;
    ({ t, api, admin, modelDir } = await startPythonApp('tiny-stable-diffusion', {
      TRAINYARD_COMPAT: 'lora-credits:0',
      IMPORT_ALLOW_ADDRESSES: '127.0.0.2/32',
      COMPAT_LORA_CREDITS_BASE_MODEL: 'tiny-sd',
      COMPAT_LORA_CREDITS_RATE_OTHER: '1000/1m', // it polls the status
      COMPAT_LORA_CREDITS_STEP_PERCENT: '5',
      COMPAT_LORA_CREDITS_HYPERPARAMETERS: JSON.stringify(TINY),
    }));
    await registerBaseModel(api, admin, 'tiny-sd', modelDir, 'stable-diffusion', ['lora-diffusion']);
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await new Promise((r) => origin?.close(r));
  });

  it('upload → start (600 steps, 10 credits) → processing → completed → models → the LoRA weights behind trainedModelUrl', async () => {
    const u = await client(t.url).user('lora-painter');
    const api = client(t.compatUrls['lora-credits']!);
    const urls = Array.from({ length: 10 }, (_, i) => `${originUrl}/photos/${i}.png`);
    const up = await api.post('/api/train/upload', { images: urls.map((url) => ({ url, format: 'png' })), model_name: 'my-custom-model' }, u.token);
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toMatchObject({ status: 'uploaded', modelName: 'my-custom-model', imageCount: 10 });

    const r = await api.post('/api/train/start', { model_name: 'my-custom-model', steps: 600, training_images: urls }, u.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ status: 'queued', steps: 600, cost: 10, estimatedDuration: expect.stringMatching(/^\d+ minutes?$/) });
    expect((await client(t.url).get('/v1/credits/balance', u.token)).body.balance).toBe(990);

    const seen = new Set<string>();
    const done = await waitFor(
      async () => (await api.get(`/api/train/${r.body.trainingJobId}`, u.token)).body,
      (s) => {
        seen.add(`${s.trainingJob.status}/${s.queueStatus.state}`);
        return ['completed', 'failed'].includes(s.trainingJob.status);
      },
      { timeoutMs: 240_000, intervalMs: 250, message: 'the LoRA to train' },
    );
    expect(done.trainingJob, JSON.stringify(done)).toMatchObject({ status: 'completed', progress: 100, steps: 600, creditsUsed: 10, errorMessage: null });
    expect(seen).toContain('processing/active');
    expect(done.trainingJob.completedAt).toMatch(ISO);
    const job = (await client(t.url).get(`/v1/jobs/${r.body.jobId}`, u.token)).body;
    expect(job).toMatchObject({
      trainer: 'lora-diffusion',
      base_model: 'tiny-sd',
      status: 'succeeded',
      hyperparameters: { steps: 30 },
      progress: { step: 30, total_steps: 30 },
    });

    const models = (await api.get('/api/train/models', u.token)).body;
    expect(models).toMatchObject({ totalCount: 1, completedCount: 1, models: { inProgress: [], failed: [] } });
    expect(models.models.completed[0]).toMatchObject({
      id: r.body.trainingJobId,
      model_name: 'my-custom-model',
      trained_model_url: done.trainingJob.trainedModelUrl,
    });

    // The stable URL redirects to a fresh signed download: a safetensors file (u64 header length, JSON header naming LoRA tensors).
    const weights = Buffer.from(await (await fetch(done.trainingJob.trainedModelUrl)).arrayBuffer());
    const headerLength = Number(weights.readBigUInt64LE(0));
    const header = JSON.parse(weights.subarray(8, 8 + headerLength).toString('utf8'));
    expect(Object.keys(header).some((k) => k.includes('lora'))).toBe(true);
  }, 300_000);
});
