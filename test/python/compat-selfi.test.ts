import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { client, type TestApp } from '../helpers/app.js';
import { registerBaseModel, startPythonApp } from '../helpers/python-app.js';
import { HAVE_PYTHON } from '../helpers/python.js';

// Seed 003 end to end on the real packs: a Telegram user (through the bot's key) uploads ten
// selfies, trains a LoRA on the tiny random Stable Diffusion (CPU, 64 px, a few steps), follows
// it over the WebSocket to `completed` with a real PNG sample as the preview, and generates an
// image with it for one star. The facade's edges are test/db/compat-selfi.test.ts.
const RES = 64;
let t: TestApp;
let base: string;
let key: string;

const headers = () => ({ 'x-user-id': '90210', 'x-auth-token': key });
const as = (method: string, p: string, json?: unknown) => client(base).call(method, p, { headers: headers(), ...(json !== undefined ? { json } : {}) });
const png = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

describe.skipIf(!HAVE_PYTHON)('selfi facade on the real lora-diffusion and diffusion-generate', () => {
  beforeAll(async () => {
    let api, admin, modelDir;
    ({ t, api, admin, modelDir } = await startPythonApp('tiny-stable-diffusion', {
      TRAINYARD_COMPAT: 'selfi:0',
      COMPAT_SELFI_BASE_MODEL: 'tiny-sd',
      COMPAT_SELFI_SAMPLES: '2',
      COMPAT_SELFI_TRAIN_HYPERPARAMETERS: JSON.stringify({ resolution: RES, rank: 4, alpha: 4, preview_steps: 2, gradient_checkpointing: false }),
      COMPAT_SELFI_GENERATE_HYPERPARAMETERS: JSON.stringify({ steps: 2 }),
    }));
    await registerBaseModel(api, admin, 'tiny-sd', modelDir, 'stable-diffusion', ['lora-diffusion', 'diffusion-generate']);
    key = (await api.post('/v1/admin/bots', { name: 'selfi-bot', provider: 'telegram' }, admin)).body.api_key.secret;
    base = t.compatUrls.selfi!;
  }, 180_000);
  afterAll(async () => t?.close());

  it('upload → training/start → WebSocket progress … completed with a PNG preview → generate with the LoRA', async () => {
    const urls: string[] = [];
    for (let i = 0; i < 10; i++) {
      const img = await sharp({ create: { width: RES, height: RES, channels: 3, background: { r: 20 * i, g: 120, b: 255 - 20 * i } } })
        .png()
        .toBuffer();
      const form = new FormData();
      form.append('file', new Blob([img]), `selfie-${i}.png`);
      const r = await client(base).call('POST', '/upload', { headers: headers(), body: form });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      urls.push(r.body.url);
    }
    const start = await as('POST', '/training/start', {
      name: 'Me',
      triggerWord: 'sks',
      imageUrls: urls,
      instancePrompt: 'a photo of sks person',
      steps: 6,
      learningRate: 0.01,
    });
    expect(start.status, JSON.stringify(start.body)).toBe(200);
    expect(start.body).toMatchObject({ starsDeducted: 10, remainingStars: 990 });
    const id = start.body.modelId as string;

    const messages: any[] = [];
    const ws = new WebSocket(`${base.replace('http', 'ws')}/training/${id}/ws`, { headers: headers() });
    ws.on('message', (m) => messages.push(JSON.parse(String(m))));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1000);
    expect(messages.at(-1)).toMatchObject({ type: 'completed', data: { progress: 100, previewImageUrl: expect.any(String) } });
    expect(messages.slice(0, -1).every((m) => m.type === 'progress')).toBe(true);
    const preview = await png(messages.at(-1).data.previewImageUrl);
    expect(preview.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect([preview.readUInt32BE(16), preview.readUInt32BE(20)]).toEqual([RES, RES]);
    expect((await as('GET', '/loras/me')).body.loras).toEqual([expect.objectContaining({ id, status: 'COMPLETED', previewImageUrl: expect.any(String) })]);

    const g = await as('POST', '/generate', { prompt: 'a photo of sks person on a beach', loraId: id, seed: 5, baseModelId: 'tiny-sd' });
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    expect(g.body).toMatchObject({ starsUsed: 1, seed: 5 });
    expect((await png(g.body.imageUrl)).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect((await as('GET', '/stars/balance')).body).toEqual({ balance: 989, totalSpent: 11, totalBought: 0 });
  }, 300_000);
});
