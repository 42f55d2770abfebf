import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, type TestApp } from '../helpers/app.js';
import { startPythonApp } from '../helpers/python-app.js';
import { HAVE_PYTHON } from '../helpers/python.js';
import { createTestBucket, s3Env, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { waitFor } from '../helpers/wait.js';

// Seed 004's whole flow on its own port, with S3 as the store (the test S3 server) and the real
// video-lora pack: signup → login → upload-initiate → PUT the zip of sample videos straight to
// S3's pre-signed URL → upload-complete → ready → allowed models → a captioning training on the
// tiny IDEFICS (Flamingo-style) model → completed, with the adapter in the bucket and string
// logs → stop on a second job (202, then 400) → delete the dataset (204, its objects gone).
// The facade's edges, on both databases with the filesystem store: test/db/compat-qlora-datasets.test.ts and compat-qlora-trainings.test.ts.

const USER = { username: 'vid-user', email: 'vid-user@example.com', password: 'correct horse battery staple' };
const MAIN = path.resolve('src/main.ts');

let t: TestApp;
let base: string;
let s3: (S3Server & { stop(): Promise<void> }) | undefined;
let samples: string;

/** `trainyard sample-data videos`: the zip of synthetic clips with manifest.csv, as a user makes it. */
async function sampleVideosZip(): Promise<Buffer> {
  samples = await mkdtemp(path.join(tmpdir(), 'trainyard-videos-'));
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'sample-data', 'videos', '--out', samples], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', resolve);
  });
  expect(code).toBe(0);
  const zips = (await readdir(samples)).filter((f) => f.toLowerCase().endsWith('.zip'));
  expect(zips).toHaveLength(1);
  return readFile(path.join(samples, zips[0]!));
}

describe.skipIf(!HAVE_PYTHON)('qlora facade (seed 004) end to end on S3 and the real video-lora pack', () => {
  beforeAll(async () => {
    // A real S3 server for this file: the facade's pre-signed URLs are the bucket's own.
    s3 = await startS3Server();
    let api, admin, modelDir;
    ({ t, api, admin, modelDir } = await startPythonApp('tiny-idefics', { TRAINYARD_COMPAT: 'qlora:0', ...s3Env(s3, await createTestBucket(s3)) }));
    // registerBaseModel does not send the video fields (model_type, base_architecture).
    const r = await api.post(
      '/v1/admin/base-models',
      {
        id: 'tiny-idefics',
        name: 'Tiny IDEFICS',
        description: 'A tiny random Flamingo-style captioning model',
        architecture: 'idefics',
        trainers: ['video-lora-captioner'],
        path: modelDir,
        version: '0.1',
        supported_lora_params: { min_rank: 2, max_rank: 16, default_alpha: 8 },
        model_type: 'video_captioning',
        base_architecture: 'flamingo',
      },
      admin,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    base = t.compatUrls.qlora!;
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (samples) await rm(samples, { recursive: true, force: true });
    await s3?.stop();
  });

  it('signup → upload straight to S3 → ready → captioning training → adapter in the bucket → stop → delete', async () => {
    const api = client(base);
    const store = t.rt.services.store;
    expect((await api.post('/v1/auth/signup', USER)).body).toEqual({ message: 'User registered successfully' });
    const login = await api.post('/v1/auth/login', { username: USER.username, password: USER.password });
    expect(login.body.token_type).toBe('bearer');
    const token = login.body.access_token as string;

    const zip = await sampleVideosZip();
    const up = await api.post(
      '/v1/datasets/upload-initiate',
      { file_name: 'my_video_dataset.zip', file_type: 'application/zip', dataset_name: 'synthetic clips', dataset_description: 'sample-data videos' },
      token,
    );
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    const { upload_url, dataset_id, s3_key } = up.body;
    expect(s3_key).toBe(`datasets/${dataset_id}/my_video_dataset.zip`);
    // S3's own pre-signed URL: the bytes go to the bucket, not through Trainyard.
    expect(new URL(upload_url).origin).not.toBe(new URL(base).origin);
    expect((await api.get(`/v1/datasets/${dataset_id}`, token)).body.status).toBe('processing');
    const put = await fetch(upload_url, { method: 'PUT', body: zip });
    expect(put.status).toBe(200);
    expect((await api.post('/v1/datasets/upload-complete', { dataset_id, s3_key }, token)).body).toEqual({
      message: 'Dataset processing initiated',
      dataset_id,
    });
    const ds = await waitFor(
      () => api.get(`/v1/datasets/${dataset_id}`, token),
      (r) => r.body.status !== 'processing',
      { timeoutMs: 120_000, intervalMs: 250, message: 'the video dataset to validate' },
    );
    expect(ds.body).toMatchObject({ status: 'ready', total_size_bytes: zip.length, s3_path: expect.stringMatching(new RegExp(`^s3://[^/]+/${s3_key}$`)) });
    expect(ds.body.file_count).toBeGreaterThanOrEqual(3);

    const models = (await api.get('/v1/models/allowed', token)).body;
    expect(models).toContainEqual(
      expect.objectContaining({ id: 'tiny-idefics', model_type: 'video_captioning', base_architecture: 'flamingo', version: '0.1' }),
    );
    const params = { epochs: 1, learning_rate: 0.001, batch_size: 1, lora_rank: 4, lora_alpha: 8, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'] };
    const started = await api.post('/v1/trainings', { model_id: 'tiny-idefics', dataset_id, training_params: params, output_name: 'clip-captioner' }, token);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body).toMatchObject({ status: 'queued', message: 'Training job initiated successfully' });
    const job = started.body.job_id as string;
    const done = await waitFor(
      () => api.get(`/v1/trainings/${job}`, token),
      (r) => ['completed', 'failed'].includes(r.body.status),
      { timeoutMs: 240_000, intervalMs: 500, message: 'the captioning training to end' },
    );
    expect(done.body, done.body.logs).toMatchObject({
      status: 'completed',
      progress: 1,
      completed_at: expect.any(String),
      output_path: expect.stringMatching(/^s3:\/\//),
    });
    expect(typeof done.body.logs).toBe('string');
    expect(done.body.logs.split('\n').length).toBeGreaterThan(2);
    const adapter = store.keyOf(done.body.output_path);
    expect(adapter).not.toBeNull();
    expect((await store.stat(adapter!))?.bytes).toBeGreaterThan(0);

    const second = await api.post(
      '/v1/trainings',
      { model_id: 'tiny-idefics', dataset_id, training_params: { ...params, epochs: 50 }, output_name: 'clip-captioner' },
      token,
    );
    expect(second.status).toBe(202);
    const stop = await api.post(`/v1/trainings/${second.body.job_id}/stop`, {}, token);
    expect(stop.status).toBe(202);
    expect((await api.post(`/v1/trainings/${second.body.job_id}/stop`, {}, token)).status).toBe(400);
    await waitFor(
      () => api.get(`/v1/trainings/${second.body.job_id}`, token),
      (r) => r.body.status === 'failed' && r.body.logs.includes('Training stopped by request'),
      { timeoutMs: 60_000, intervalMs: 250, message: 'the stopped job to end' },
    );

    expect((await api.del(`/v1/datasets/${dataset_id}`, token)).status).toBe(204);
    expect(await store.stat(s3_key)).toBeNull();
    const left: string[] = [];
    for await (const o of store.list(`datasets/${dataset_id}/`)) left.push(o.key);
    expect(left).toEqual([]);
    expect((await api.get(`/v1/datasets/${dataset_id}`, token)).status).toBe(404);
  }, 600_000);
});
