import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

// Seed 004 (the QLoRA orchestration service) on its own port with the filesystem store and
// without the Python environment: catalog.json defines the two video trainers as a stand-in
// (fixtures/trainers/video-lora-stand-in.mjs, which writes a PEFT adapter's files) taking zip
// archives, and two base models for them. Real training on video, with S3 as the store, is
// test/python/compat-qlora.test.ts.

const STAND_IN = path.resolve('test/fixtures/trainers/video-lora-stand-in.mjs');
const PASSWORD = 'correct horse battery staple';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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

const zip = () =>
  makeZip([
    { name: 'clips/manifest.csv', data: Buffer.from('file,label,caption\nred.mp4,red,a red square moves right\nblue.mp4,blue,a blue square moves down\n') },
    { name: 'clips/red.mp4', data: Buffer.alloc(2048, 1) },
    { name: 'clips/blue.mp4', data: Buffer.alloc(2048, 2) },
  ]);

let t: TestApp;
let base: string;
let dataDir: string;
let alice: string;
let bob: string;
const api = () => client(base);
const store = () => t.rt.services.store;

async function user(name: string): Promise<string> {
  const s = await api().post('/v1/auth/signup', { username: name, email: `${name}@example.com`, password: PASSWORD });
  expect(s.status, JSON.stringify(s.body)).toBe(201);
  const l = await api().post('/v1/auth/login', { username: name, password: PASSWORD });
  expect(l.status).toBe(200);
  return l.body.access_token;
}

const put = (url: string, bytes: Buffer) => fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/zip' } });

