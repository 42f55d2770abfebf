import { createServer, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

// Seed 000 (LoRA training with credits) on its own port, without the Python environment: the
// catalog points lora-diffusion at a stand-in (fixtures/trainers/lora-stand-in.mjs, over
// sampler.mjs) that trains a hundredth of the steps in milliseconds, fails on a trigger word
// starting "fail" and waits on gate files for one starting "hold". Images come from a local
// origin on 127.0.0.2, the one address IMPORT_ALLOW_ADDRESSES admits. Real training on the tiny
// Stable Diffusion: test/python/compat-lora-credits.test.ts.

const STAND_IN = path.resolve('test/fixtures/trainers/lora-stand-in.mjs');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const envelope = (code: string) => ({ code, message: expect.any(String), timestamp: expect.stringMatching(ISO) });

let t: TestApp;
let dataDir: string;
let gates: string;
let origin: Server;
let originUrl: string;
let hits = 0;
let api: ReturnType<typeof client>;
const v1 = () => client(t.url);

/** n image URLs of the origin: PNGs, every third a JPEG. */
const urls = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${originUrl}/img/${from + i}.${(from + i) % 3 === 2 ? 'jpg' : 'png'}`);
const uploadImages = (list: string[]) => list.map((url) => ({ url, filename: url.split('/').pop()!, size: 100, format: url.endsWith('.jpg') ? 'jpg' : 'png' }));
const balance = async (token: string) => (await v1().get('/v1/credits/balance', token)).body.balance as number;
const status = async (id: string, token: string) => (await api.get(`/api/train/${id}`, token)).body;
const settled = (id: string, token: string) =>
  waitFor(
    () => status(id, token),
    (s) => ['completed', 'failed'].includes(s.trainingJob?.status),
    { timeoutMs: 30_000, message: `training ${id} to end` },
  );

async function dataDirWithStandIn(gateDir: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-lc-'));
  const catalog = {
    trainers: [
      {
        id: 'lora-diffusion',
        runtime: { type: 'command', entry: 'lora-stand-in', command: [process.execPath, STAND_IN, gateDir] },
        resources: { gpus: 0, memory_mb: 256 },
      },
    ],
  };
  await writeFile(path.join(dir, 'catalog.json'), JSON.stringify(catalog));
  // The trainer's default base model counts as installed when its folder is on this server.
  await mkdir(path.join(dir, 'models', 'stable-diffusion-v1-5'), { recursive: true });
  await writeFile(path.join(dir, 'models', 'stable-diffusion-v1-5', 'model_index.json'), '{}');
  return dir;
}

const FAST_RATES = { COMPAT_LORA_CREDITS_RATE_UPLOAD: '1000/1m', COMPAT_LORA_CREDITS_RATE_START: '1000/1m', COMPAT_LORA_CREDITS_RATE_OTHER: '1000/1m' };
const serverEnv = (rates: Record<string, string>) => ({
  TRAINYARD_COMPAT: 'lora-credits:0',
  IMPORT_ALLOW_ADDRESSES: '127.0.0.2/32',
  IMPORT_TIMEOUT_MS: '5000',
  SIGNUP_CREDIT_GRANT: '100',
  WORKER_POLL_MS: '50',
  WORKER_DRAIN_MS: '0',
  ...rates,
});

beforeAll(async () => {
  gates = await mkdtemp(path.join(tmpdir(), 'trainyard-lc-gates-'));
  await chmod(gates, 0o755); // the sandboxed trainer runs as another user
  dataDir = await dataDirWithStandIn(gates);
  const images = await Promise.all(
    Array.from({ length: 32 }, (_, i) => {
      const img = sharp({ create: { width: 16, height: 16, channels: 3, background: { r: i * 7, g: 255 - i * 7, b: 90 } } });
      return (i % 3 === 2 ? img.jpeg() : img.png()).toBuffer();
    }),
  );
  origin = createServer((req, res) => {
    hits++;
    const img = /^\/img\/(\d+)\.(png|jpg)$/.exec(req.url ?? '');
    if (img && images[Number(img[1])]) return res.writeHead(200, { 'content-type': img[2] === 'png' ? 'image/png' : 'image/jpeg' }).end(images[Number(img[1])]);
    // A GIF that calls itself a PNG: only its bytes tell.
    if (req.url === '/lying.png' || req.url === '/anim.gif') return res.writeHead(200, { 'content-type': 'image/png' }).end(GIF);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.2', r));
  originUrl = `http://127.0.0.2:${(origin.address() as { port: number }).port}`;
  t = await startTestApp({ dataDir, env: serverEnv(FAST_RATES) });
  api = client(t.compatUrls['lora-credits']!);
});

