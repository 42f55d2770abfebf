import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let token: string;
let adminToken: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-catalog-'));
  // A deployment's catalog file: override one trainer's price, add a base model, drop another.
  await writeFile(
    path.join(dataDir, 'catalog.json'),
    JSON.stringify({
      trainers: [{ id: 'lora-diffusion', pricing: { type: 'fixed', credits: 7 } }],
      base_models: [
        {
          id: 'tiny-sd',
          name: 'Tiny SD',
          description: 'test model',
          architecture: 'stable-diffusion',
          trainers: ['lora-diffusion'],
          source: 'models/tiny-sd',
          supported_lora_params: { min_rank: 1, max_rank: 8, default_alpha: 4 },
        },
        { id: 'deberta-v3-base', disabled: true },
      ],
    }),
  );
  await mkdir(path.join(dataDir, 'models', 'tiny-sd'), { recursive: true });
  t = await startTestApp({ dataDir, env: { TRAINYARD_ADMIN_USERNAME: 'root', TRAINYARD_ADMIN_PASSWORD: 'admin password 123' } });
  api = client(t.url);
  token = (await api.user('alice')).token;
  adminToken = (await api.post('/v1/auth/login', { username: 'root', password: 'admin password 123' })).body.access_token;
});
afterAll(async () => {
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('trainers', () => {
  it('lists every trainer with hyperparameter schema, dataset constraints, pricing and availability', async () => {
    const r = await api.get('/v1/trainers', token);
    expect(r.status).toBe(200);
    const ids = r.body.data.map((x: { id: string }) => x.id);
    expect(ids).toEqual(
      expect.arrayContaining(['linear-classifier', 'sequence-classifier', 'text-classifier', 'lora-diffusion', 'lora-causal-lm', 'hf-sequence-classifier']),
    );
    const seq = r.body.data.find((x: { id: string }) => x.id === 'sequence-classifier');
    expect(seq.hyperparameters.properties.epochs).toMatchObject({ minimum: 1, maximum: 500, default: 100 });
    expect(seq.hyperparameters.properties.model_type.enum).toEqual(['auto', 'minirocket', 'original', 'enhanced_cnn_lstm', 'resnet_lstm', 'transformer']);
    expect(seq.hyperparameters.additionalProperties).toBe(false);
    const lora = r.body.data.find((x: { id: string }) => x.id === 'lora-diffusion');
    expect(lora.dataset).toMatchObject({ kinds: ['image-set'], min_images: 10, max_images: 30 });
    expect(lora.pricing).toEqual({ type: 'fixed', credits: 7 });
    // Python packs are not installed in this test: unavailable, with the reason.
    expect(lora.available).toBe(false);
    expect(lora.unavailable_reason).toMatch(/python/i);
    for (const tr of r.body.data) expect(tr.available || typeof tr.unavailable_reason === 'string').toBe(true);
  });

  it('shows one trainer, 404 for an unknown one, 401 without credentials', async () => {
    expect((await api.get('/v1/trainers/linear-classifier', token)).body.title).toBe('Linear classifier');
    const missing = await api.get('/v1/trainers/nope', token);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('TRAINER_NOT_FOUND');
    expect((await api.get('/v1/trainers')).status).toBe(401);
  });
});

describe('base models', () => {
  it('merges the catalog file: added, overridden and disabled entries; local availability', async () => {
    const r = await api.get('/v1/base-models', token);
    const ids = r.body.data.map((m: { id: string }) => m.id);
    expect(ids).toContain('tiny-sd');
    expect(ids).not.toContain('deberta-v3-base');
    const tiny = await api.get('/v1/base-models/tiny-sd', token);
    expect(tiny.body).toMatchObject({
      architecture: 'stable-diffusion',
      available: true,
      supported_lora_params: { min_rank: 1, max_rank: 8, default_alpha: 4 },
      // Only admins see where the files are (issue #10); test/db/input-policy.test.ts checks that side.
      local_path: null,
    });
    const sd = await api.get('/v1/base-models/stable-diffusion-v1-5', token);
    expect(sd.body.available).toBe(false);
    expect((await api.get('/v1/base-models/deberta-v3-base', token)).status).toBe(404);
  });

  it('filters by trainer', async () => {
    const r = await api.get('/v1/base-models?trainer=lora-causal-lm', token);
    expect(r.body.data.map((m: { id: string }) => m.id)).toEqual(['llama-3.2-1b']);
  });

  it('reloads the catalog file on an admin request only', async () => {
    await writeFile(
      path.join(dataDir, 'catalog.json'),
      JSON.stringify({
        base_models: [{ id: 'tiny-sd-2', name: 'Tiny 2', description: '', architecture: 'stable-diffusion', trainers: ['lora-diffusion'], source: 'models/x' }],
      }),
    );
    expect((await api.post('/v1/admin/catalog/reload', {}, token)).status).toBe(403);
    const r = await api.post('/v1/admin/catalog/reload', {}, adminToken);
    expect(r.status).toBe(200);
    const ids = (await api.get('/v1/base-models', token)).body.data.map((m: { id: string }) => m.id);
    expect(ids).toContain('tiny-sd-2');
    expect(ids).toContain('deberta-v3-base');
  });
});
