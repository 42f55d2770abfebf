import { createServer, type Server } from 'node:http';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, readSse, testTrainers } from '../helpers/jobs.js';
import { until, waitFor, waitForJob } from '../helpers/wait.js';

// Issue #12: sample images during training, through /v1. A stand-in trainer (sampler.mjs)
// writes real PNGs and announces them with `sample` messages; gate files hold it between
// rounds so the test can look at the running job.
const FIXTURES = path.resolve('test/fixtures/trainers');
const PNG_SIGNATURE = '89504e470d0a1a0a';

let t: TestApp;
let api: ReturnType<typeof client>;
let dataDir: string;
let gates: string;
let receiver: Server;
let hookUrl: string;
const received: Array<{ type: string; data: any }> = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-samples-'));
  gates = await mkdtemp(path.join(tmpdir(), 'trainyard-gates-'));
  await chmod(gates, 0o755); // the sandboxed trainer runs as another user
  const sampler = {
    id: 'sampler',
    title: 'test sampler',
    task: 'test',
    description: 'renders sample images',
    dataset: { kinds: ['tabular-csv'] },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        steps: { type: 'integer', minimum: 1, maximum: 100, default: 4 },
        sample_every: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
        prompts: { type: 'array', items: { type: 'string' } },
        gate_dir: { type: 'string' },
      },
    },
    primary_metric: { name: 'score', goal: 'maximize' },
    resources: { gpus: 0, memory_mb: 64 },
    pricing: { type: 'fixed', credits: 5 },
    base_models: 'none',
    runtime: { type: 'command', entry: 'sampler', command: [process.execPath, path.join(FIXTURES, 'sampler.mjs')] },
  };
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers({ sampler })));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.2', r));
  hookUrl = `http://127.0.0.2:${(receiver.address() as { port: number }).port}/hook`;
  t = await startTestApp({ dataDir, env: { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', WEBHOOK_ALLOW_ADDRESSES: '127.0.0.2/32' } });
  api = client(t.url);
});
afterAll(async () => {
  await t?.close();
  receiver?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(gates, { recursive: true, force: true });
});

describe('sample images during training', () => {
  it('sample events on SSE, WebSocket and webhooks; the listing; preview_image_url moving; the last sample is the version preview; owner only', async () => {
    const u = await api.user('sampling-user');
    const other = await api.user('someone-else');
    const ds = await csvDataset(api, u.token, 'samples-data');
    const hp = { steps: 4, sample_every: 2, prompts: ['a photo of sks', 'sks as a drawing'], gate_dir: gates };
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'sampler', dataset_id: ds, hyperparameters: hp, webhook_url: hookUrl, output: { model_name: 'sampled' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.preview_image_url).toBeNull();
    const id = r.body.id as string;
    const auth = { authorization: `Bearer ${u.token}` };
    const sse = fetch(`${t.url}/v1/jobs/${id}/events`, { headers: { ...auth, accept: 'text/event-stream' } }).then(readSse);
    const wsMessages: any[] = [];
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/jobs/${id}/ws`, { headers: auth });
    ws.on('message', (m) => wsMessages.push(JSON.parse(String(m))));
    const wsClosed = new Promise((resolve) => ws.on('close', resolve));

    // Held after the first round: the running job shows its latest sample.
    const mid = await waitFor(
      async () => (await api.get(`/v1/jobs/${id}`, u.token)).body,
      (j) => j.preview_image_url === `/v1/jobs/${id}/samples/2`,
      { message: 'the second sample as the preview', timeoutMs: 20_000 },
    );
    expect(mid.status).toBe('running');
    const first = (await api.get(`/v1/jobs/${id}/samples`, u.token)).body.data;
    expect(first.map((s: any) => [s.n, s.step, s.prompt])).toEqual([
      [1, 2, 'a photo of sks'],
      [2, 2, 'sks as a drawing'],
    ]);
    await writeFile(path.join(gates, 'go-2'), '');
    const done = await waitForJob(api, u.token, id, undefined, 20_000);
    expect(done).toMatchObject({ status: 'succeeded', preview_image_url: `/v1/jobs/${id}/samples/4` });

    // The listing: every sample a real PNG behind its signed URL and its stable URL.
    const samples = (await api.get(`/v1/jobs/${id}/samples`, u.token)).body.data;
    expect(samples.map((s: any) => [s.n, s.step, s.prompt, s.format, s.attempt])).toEqual([
      [1, 2, 'a photo of sks', 'png', 1],
      [2, 2, 'sks as a drawing', 'png', 1],
      [3, 4, 'a photo of sks', 'png', 1],
      [4, 4, 'sks as a drawing', 'png', 1],
    ]);
    const hashes = new Set<string>();
    for (const s of samples) {
      const signed = Buffer.from(await (await fetch(s.url)).arrayBuffer());
      const redirect = await fetch(`${t.url}${s.image_url}`, { headers: auth, redirect: 'manual' });
      expect(redirect.status).toBe(302);
      const viaStable = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer());
      expect(viaStable.equals(signed)).toBe(true);
      expect(signed.subarray(0, 8).toString('hex')).toBe(PNG_SIGNATURE);
      expect([signed.readUInt32BE(16), signed.readUInt32BE(20)]).toEqual([3, 2]);
      expect(signed.length).toBe(s.bytes);
      hashes.add(s.sha256);
    }
    expect(hashes.size).toBe(4);
    expect((await api.get(`/v1/jobs/${id}/samples/3?redirect=false`, u.token)).body).toMatchObject({ n: 3, step: 4, sha256: samples[2].sha256 });
    expect((await api.get(`/v1/jobs/${id}/samples/9?redirect=false`, u.token)).body.error.code).toBe('SAMPLE_NOT_FOUND');

    // The announcement outside the job's folders was refused and said so in the logs.
    const logs = (await api.get(`/v1/jobs/${id}/logs`, u.token)).body.data.map((l: any) => l.message);
    expect(logs.some((m: string) => /sample ignored: .*outside the job folder/.test(m))).toBe(true);

    // SSE: the four sample events in order, between running and succeeded.
    const events = await sse;
    const kinds = events
      .filter((e) => e.event === 'sample' || e.event === 'status')
      .map((e) => (e.event === 'sample' ? `sample ${e.data.data.n}` : e.data.data.status));
    expect(kinds).toEqual(['queued', 'running', 'sample 1', 'sample 2', 'sample 3', 'sample 4', 'succeeded']);
    expect(events.find((e) => e.event === 'sample')!.data.data).toEqual({ n: 1, step: 2, prompt: 'a photo of sks', image_url: `/v1/jobs/${id}/samples/1` });
    await wsClosed;
    expect(wsMessages.filter((m) => m.type === 'sample').map((m) => m.data.n)).toEqual([1, 2, 3, 4]);
    await until(() => received.filter((x) => x.type === 'job.sample' && x.data.job.id === id).length === 4, { message: 'four job.sample webhooks' });
    const hooks = received.filter((x) => x.type === 'job.sample' && x.data.job.id === id);
    expect(hooks.map((x) => x.data.sample.n).sort()).toEqual([1, 2, 3, 4]);
    expect(hooks.find((x) => x.data.sample.n === 3)!.data.job.preview_image_url).toBe(`/v1/jobs/${id}/samples/3`);

    // The version's preview is the last sample.
    const preview = await api.get('/v1/models/sampled/versions/1/artifacts/preview.png', u.token);
    expect(preview.status).toBe(200);
    expect(preview.body.sha256).toBe(samples[3].sha256);

    // Someone else sees none of it.
    for (const p of [`/v1/jobs/${id}/samples`, `/v1/jobs/${id}/samples/1`]) {
      const res = await api.get(p, other.token);
      expect([res.status, res.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
    }
    expect((await api.get(`/v1/jobs/${id}/samples/0`, u.token)).status).toBe(400);
  });

  it('a trainer without samples: no preview_image_url, an empty listing, its own artifacts untouched', async () => {
    const u = await api.user('plain-sampler-user');
    const ds = await csvDataset(api, u.token, 'plain-data');
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'plain' } }, u.token);
    const done = await waitForJob(api, u.token, r.body.id);
    expect(done).toMatchObject({ status: 'succeeded', preview_image_url: null });
    expect((await api.get(`/v1/jobs/${r.body.id}/samples`, u.token)).body).toEqual({ data: [] });
    // The model and the TensorBoard events file every training job gets (src/worker/tensorboard.ts).
    expect((await api.get('/v1/models/plain/versions/1', u.token)).body.artifacts.map((a: any) => a.name)).toEqual([
      expect.stringMatching(/^events\.out\.tfevents\.\d+\.trainyard$/),
      'model',
    ]);
  });
});