async function initiate(token: string, name = 'my video dataset.zip') {
  const r = await api().post(
    '/v1/datasets/upload-initiate',
    { file_name: name, file_type: 'application/zip', dataset_name: 'clips', dataset_description: 'three clips' },
    token,
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { upload_url: string; dataset_id: string; s3_key: string };
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

const training = (token: string, id: string) => api().get(`/v1/trainings/${id}`, token);
const ended = (token: string, id: string) =>
  waitFor(
    () => training(token, id),
    (r) => ['completed', 'failed'].includes(r.body.status),
    { timeoutMs: 20_000, message: `training ${id} to end` },
  );

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-qlora-'));
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
  t = await startTestApp({
    dataDir,
    env: { TRAINYARD_COMPAT: 'qlora:0', WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '100', UPLOAD_MAX_BYTES: '64KiB', LOGIN_MAX_FAILURES: '3' },
  });
  base = t.compatUrls.qlora!;
  alice = await user('alice');
  bob = await user('bob');
}, 60_000);
afterAll(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('qlora facade (seed 004) with a stand-in video trainer', () => {
  it('auth: signup 201 {message}, an existing user 400, login a bearer token, bad credentials 401, no token 401 — all as {detail}', async () => {
    const s = await api().post('/v1/auth/signup', { username: 'carol', email: 'carol@example.com', password: PASSWORD });
    expect(s).toMatchObject({ status: 201, body: { message: 'User registered successfully' } });
    const again = await api().post('/v1/auth/signup', { username: 'carol', email: 'other@example.com', password: PASSWORD });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ detail: expect.stringContaining('taken'), code: 'USERNAME_TAKEN' });
    expect((await api().post('/v1/auth/signup', { username: 'dave', email: 'not-an-email', password: PASSWORD })).status).toBe(400);
    const login = await api().post('/v1/auth/login', { username: 'carol', password: PASSWORD });
    expect(login.body).toMatchObject({ access_token: expect.any(String), token_type: 'bearer' });
    const bad = await api().post('/v1/auth/login', { username: 'carol', password: 'wrong password entirely' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ detail: expect.any(String), code: expect.any(String) });
    // Throttled: the third failure locks the account; then even the right password is 429.
    for (let i = 0; i < 2; i++) expect((await api().post('/v1/auth/login', { username: 'carol', password: 'wrong password entirely' })).status).toBe(401);
    const locked = await api().post('/v1/auth/login', { username: 'carol', password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ detail: expect.any(String), code: expect.any(String) });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    const bare = await api().get('/v1/datasets');
    expect(bare.status).toBe(401);
    expect(bare.body.detail).toEqual(expect.any(String));
    expect((await api().get('/v1/nothing-here', alice)).body).toEqual({ detail: expect.any(String), code: 'ROUTE_NOT_FOUND' });
    // The same paths under the main server's /compat/qlora.
    expect((await client(t.url).get('/compat/qlora/v1/models/allowed', alice)).status).toBe(200);
  });

  it('upload: initiate → processing with the seed’s key layout; PUT; complete (400 on a key mismatch) → ready, sizes and s3_path', async () => {
    const up = await initiate(alice);
    expect(up.dataset_id).toMatch(UUID);
    expect(up.s3_key).toBe(`datasets/${up.dataset_id}/my_video_dataset.zip`);
    const before = await api().get(`/v1/datasets/${up.dataset_id}`, alice);
    expect(before.body).toMatchObject({
      id: up.dataset_id,
      name: 'clips',
      description: 'three clips',
      status: 'processing',
      file_count: 0,
      total_size_bytes: 0,
    });
    expect(before.body.s3_path).toBe(store().uri(up.s3_key));
    const early = await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, alice);
    expect(early).toMatchObject({ status: 400, body: { code: 'UPLOAD_MISSING' } });

    const bytes = zip();
    expect((await put(up.upload_url, bytes)).status).toBe(200);
    const mismatch = await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: `datasets/${up.dataset_id}/other.zip` }, alice);
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toEqual({ detail: expect.stringContaining('s3_key'), code: 'S3_KEY_MISMATCH' });
    const unknown = await api().post('/v1/datasets/upload-complete', { dataset_id: 'no-such-dataset', s3_key: up.s3_key }, alice);
    expect(unknown).toMatchObject({ status: 404, body: { code: 'DATASET_NOT_FOUND' } });
    const done = await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, alice);
    expect(done.body).toEqual({ message: 'Dataset processing initiated', dataset_id: up.dataset_id });
    expect((await api().post('/v1/datasets/upload-complete', { dataset_id: up.dataset_id, s3_key: up.s3_key }, alice)).status).toBe(200);

    const ready = await waitFor(
      () => api().get(`/v1/datasets/${up.dataset_id}`, alice),
      (r) => r.body.status !== 'processing',
      { message: 'validation' },
    );
    expect(ready.body).toMatchObject({ status: 'ready', file_count: 1, total_size_bytes: bytes.length, error: null });
    expect(await store().stat(up.s3_key)).toMatchObject({ bytes: bytes.length });
    const list = await api().get('/v1/datasets', alice);
    expect(Array.isArray(list.body)).toBe(true);
    const listed = list.body.find((d: { id: string }) => d.id === up.dataset_id);
    expect(Object.keys(listed).sort()).toEqual(['created_at', 'description', 'id', 'name', 's3_path', 'status']);
    // The PUT URL closed at completion: the bytes behind the dataset cannot change.
    expect((await put(up.upload_url, zip())).status).toBe(409);
  });

  it('refusals: not a zip 400 and error; a broken zip ends in error; over the upload limit 413 and deleted; an unsafe name 400', async () => {
    // Text named .zip (the bytes decide), and text named as text (no archive): 400, the dataset in error.
    for (const [name, code] of [
      ['notes.zip', 'FILE_TYPE_MISMATCH'],
      ['notes.txt', 'FILE_KIND_MISMATCH'],
    ]) {
      const text = await initiate(alice, name);
      await put(text.upload_url, Buffer.from('just some text, not an archive\n'));
      const r = await api().post('/v1/datasets/upload-complete', { dataset_id: text.dataset_id, s3_key: text.s3_key }, alice);
      expect(r).toMatchObject({ status: 400, body: { code } });
      expect((await api().get(`/v1/datasets/${text.dataset_id}`, alice)).body).toMatchObject({ status: 'error', error: r.body.detail });
      const again = await api().post('/v1/datasets/upload-complete', { dataset_id: text.dataset_id, s3_key: text.s3_key }, alice);
      expect(again).toMatchObject({ status: 400, body: { code: 'DATASET_FAILED' } });
    }

    const broken = await initiate(alice, 'broken.zip');
    await put(broken.upload_url, zip().subarray(0, 300));
    expect((await api().post('/v1/datasets/upload-complete', { dataset_id: broken.dataset_id, s3_key: broken.s3_key }, alice)).status).toBe(200);
    const failed = await waitFor(
      () => api().get(`/v1/datasets/${broken.dataset_id}`, alice),
      (x) => x.body.status !== 'processing',
      { message: 'validation of the broken zip' },
    );
    expect(failed.body).toMatchObject({ status: 'error', error: expect.any(String) });

    // S3's presigned PUT cannot cap the size, so completion checks it: the object is written
    // past the URL here, as a client of S3 could.
    const big = await initiate(alice, 'big.zip');
    await store().put(big.s3_key, Readable.from([Buffer.alloc(70 * 1024, 1)]));
    const tooBig = await api().post('/v1/datasets/upload-complete', { dataset_id: big.dataset_id, s3_key: big.s3_key }, alice);
    expect(tooBig).toMatchObject({ status: 413, body: { code: 'FILE_TOO_LARGE' } });
    expect(await store().stat(big.s3_key)).toBeNull();
    // The filesystem store's URL itself refuses more than the limit.
    expect((await put(big.upload_url, Buffer.alloc(70 * 1024, 1))).status).toBe(413);

    const dots = await api().post('/v1/datasets/upload-initiate', { file_name: '..', file_type: 'x', dataset_name: 'd' }, alice);
    expect(dots).toMatchObject({ status: 400, body: { code: 'INVALID_FILE_NAME' } });
    const missing = await api().post('/v1/datasets/upload-initiate', { file_name: 'a.zip', dataset_name: 'd' }, alice);
    expect(missing).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR' } });
  });

  it('models: the video trainers’ base models only, with model_type, base_architecture, version, supported_lora_params; unknown 404', async () => {
    const all = await api().get('/v1/models/allowed', alice);
    expect(all.body).toEqual([
      {
        id: 'test-videomae',
        name: 'test-videomae (test)',
        description: 'a video_classification model',
        model_type: 'video_classification',
        base_architecture: 'videomae',
        version: '1.0',
      },
      {
        id: 'test-idefics',
        name: 'test-idefics (test)',
        description: 'a video_captioning model',
        model_type: 'video_captioning',
        base_architecture: 'flamingo',
        version: '1.0',
      },
    ]);
    const one = await api().get('/v1/models/test-idefics', alice);
    expect(one.body).toMatchObject({
      id: 'test-idefics',
      model_type: 'video_captioning',
      supported_lora_params: { min_rank: 2, max_rank: 32, default_alpha: 16 },
    });
    expect((await api().get('/v1/models/nope', alice)).body).toEqual({ detail: 'Model nope not found', code: 'MODEL_NOT_FOUND' });
    // A built-in video model whose files this deployment lacks is not offered (/v1 shows it unavailable).
    const builtin = await client(t.url).get('/v1/base-models/idefics-9b', alice);
    expect(builtin.body, JSON.stringify(builtin.body)).toMatchObject({ model_type: 'video_captioning', available: false });
    expect((await api().get('/v1/models/idefics-9b', alice)).status).toBe(404);
    // A catalog model of another trainer is no allowed model.
    expect((await api().get('/v1/models/deberta-v3-base', alice)).status).toBe(404);
  });

  let dataset: string;
  let captioning: string;

  it('trainings: 400 for bad parameters or unknown model/dataset, 402 without credits; 202 → completed with the adapter in the store and string logs', async () => {
    dataset = await readyDataset(alice);
    const start = (body: Record<string, unknown>, token = alice) =>
      api().post('/v1/trainings', { model_id: 'test-idefics', dataset_id: dataset, output_name: 'clip-captions', ...body }, token);
    const refused = async (body: Record<string, unknown>, code: string, token = alice) => {
      const r = await start(body, token);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body).toEqual({ detail: expect.any(String), code });
    };
    await refused({ model_id: 'nope' }, 'MODEL_NOT_FOUND');
    await refused({ dataset_id: 'nope' }, 'DATASET_NOT_FOUND');
    await refused({ training_params: { lora_rank: 64 } }, 'LORA_RANK_UNSUPPORTED');
    await refused({ training_params: { epochs: 0 } }, 'VALIDATION_ERROR');
    await refused({ training_params: { warmup: 3 } }, 'VALIDATION_ERROR');
    await refused({ training_params: { lora_dropout: 0.95 } }, 'INVALID_HYPERPARAMETERS'); // the trainer's own bound
    await refused({ output_name: 'no spaces allowed' }, 'INVALID_MODEL_NAME');
    const pending = await initiate(alice, 'later.zip');
    await refused({ dataset_id: pending.dataset_id }, 'DATASET_NOT_READY');
    await refused({}, 'DATASET_NOT_FOUND', bob); // alice's dataset is not bob's
    const poor = await start({ training_params: { epochs: 500 } });
    expect(poor).toMatchObject({ status: 402, body: { code: 'INSUFFICIENT_CREDITS', detail: expect.any(String) } });

    const ok = await start({
      training_params: { epochs: 3, learning_rate: 0.0002, batch_size: 2, lora_rank: 8, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'] },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    expect(ok.body).toEqual({ job_id: expect.any(String), status: 'queued', message: 'Training job initiated successfully' });
    captioning = ok.body.job_id;
    // An ordinary job: the captioning trainer, the seed's names as its hyperparameters, alpha from the model.
    const job = await client(t.url).get(`/v1/jobs/${captioning}`, alice);
    expect(job.body).toMatchObject({
      trainer: 'video-lora-captioner',
      base_model: 'test-idefics',
      hyperparameters: {
        epochs: 3,
        learning_rate: 0.0002,
        batch_size: 2,
        lora_rank: 8,
        lora_alpha: 16,
        lora_dropout: 0.05,
        target_modules: ['q_proj', 'v_proj'],
      },
      output: { model_name: 'clip-captions' },
    });

    const done = (await ended(alice, captioning)).body;
    expect(done).toMatchObject({ job_id: captioning, model_id: 'test-idefics', dataset_id: dataset, status: 'completed', progress: 1 });
    expect(Date.parse(done.completed_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));
    expect(done.output_path).toMatch(/adapter_model\.safetensors$/);
    const key = store().keyOf(done.output_path)!;
    expect(await store().stat(key)).toMatchObject({ bytes: 64 });
    expect(typeof done.logs).toBe('string');
    expect(done.logs).toContain('epoch 3/3 done');
    expect(done.logs).toContain('lora_rank=8 lora_alpha=16 target_modules=["q_proj","v_proj"]');
    expect(done.logs.split('\n').at(-1)).toMatch(/INFO Training completed$/);

    const cls = await start({ model_id: 'test-videomae', output_name: 'clip-classes', training_params: { epochs: 1 } });
    expect(cls.status).toBe(202);
    expect((await client(t.url).get(`/v1/jobs/${cls.body.job_id}`, alice)).body.trainer).toBe('video-lora-classifier');
    await ended(alice, cls.body.job_id);

    const list = await api().get('/v1/trainings', alice);
    expect(list.body.map((x: { job_id: string }) => x.job_id)).toEqual([cls.body.job_id, captioning]);
    expect(list.body[1]).not.toHaveProperty('logs');
    expect((await api().get('/v1/trainings', bob)).body).toEqual([]);
    expect((await training(bob, captioning)).status).toBe(404);
    expect((await training(alice, 'job_unknown')).body).toEqual({ detail: 'Training job job_unknown not found', code: 'JOB_NOT_FOUND' });
  });

  it('stop: a running job 202, then 400; it ends failed with "stopped" in its logs; a completed job 400; another user’s 404', async () => {
    const r = await api().post(
      '/v1/trainings',
      { model_id: 'test-idefics', dataset_id: dataset, output_name: 'held', training_params: { seed: 666, epochs: 3 } },
      alice,
    );
    const id = r.body.job_id;
    await waitFor(
      () => training(alice, id),
      (x) => x.body.status === 'running' && x.body.logs.includes('holding until stopped'),
      { message: 'the job to run' },
    );
    // A running job holds its dataset.
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(409);
    expect((await api().post(`/v1/trainings/${id}/stop`, {}, bob)).status).toBe(404);
    const stop = await api().post(`/v1/trainings/${id}/stop`, {}, alice);
    expect(stop).toMatchObject({ status: 202, body: { message: `Stop request received for ${id}` } });
    const again = await api().post(`/v1/trainings/${id}/stop`, {}, alice);
    expect(again).toMatchObject({ status: 400, body: { code: 'JOB_NOT_STOPPABLE' } });
    const end = (await ended(alice, id)).body;
    expect(end).toMatchObject({ status: 'failed', output_path: null, completed_at: expect.any(String) });
    expect(end.logs).toContain('Training stopped by request');
    expect((await client(t.url).get(`/v1/jobs/${id}`, alice)).body.status).toBe('cancelled');
    expect((await api().post(`/v1/trainings/${captioning}/stop`, {}, alice)).body.code).toBe('JOB_NOT_STOPPABLE');
    expect((await api().post('/v1/trainings/job_unknown/stop', {}, alice)).status).toBe(404);
  });

  it('delete: 204 removes the dataset and its objects from the store; 404 after; owner-scoped', async () => {
    const row = (await api().get(`/v1/datasets/${dataset}`, alice)).body;
    const key = store().keyOf(row.s3_path)!;
    expect(await store().stat(key)).not.toBeNull();
    expect((await api().get(`/v1/datasets/${dataset}`, bob)).status).toBe(404);
    expect((await api().del(`/v1/datasets/${dataset}`, bob)).status).toBe(404);
    expect((await api().get('/v1/datasets', bob)).body).toEqual([]);
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(204);
    expect(await store().stat(key)).toBeNull();
    const left: string[] = [];
    for await (const o of store().list(`datasets/${dataset}/`)) left.push(o.key);
    expect(left).toEqual([]);
    expect((await api().get(`/v1/datasets/${dataset}`, alice)).body).toEqual({ detail: `Dataset ${dataset} not found`, code: 'DATASET_NOT_FOUND' });
    expect((await api().del(`/v1/datasets/${dataset}`, alice)).status).toBe(404);
    // A dataset whose upload never completed goes too, with whatever was PUT.
    const half = await initiate(alice, 'half.zip');
    await put(half.upload_url, zip());
    expect((await api().del(`/v1/datasets/${half.dataset_id}`, alice)).status).toBe(204);
    expect(await store().stat(half.s3_key)).toBeNull();
    // The trainings that used the deleted dataset are still listed.
    expect((await training(alice, captioning)).body.status).toBe('completed');
  });
});
