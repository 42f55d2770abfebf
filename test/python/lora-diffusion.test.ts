import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { client, TestApp } from '../helpers/app.js';
import { readSse } from '../helpers/jobs.js';
import { downloadVersion, registerBaseModel, startPythonApp } from '../helpers/python-app.js';
import { firstAndLast, HAVE_PYTHON, pythonSnippet } from '../helpers/python.js';
import { waitForJob, waitForJobStep } from '../helpers/wait.js';

// The walkthrough a new user follows (README): register a local base model, train a LoRA on
// the sample image set, follow it live, generate an image with the result. Real diffusers and
// PEFT on a tiny random Stable Diffusion, on the CPU.
let t: TestApp;
let api: ReturnType<typeof client>;
let admin: string;
let modelDir: string;
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
};

describe.skipIf(!HAVE_PYTHON)('lora-diffusion and image generation', () => {
  beforeAll(async () => {
    ({ t, api, admin, modelDir } = await startPythonApp('tiny-stable-diffusion'));
    u = await api.user('painter');
    const d = await api.post('/v1/datasets/samples', { kind: 'images' }, u.token);
    images = d.body.id;
  }, 180_000);
  afterAll(async () => t?.close());

  it('an admin registers the local model folder; wrong paths, duplicates and non-admins are refused', async () => {
    expect(
      (await api.post('/v1/admin/base-models', { id: 'tiny-sd', architecture: 'stable-diffusion', trainers: ['lora-diffusion'], path: modelDir }, u.token))
        .status,
    ).toBe(403);
    const missing = await api.post(
      '/v1/admin/base-models',
      { id: 'tiny-sd', architecture: 'stable-diffusion', trainers: ['lora-diffusion'], path: `${modelDir}-nope` },
      admin,
    );
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'BASE_MODEL_PATH_MISSING' } } });
    const wrongKind = await api.post(
      '/v1/admin/base-models',
      { id: 'tiny-sd', architecture: 'stable-diffusion', trainers: ['lora-diffusion'], path: `${modelDir}/unet` },
      admin,
    );
    expect(wrongKind).toMatchObject({ status: 400, body: { error: { code: 'BASE_MODEL_PATH_INVALID' } } });
    await registerBaseModel(api, admin, 'tiny-sd', modelDir, 'stable-diffusion', ['lora-diffusion', 'diffusion-generate']);
    expect(
      (await api.post('/v1/admin/base-models', { id: 'tiny-sd', architecture: 'stable-diffusion', trainers: ['lora-diffusion'], path: modelDir }, admin))
        .status,
    ).toBe(409);
    const listed = (await api.get('/v1/base-models?trainer=lora-diffusion', u.token)).body.data.find((m: any) => m.id === 'tiny-sd');
    // Registering copies the folder into the store (models/tiny-sd/), where workers fetch it from.
    // An ordinary user never sees a server path (issue #10); the admin who registered it does.
    expect(listed).toMatchObject({ available: true, registered: true, local_path: null, source: 'file://<server path>' });
    const asAdmin = (await api.get('/v1/base-models?trainer=lora-diffusion', admin)).body.data.find((m: any) => m.id === 'tiny-sd');
    expect(asAdmin).toMatchObject({ available: true, registered: true, local_path: null, source: expect.stringMatching(/^file:\/\/\/.*\/models\/tiny-sd\/$/) });
    const trainers = (await api.get('/v1/trainers', u.token)).body.data;
    for (const id of ['lora-diffusion', 'diffusion-generate'])
      expect(trainers.find((x: any) => x.id === id)).toMatchObject({ available: true, unavailable_reason: null });
  });

  it('trains a LoRA: live progress, the loss goes down, samples, a diffusers LoRA and a preview in the registry, credits captured', async () => {
    const before = (await api.get('/v1/credits/balance', u.token)).body;
    // Samples every 20 steps with two prompts (issue #12): 4 renders of preview_steps at 64 px.
    const hp = { ...LORA, sample_every: 20, sample_prompts: ['{trigger_word} on a beach', 'a drawing of {trigger_word}'] };
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'lora-diffusion', dataset_id: images, base_model: 'tiny-sd', hyperparameters: hp, output: { model_name: 'sks-lora' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.cost).toBe(10); // seed 000's first tier: up to 600 steps
    const events = await readSse(
      await fetch(`${t.url}/v1/jobs/${r.body.id}/events`, { headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' } }),
    );
    expect(events.filter((e) => e.event === 'status').map((e) => e.data.data.status)).toEqual(['queued', 'running', 'succeeded']);
    const steps = events.filter((e) => e.event === 'progress').map((e) => e.data.data.step as number);
    expect(steps.at(-1)).toBe(LORA.steps);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(events.filter((e) => e.event === 'checkpoint').length).toBeGreaterThanOrEqual(3);
    expect(events.filter((e) => e.event === 'sample').map((e) => [e.data.data.step, e.data.data.prompt])).toEqual([
      [20, 'sks on a beach'],
      [20, 'a drawing of sks'],
      [40, 'sks on a beach'],
      [40, 'a drawing of sks'],
    ]);
    const samples = (await api.get(`/v1/jobs/${r.body.id}/samples`, u.token)).body.data;
    expect(samples.map((x: any) => x.n)).toEqual([1, 2, 3, 4]);
    for (const x of samples) {
      // The stable URL redirects the owner to the signed one: a real PNG at the training resolution.
      const png = Buffer.from(await (await fetch(`${t.url}${x.image_url}`, { headers: { authorization: `Bearer ${u.token}` } })).arrayBuffer());
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([LORA.resolution, LORA.resolution]);
      expect(png.length).toBe(x.bytes);
    }
    expect((await api.get(`/v1/jobs/${r.body.id}`, u.token)).body.preview_image_url).toBe(samples[3].image_url);
    expect((await api.get('/v1/models/sks-lora/versions/1/artifacts/preview.png', u.token)).body.sha256).toBe(samples[3].sha256);

    const loss = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics.loss.map((p: any) => p.value as number);
    expect(loss.length).toBe(LORA.steps);
    const { first, last } = firstAndLast(loss);
    expect(last).toBeLessThan(first * 0.8);

    const v = (await api.get('/v1/models/sks-lora/versions/1', u.token)).body;
    expect(v.artifacts.map((a: any) => a.name).sort()).toEqual(expect.arrayContaining(['README.md', 'preview.png', 'pytorch_lora_weights.safetensors']));
    expect(v).toMatchObject({ base_model: 'tiny-sd' });
    expect(v.metrics.first_loss).toBeGreaterThan(v.metrics.loss);
    expect((await api.get('/v1/models/sks-lora', u.token)).body.trigger_word).toBe('sks');

    // What a user does with it: diffusers loads the LoRA into the base pipeline.
    const dir = await downloadVersion(api, u.token, 'sks-lora', 1);
    const out = await pythonSnippet(
      `import sys, json
from diffusers import StableDiffusionPipeline
from PIL import Image
pipe = StableDiffusionPipeline.from_pretrained(sys.argv[1])
pipe.load_lora_weights(sys.argv[2], weight_name="pytorch_lora_weights.safetensors")
n = sum(1 for k, _ in pipe.unet.named_parameters() if "lora" in k)
im = Image.open(sys.argv[2] + "/preview.png")
print(json.dumps({"adapters": pipe.get_list_adapters(), "lora_params": n, "preview": [im.format, im.size[0]]}))`,
      [modelDir, dir],
    );
    const loaded = JSON.parse(out.trim().split('\n').pop()!);
    expect(loaded.lora_params).toBeGreaterThan(0);
    expect(Object.keys(loaded.adapters)).toContain('unet');
    expect(loaded.preview[0]).toBe('PNG');

    const after = (await api.get('/v1/credits/balance', u.token)).body;
    expect(after.balance).toBe(before.balance - 10);
    expect(after.held).toBe(0);
  }, 300_000);

  it('generates images with the LoRA: a PNG at a signed URL, the seed reported, same seed same image, credits and popularity', async () => {
    const popularity = (await api.get('/v1/models/sks-lora', u.token)).body.popularity as number;
    const balance = (await api.get('/v1/credits/balance', u.token)).body.balance as number;
    const gen = async (body: Record<string, unknown>) => {
      const r = await api.post('/v1/generations', { model: 'sks-lora', prompt: 'a photo of sks on a beach', steps: 4, ...body }, u.token);
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ status: 'queued', model: { name: 'sks-lora', version: 1 }, base_model: 'tiny-sd', image_url: null, cost: 1 });
      await waitForJob(api, u.token, r.body.id, undefined, 120_000);
      return (await api.get(`/v1/generations/${r.body.id}`, u.token)).body;
    };
    const a = await gen({ seed: 7 });
    expect(a).toMatchObject({ status: 'succeeded', seed: 7, steps: 4, image: { format: 'png' } });
    const png = Buffer.from(await (await fetch(a.image_url)).arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const b = await gen({ seed: 7 });
    expect(b.image.sha256).toBe(a.image.sha256);
    const c = await gen({});
    expect(Number.isInteger(c.seed)).toBe(true);
    const base = (await api.post('/v1/generations', { base_model: 'tiny-sd', prompt: 'a photo of sks on a beach', steps: 4, seed: 7 }, u.token)).body;
    await waitForJob(api, u.token, base.id, undefined, 120_000);
    const plain = (await api.get(`/v1/generations/${base.id}`, u.token)).body;
    expect(plain).toMatchObject({ status: 'succeeded', model: null, seed: 7 });
    expect(plain.image.sha256).not.toBe(a.image.sha256); // the LoRA changes the picture

    expect((await api.get('/v1/models/sks-lora', u.token)).body.popularity).toBe(popularity + 3);
    expect((await api.get('/v1/credits/balance', u.token)).body.balance).toBe(balance - 4);
    expect((await api.get('/v1/generations', u.token)).body.data.map((g: any) => g.id)).toEqual([base.id, c.id, b.id, a.id]);
  }, 300_000);

  it('refuses generations that cannot work, with stable codes, charging nothing', async () => {
    const other = await api.user('stranger');
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ prompt: 'x' }, 400, 'BASE_MODEL_REQUIRED'],
      [{ model: 'sks-lora', prompt: 'x', base_model: 'stable-diffusion-v1-5' }, 400, 'BASE_MODEL_MISMATCH'],
      [{ model: 'nope', prompt: 'x' }, 404, 'MODEL_NOT_FOUND'],
      [{ base_model: 'tiny-sd', prompt: '' }, 400, 'VALIDATION_ERROR'],
      [{ base_model: 'tiny-sd', prompt: 'x', width: 65 }, 400, 'VALIDATION_ERROR'],
    ];
    for (const [body, status, code] of cases) {
      const r = await api.post('/v1/generations', body, u.token);
      expect([r.status, r.body.error?.code]).toEqual([status, code]);
    }
    // A retried request with the same Idempotency-Key is the same generation, held once.
    const balance = (await api.get('/v1/credits/balance', u.token)).body.balance as number;
    const body = { base_model: 'tiny-sd', prompt: 'a retried request', steps: 2, seed: 3 };
    const once = await api.call('POST', '/v1/generations', { token: u.token, json: body, headers: { 'idempotency-key': 'gen-retry-1' } });
    const twice = await api.call('POST', '/v1/generations', { token: u.token, json: body, headers: { 'idempotency-key': 'gen-retry-1' } });
    expect([once.status, twice.status, twice.headers.get('idempotent-replayed')]).toEqual([202, 202, 'true']);
    expect(twice.body.id).toBe(once.body.id);
    const changed = await api.call('POST', '/v1/generations', { token: u.token, json: { ...body, seed: 4 }, headers: { 'idempotency-key': 'gen-retry-1' } });
    expect([changed.status, changed.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect((await api.get('/v1/credits/balance', u.token)).body.balance).toBe(balance - 1);
    await waitForJob(api, u.token, once.body.id, undefined, 120_000);

    // Someone else's private LoRA does not exist for you.
    expect((await api.post('/v1/generations', { model: 'sks-lora', prompt: 'x' }, other.token)).status).toBe(404);
    const g = (await api.get('/v1/generations', u.token)).body.data[0];
    expect((await api.get(`/v1/generations/${g.id}`, other.token)).status).toBe(404);
  });

  it('cancelling a running LoRA job gives the credits back; a drained job resumes from its checkpoint on the next worker', async () => {
    const before = (await api.get('/v1/credits/balance', u.token)).body.balance as number;
    const long = await api.post(
      '/v1/jobs',
      {
        trainer: 'lora-diffusion',
        dataset_id: images,
        base_model: 'tiny-sd',
        hyperparameters: { ...LORA, steps: 2000 },
        output: { model_name: 'cancelled-lora' },
      },
      u.token,
    );
    expect(long.body.cost).toBe(35);
    await waitForJobStep(api, u.token, long.body.id, 3, 180_000);
    expect((await api.post(`/v1/jobs/${long.body.id}/cancel`, {}, u.token)).status).toBe(200);
    expect(await waitForJob(api, u.token, long.body.id, undefined, 60_000)).toMatchObject({ status: 'cancelled' });
    expect((await api.get('/v1/credits/balance', u.token)).body).toMatchObject({ balance: before, held: 0 });

    const r = await api.post(
      '/v1/jobs',
      { trainer: 'lora-diffusion', dataset_id: images, base_model: 'tiny-sd', hyperparameters: { ...LORA, steps: 60 }, output: { model_name: 'resumed-lora' } },
      u.token,
    );
    await waitForJobStep(api, u.token, r.body.id, LORA.checkpoint_every + 2, 180_000);
    await t.rt.worker!.stop(0); // drain: SIGTERM, checkpoint, hand back without charge
    expect((await api.get(`/v1/jobs/${r.body.id}`, u.token)).body).toMatchObject({ status: 'queued', attempt: 1 });
    const { startWorker } = await import('../../src/runtime.js');
    const { pino } = await import('pino');
    const w = startWorker(t.rt.services.config, t.rt.services, pino({ level: 'silent' }));
    await w.start();
    try {
      const done = await waitForJob(api, u.token, r.body.id, undefined, 240_000);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
      const events = (await api.get(`/v1/jobs/${r.body.id}/events?limit=1000`, u.token)).body.data as Array<{ type: string; data: any }>;
      const secondStart = events.findIndex((e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === 2);
      const resumed = events.slice(secondStart).find((e) => e.type === 'log' && /^resumed from step \d+/.test(e.data.message));
      const from = Number(/step (\d+)/.exec(resumed!.data.message)![1]);
      expect(from).toBeGreaterThanOrEqual(LORA.checkpoint_every);
      const firstStep = events.slice(secondStart).find((e) => e.type === 'progress')!.data.step;
      expect(firstStep).toBeGreaterThan(from);
    } finally {
      await w.stop(0);
    }
  }, 400_000);
});
