import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { client, startTestApp, type TestApp } from './app.js';
import { waitFor } from './wait.js';
import { makeZip } from './zip.js';

// Seed 004 (the QLoRA orchestration service) on its own port without the Python environment:
// catalog.json defines the two video trainers as a stand-in
// (fixtures/trainers/video-lora-stand-in.mjs, which writes a PEFT adapter's files) taking zip
// archives, and two base models for them. Real training on video, with S3 as the store, is
// test/python/compat-qlora.test.ts. Shared by test/db/compat-qlora-*.test.ts.

const STAND_IN = path.resolve('test/fixtures/trainers/video-lora-stand-in.mjs');
export const PASSWORD = 'correct horse battery staple';

const hyperparameters = {
  type: 'object',
  additionalProperties: false,
  properties: {
    epochs: { type: 'integer', minimum: 1, maximum: 1000, default: 2 },
    learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.001 },
    batch_size: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    lora_rank: { type: 'integer', minimum: 1, maximum: 256, default: 8 },
    lora_alpha: { type: 'integer', minimum: 1, maximum: 512, default: 16 },
    lora_dropout: { type: 'number', minimum: 0, maximum: 0.9, default: 0.05 },
    target_modules: { type: 'array', items: { type: 'string' }, default: ['query', 'value'] },
    quantization: { enum: ['none', '4bit'], default: 'none' },
    num_frames: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
    frame_size: { type: 'integer', minimum: 8, maximum: 512, default: 32 },
    seed: { type: 'integer', minimum: 0, maximum: 100000, default: 0 },
  },
};
const trainer = (id: string, task: string) => ({
  id,
  title: id,
  task,
  description: `stand-in for ${id}`,
  dataset: { kinds: ['archive'] },
  hyperparameters,
  primary_metric: { name: 'eval_loss', goal: 'minimize' },
  resources: { gpus: 0, memory_mb: 256 },
  // One credit per epoch: 500 epochs is more than the signup grant (402).
  pricing: { type: 'linear', param: 'epochs', base: 0, per_unit: 1 },
  base_models: 'required',
  runtime: { type: 'command', entry: 'video-lora-stand-in', command: [process.execPath, STAND_IN] },
});
const baseModel = (id: string, t: string, type: string, arch: string) => ({
  id,
  name: `${id} (test)`,
  description: `a ${type} model`,
  architecture: arch,
  trainers: [t],
  source: `models/${id}`,
  version: '1.0',
  supported_lora_params: { min_rank: 2, max_rank: 32, default_alpha: 16 },
  model_type: type,
  base_architecture: arch,
});

/** A video-set archive: a manifest and two clips in one top-level folder. */
export const zip = () =>
  makeZip([
    { name: 'clips/manifest.csv', data: Buffer.from('file,label,caption\nred.mp4,red,a red square moves right\nblue.mp4,blue,a blue square moves down\n') },
    { name: 'clips/red.mp4', data: Buffer.alloc(2048, 1) },
    { name: 'clips/blue.mp4', data: Buffer.alloc(2048, 2) },
  ]);

export const put = (url: string, bytes: Buffer) => fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/zip' } });

export interface QloraApp {
  t: TestApp;
  /** The facade's own port. */
  api: () => ReturnType<typeof client>;
  store: () => TestApp['rt']['services']['store'];
  user: (name: string) => Promise<string>;
  initiate: (token: string, name?: string) => Promise<{ upload_url: string; dataset_id: string; s3_key: string; expires_at: string }>;
  readyDataset: (token: string, bytes?: Buffer) => Promise<string>;
  close: () => Promise<void>;
}

/** The server with the facade on its own port, the stand-in catalog, a 64 KiB upload limit, 100 signup credits. */
export async function startQlora(): Promise<QloraApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-qlora-'));
  await writeFile(
    path.join(dataDir, 'catalog.json'),
    JSON.stringify({
      trainers: [trainer('video-lora-classifier', 'video-classification'), trainer('video-lora-captioner', 'video-captioning')],
      base_models: [
        baseModel('test-videomae', 'video-lora-classifier', 'video_classification', 'videomae'),
        baseModel('test-idefics', 'video-lora-captioner', 'video_captioning', 'flamingo'),
      ],
    }),
  );
  for (const m of ['test-videomae', 'test-idefics']) {
    await mkdir(path.join(dataDir, 'models', m), { recursive: true });
    await writeFile(path.join(dataDir, 'models', m, 'config.json'), '{}');
  }
  const t = await startTestApp({
    dataDir,
    env: { TRAINYARD_COMPAT: 'qlora:0', WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '100', UPLOAD_MAX_BYTES: '64KiB', LOGIN_MAX_FAILURES: '3' },
  });
  const api = () => client(t.compatUrls.qlora!);

  async function user(name: string): Promise<string> {
    const s = await api().post('/v1/auth/signup', { username: name, email: `${name}@example.com`, password: PASSWORD });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    const l = await api().post('/v1/auth/login', { username: name, password: PASSWORD });
    expect(l.status).toBe(200);
    return l.body.access_token;
  }

  async function initiate(token: string, name = 'my video dataset.zip') {
    const r = await api().post(
      '/v1/datasets/upload-initiate',
      { file_name: name, file_type: 'application/zip', dataset_name: 'clips', dataset_description: 'three clips' },
      token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { upload_url: string; dataset_id: string; s3_key: string; expires_at: string };
  }

  async function readyDataset(token: string, bytes = zip()): Promise<string> {
    const up = await initiate(token, 'clips.zip');
    expect((await put(up.upload_url, bytes)).status).toBe(200);
    expect((await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, token)).status).toBe(200);
    await waitFor(
      () => api().get(`/v1/datasets/${up.dataset_id}`, token),
      (r) => r.body.status === 'ready',
      { message: 'the dataset to be ready' },
    );
    return up.dataset_id;
  }

  return {
    t,
    api,
    store: () => t.rt.services.store,
    user,
    initiate,
    readyDataset,
    close: async () => {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