afterAll(async () => {
  await t?.close();
  await new Promise((r) => origin?.close(r));
  await rm(dataDir, { recursive: true, force: true });
  await rm(gates, { recursive: true, force: true });
});

describe('lora-credits facade (seed 000) with a stand-in trainer', () => {
  it('upload → start → status → models with the documented shapes; the model URL keeps redirecting to a fresh download', async () => {
    const u = await v1().user('portraitist');
    const list = urls(12);
    const up = await api.post('/api/train/upload', { images: uploadImages(list), model_name: 'hold-portrait' }, u.token);
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toEqual({
      status: 'uploaded',
      sessionId: expect.stringMatching(new RegExp(`^upload_${u.id}_\\d{13}$`)),
      modelName: 'hold-portrait',
      imageCount: 12,
      images: list.map((url) => ({
        url,
        filename: url.split('/').pop(),
        size: expect.any(Number),
        format: url.endsWith('.jpg') ? 'jpg' : 'png',
        fileId: expect.stringMatching(/^file_/),
      })),
      timestamp: expect.stringMatching(ISO),
    });
    const fetched = hits;

    const before = await balance(u.token);
    const r = await api.post(
      '/api/train/start',
      { model_name: 'hold-portrait', steps: 600, training_images: list, metadata: { description: 'Custom model for portraits' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      status: 'queued',
      jobId: expect.stringMatching(/^job_/),
      trainingJobId: expect.stringMatching(/^training_/),
      queue: 'training',
      modelName: 'hold-portrait',
      steps: 600,
      cost: 10,
      estimatedDuration: '10 minutes', // the catalog's second a step, with no history yet
      timestamp: expect.stringMatching(ISO),
    });
    expect(hits).toBe(fetched); // the session's files, not a second fetch
    expect(await balance(u.token)).toBe(before - 10);
    const { jobId, trainingJobId } = r.body;
    const job = (await v1().get(`/v1/jobs/${jobId}`, u.token)).body;
    expect(job).toMatchObject({
      trainer: 'lora-diffusion',
      base_model: 'stable-diffusion-v1-5',
      hyperparameters: { steps: 600, trigger_word: 'hold-portrait' },
      output: { model_name: 'hold-portrait', if_exists: 'fail' },
      metadata: {
        compat: 'lora-credits',
        training_job_id: trainingJobId,
        session_id: up.body.sessionId,
        request: { description: 'Custom model for portraits' },
      },
    });

    // Held by the gate after its first step: processing, by either id.
    const running = await waitFor(
      () => status(jobId, u.token),
      (s) => s.trainingJob?.status === 'processing' && s.trainingJob.progress > 0,
      { timeoutMs: 20_000, message: 'the training to be processing' },
    );
    expect(running).toEqual({
      status: 'ok',
      jobId,
      trainingJob: {
        id: trainingJobId,
        modelName: 'hold-portrait',
        status: 'processing',
        progress: expect.any(Number),
        steps: 600,
        creditsUsed: 10,
        trainedModelUrl: null,
        errorMessage: null,
        createdAt: expect.stringMatching(ISO),
        completedAt: null,
      },
      queueStatus: { state: 'active', progress: running.trainingJob.progress },
      timestamp: expect.stringMatching(ISO),
    });
    expect(Number.isInteger(running.trainingJob.progress) && running.trainingJob.progress < 100).toBe(true);
    expect((await status(trainingJobId, u.token)).jobId).toBe(jobId);

    // The name is taken while it trains: by another upload and by another start.
    const again = await api.post('/api/train/upload', { images: uploadImages(urls(10, 12)), model_name: 'hold-portrait' }, u.token);
    expect(again).toMatchObject({ status: 409, body: envelope('MODEL_NAME_EXISTS') });
    const twice = await api.post('/api/train/start', { model_name: 'hold-portrait', steps: 600, training_images: list }, u.token);
    expect(twice).toMatchObject({ status: 409, body: envelope('MODEL_NAME_EXISTS') });
    const mid = (await api.get('/api/train/models', u.token)).body;
    expect(mid.models.inProgress.map((m: any) => m.id)).toEqual([trainingJobId]);
    expect(mid).toMatchObject({ totalCount: 1, completedCount: 0, models: { completed: [], failed: [] } });

    for (let step = 1; step < 6; step++) await writeFile(path.join(gates, `go-${step}`), '');
    const done = await settled(jobId, u.token);
    expect(done.trainingJob).toMatchObject({
      status: 'completed',
      progress: 100,
      creditsUsed: 10,
      errorMessage: null,
      completedAt: expect.stringMatching(ISO),
    });
    expect(done.queueStatus).toEqual({ state: 'completed', progress: 100 });
    const modelUrl = done.trainingJob.trainedModelUrl as string;
    expect(modelUrl).toMatch(new RegExp(`^${t.compatUrls['lora-credits']}/api/train/${trainingJobId}/model\\?signature=`));

    const models = (await api.get('/api/train/models', u.token)).body;
    expect(models).toEqual({
      status: 'ok',
      models: {
        completed: [
          {
            id: trainingJobId,
            model_name: 'hold-portrait',
            status: 'completed',
            steps: 600,
            credits_used: 10,
            trained_model_url: modelUrl,
            created_at: done.trainingJob.createdAt,
            completed_at: done.trainingJob.completedAt,
          },
        ],
        inProgress: [],
        failed: [],
      },
      totalCount: 1,
      completedCount: 1,
      timestamp: expect.stringMatching(ISO),
    });

    // The stable URL needs no token and redirects, each time, to a signed download of the weights.
    for (let i = 0; i < 2; i++) {
      const hop = await fetch(modelUrl, { redirect: 'manual' });
      expect(hop.status).toBe(302);
      const signed = hop.headers.get('location')!;
      expect(signed).not.toBe(modelUrl);
      const weights = await fetch(new URL(signed, modelUrl));
      expect(weights.status).toBe(200);
      expect(await weights.json()).toEqual({ sampler: jobId });
    }
    const tampered = await fetch(
      modelUrl.replace(/signature=(.)/, (_, c) => `signature=${c === 'A' ? 'B' : 'A'}`),
      { redirect: 'manual' },
    );
    expect(tampered.status).toBe(403);
    expect(await tampered.json()).toEqual(envelope('INVALID_SIGNATURE'));
    const otherId = await fetch(modelUrl.replace(trainingJobId, 'training_XXXXXXXXXXXXXXXX'), { redirect: 'manual' });
    expect(otherId.status).toBe(403);

    // Now a model: the name stays taken.
    expect(await api.post('/api/train/start', { model_name: 'hold-portrait', steps: 600, training_images: list }, u.token)).toMatchObject({
      status: 409,
      body: envelope('MODEL_NAME_EXISTS'),
    });
    // The same facade under the main server's /compat/lora-credits, its URLs with that prefix.
    const mounted = await client(t.url).get(`/compat/lora-credits/api/train/${trainingJobId}`, u.token);
    expect(mounted.body.trainingJob.trainedModelUrl).toMatch(new RegExp(`^${t.url}/compat/lora-credits/api/train/${trainingJobId}/model\\?signature=`));
    expect((await fetch(mounted.body.trainingJob.trainedModelUrl, { redirect: 'manual' })).status).toBe(302);
  });

  it('refuses 9 and 31 images, a GIF by its declared format and a GIF by its bytes, and keeps no file of a refused upload', async () => {
    const u = await v1().user('counter');
    for (const n of [9, 31]) {
      const up = await api.post('/api/train/upload', { images: uploadImages(urls(n)), model_name: 'counted' }, u.token);
      expect(up).toMatchObject({ status: 400, body: envelope('INVALID_IMAGE_COUNT') });
      const st = await api.post('/api/train/start', { model_name: 'counted', steps: 600, training_images: urls(n) }, u.token);
      expect(st).toMatchObject({ status: 400, body: envelope('INVALID_IMAGE_COUNT') });
    }
    const repeated = [...urls(9), urls(1)[0]!];
    expect(await api.post('/api/train/start', { model_name: 'counted', training_images: repeated }, u.token)).toMatchObject({
      status: 400,
      body: envelope('INVALID_IMAGE_COUNT'),
    });
    const before = hits;
    const declared = [...uploadImages(urls(10)), { url: `${originUrl}/anim.gif`, filename: 'anim.gif', size: GIF.length, format: 'gif' }];
    const gif = await api.post('/api/train/upload', { images: declared, model_name: 'gif-model' }, u.token);
    expect(gif).toMatchObject({ status: 400, body: envelope('INVALID_IMAGE_FORMAT') });
    expect(gif.body.message).toContain('anim.gif');
    const gifStart = await api.post('/api/train/start', { model_name: 'gif-model', training_images: [...urls(10), `${originUrl}/anim.gif`] }, u.token);
    expect(gifStart).toMatchObject({ status: 400, body: envelope('INVALID_IMAGE_FORMAT') });
    expect(hits).toBe(before); // refused by what it says it is: nothing fetched

    const lying = [...uploadImages(urls(10)), { url: `${originUrl}/lying.png`, filename: 'lying.png', format: 'png' }];
    const sniffed = await api.post('/api/train/upload', { images: lying, model_name: 'gif-model' }, u.token);
    expect(sniffed).toMatchObject({ status: 400, body: envelope('INVALID_IMAGE_FORMAT') });
    expect((await v1().get('/v1/files', u.token)).body.data).toEqual([]);
    const balance0 = await balance(u.token);
    const sniffedStart = await api.post('/api/train/start', { model_name: 'gif-model', training_images: [...urls(10), `${originUrl}/lying.png`] }, u.token);
    expect(sniffedStart).toMatchObject({ status: 400, body: envelope('INVALID_IMAGE_FORMAT') });
    expect((await v1().get('/v1/files', u.token)).body.data).toEqual([]);
    expect(await balance(u.token)).toBe(balance0);

    const missing = await api.post('/api/train/upload', { images: uploadImages([...urls(9), `${originUrl}/img/404.png`]), model_name: 'gif-model' }, u.token);
    expect(missing).toMatchObject({ status: 400, body: envelope('IMAGE_FETCH_FAILED') });
    expect((await api.post('/api/train/upload', { images: [], model_name: 'x' }, u.token)).body).toEqual(envelope('INVALID_IMAGE_COUNT'));
    expect((await api.post('/api/train/upload', { images: uploadImages(urls(10)), model_name: '../bad name' }, u.token)).body).toEqual(
      envelope('INVALID_MODEL_NAME'),
    );
  });

  it('600, 1200 and 2000 steps cost 10, 20 and 35 credits from the ledger; 601 is refused; an empty balance is INSUFFICIENT_CREDITS', async () => {
    const u = await v1().user('stepper');
    const list = urls(10, 5);
    expect((await api.post('/api/train/upload', { images: uploadImages(list), model_name: 'steps-600' }, u.token)).status).toBe(200);
    const fetched = hits;
    let left = await balance(u.token);
    expect(left).toBe(100);
    const ids: string[] = [];
    for (const [steps, cost, name] of [
      [600, 10, 'steps-600'],
      [1200, 20, 'steps-1200'],
      [2000, 35, 'steps-2000'],
      [2000, 35, 'steps-2000-again'],
    ] as const) {
      const r = await api.post('/api/train/start', { model_name: name, steps, training_images: list }, u.token);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ steps, cost, estimatedDuration: expect.stringMatching(/^\d+ minutes?$/) });
      left -= cost;
      expect(await balance(u.token)).toBe(left);
      ids.push(r.body.jobId);
    }
    expect(hits).toBe(fetched);
    const odd = await api.post('/api/train/start', { model_name: 'steps-601', steps: 601, training_images: list }, u.token);
    expect(odd).toMatchObject({ status: 400, body: envelope('VALIDATION_ERROR') });
    const broke = await api.post('/api/train/start', { model_name: 'steps-broke', steps: 600, training_images: list }, u.token);
    expect(broke).toMatchObject({ status: 402, body: envelope('INSUFFICIENT_CREDITS') });
    for (const id of ids) expect((await settled(id, u.token)).trainingJob.status).toBe('completed');
    const spent = (await v1().get('/v1/credits/balance', u.token)).body;
    expect(spent).toMatchObject({ balance: 0, held: 0, total_spent: 100 });
  });

  it('a failed training is refunded and listed under failed; a cancelled one is failed with "cancelled"', async () => {
    const u = await v1().user('unlucky');
    const list = urls(10, 20);
    const r = await api.post('/api/train/start', { model_name: 'fail-model', steps: 1200, training_images: list }, u.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(await balance(u.token)).toBe(80);
    const failed = await settled(r.body.jobId, u.token);
    expect(failed.trainingJob).toMatchObject({ status: 'failed', creditsUsed: 0, trainedModelUrl: null, completedAt: null });
    expect(failed.trainingJob.errorMessage).toContain('forced failure');
    expect(failed.queueStatus.state).toBe('failed');
    expect(await balance(u.token)).toBe(100);

    const held = await api.post('/api/train/start', { model_name: 'hold-cancel', steps: 600, training_images: list }, u.token);
    expect((await v1().post(`/v1/jobs/${held.body.jobId}/cancel`, {}, u.token)).status).toBeLessThan(300);
    const cancelled = await settled(held.body.trainingJobId, u.token);
    expect(cancelled.trainingJob).toMatchObject({ status: 'failed', errorMessage: 'cancelled', creditsUsed: 0 });
    expect(await balance(u.token)).toBe(100);

    const models = (await api.get('/api/train/models', u.token)).body;
    expect(models.models.failed.map((m: any) => [m.model_name, m.status, m.credits_used])).toEqual([
      ['hold-cancel', 'failed', 0],
      ['fail-model', 'failed', 0],
    ]);
    expect(models).toMatchObject({ totalCount: 2, completedCount: 0, models: { completed: [], inProgress: [] } });
    // A failed name is free again.
    expect((await api.post('/api/train/upload', { images: uploadImages(list), model_name: 'fail-model' }, u.token)).status).toBe(200);
  });

  it('answers in the document’s envelope: no token 401, unknown or another user’s job 404 TRAINING_STATUS_ERROR', async () => {
    expect(await api.get('/api/train/models')).toMatchObject({ status: 401, body: envelope(expect.any(String)) });
    const u = await v1().user('snooper');
    expect(await api.get('/api/train/job_nope', u.token)).toMatchObject({ status: 404, body: envelope('TRAINING_STATUS_ERROR') });
    const owner = await v1().user('private-owner');
    const r = await api.post('/api/train/start', { model_name: 'mine', steps: 600, training_images: urls(10) }, owner.token);
    for (const id of [r.body.jobId, r.body.trainingJobId])
      expect(await api.get(`/api/train/${id}`, u.token)).toMatchObject({ status: 404, body: envelope('TRAINING_STATUS_ERROR') });
    expect((await api.get('/api/train/models', u.token)).body).toMatchObject({ totalCount: 0 });
    await settled(r.body.jobId, owner.token);
  });
});

describe('lora-credits rate limits (the document’s defaults)', () => {
  it('the 6th start within a minute is 429', async () => {
    const app = await startTestApp({ env: serverEnv({}) });
    try {
      const own = client(app.compatUrls['lora-credits']!);
      const u = await client(app.url).user('hasty');
      const answers: number[] = [];
      for (let i = 0; i < 6; i++)
        answers.push((await own.post('/api/train/start', { model_name: 'hasty', steps: 600, training_images: urls(9) }, u.token)).status);
      expect(answers).toEqual([400, 400, 400, 400, 400, 429]);
      const limited = await own.post('/api/train/start', { model_name: 'hasty', steps: 600, training_images: urls(10) }, u.token);
      expect(limited).toMatchObject({ status: 429, body: envelope('RATE_LIMITED') });
      expect((await own.get('/api/train/models', u.token)).status).toBe(200); // the others count on their own
    } finally {
      await app.close();
    }
  });
});
