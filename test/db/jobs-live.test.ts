import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { verify } from '../../src/domain/webhooks/signing.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, readSse, testTrainers } from '../helpers/jobs.js';
import { until, waitFor, waitForJob } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let other: typeof u;
let ds: string;
let receiver: Server;
let hookUrl: string;
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-live-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.2', r));
  hookUrl = `http://127.0.0.2:${(receiver.address() as { port: number }).port}/hook`;
  t = await startTestApp({ dataDir, env: { WORKER_POLL_MS: '50', WORKER_DRAIN_MS: '0', WEBHOOK_ALLOW_ADDRESSES: '127.0.0.2/32' } });
  api = client(t.url);
  u = await api.user('viewer');
  other = await api.user('stranger');
  ds = await csvDataset(api, u.token, 'd');
});
afterAll(async () => {
  await t.close();
  await new Promise((r) => receiver.close(r));
});

describe('live events', () => {
  it('SSE streams every event in order and closes after the final status; Last-Event-ID resumes', async () => {
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 20, sleep_ms: 15 }, output: { model_name: 'live' } },
      u.token,
    );
    const res = await fetch(`${t.url}/v1/jobs/${r.body.id}/events`, { headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readSse(res);
    const ids = events.map((e) => e.id);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    expect(events.filter((e) => e.event === 'status').map((e) => e.data.data.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(events.filter((e) => e.event === 'metrics').length).toBe(20);
    expect(events.at(-1)!.data.data.status).toBe('succeeded');

    const resumed = await readSse(
      await fetch(`${t.url}/v1/jobs/${r.body.id}/events`, {
        headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream', 'last-event-id': String(ids[5]) },
      }),
    );
    expect(resumed.map((e) => e.id)).toEqual(ids.slice(6));
  });

  it('WebSocket delivers the same events and closes when the job ends', async () => {
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 10, sleep_ms: 10 }, output: { model_name: 'live' } },
      u.token,
    );
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/jobs/${r.body.id}/ws`, { headers: { authorization: `Bearer ${u.token}` } });
    const got: any[] = [];
    ws.on('message', (m) => got.push(JSON.parse(String(m))));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1000);
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
    expect(got.at(-1).data.status).toBe('succeeded');
  });

  it("a first viewer's cursor past the job's last event does not stop the shared feed for the viewers after it", async () => {
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 30, sleep_ms: 40 }, output: { model_name: 'live' } },
      u.token,
    );
    const hub = t.rt.services.hub!;
    const before = hub.subscriberCount;
    // The first viewer of this job in the process: a cursor no event will reach (the route allows it).
    const far = new WebSocket(`${t.url.replace('http', 'ws')}/v1/jobs/${r.body.id}/ws?after=${Number.MAX_SAFE_INTEGER}`, {
      headers: { authorization: `Bearer ${u.token}` },
    });
    const farGot: unknown[] = [];
    far.on('message', (m) => farGot.push(JSON.parse(String(m))));
    await waitFor(
      () => hub.subscriberCount,
      (n) => n === before + 1,
      { message: 'the far viewer subscribed' },
    );
    // A second viewer from the start gets everything, live, to the final status (it hung before,
    // its stream open until the test timed out).
    const res = await fetch(`${t.url}/v1/jobs/${r.body.id}/events`, {
      headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(20_000),
    });
    const events = await readSse(res);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(events.filter((e) => e.event === 'metrics')).toHaveLength(30);
    expect(events.at(-1)!.data.data.status).toBe('succeeded');
    expect(farGot).toEqual([]);
    far.close();
    await waitFor(
      () => hub.subscriberCount,
      (n) => n === before,
      { message: 'both viewers gone' },
    );
  });

  it('other users cannot watch (404), not even by stream', async () => {
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'live' } }, u.token);
    const res = await fetch(`${t.url}/v1/jobs/${r.body.id}/events`, { headers: { authorization: `Bearer ${other.token}`, accept: 'text/event-stream' } });
    expect(res.status).toBe(404);
    await waitForJob(api, u.token, r.body.id);
  });
});

describe('webhooks', () => {
  it("a job's webhook_url receives job.started and job.succeeded, signed Standard-Webhooks style", async () => {
    const secret = (await api.get('/v1/webhooks/secret', u.token)).body.secret as string;
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, webhook_url: hookUrl, output: { model_name: 'hooked' } }, u.token);
    await waitForJob(api, u.token, r.body.id);
    const mine = await waitFor(
      () => received.filter((x) => x.body.includes(r.body.id)),
      (m) => m.length >= 2,
      { message: 'two webhook calls for the job' },
    );
    expect(mine.map((x) => JSON.parse(x.body).type).sort()).toEqual(['job.started', 'job.succeeded']);
    for (const m of mine) expect(verify(secret, m.headers as Record<string, string>, m.body)).toBe(true);
    const succeeded = JSON.parse(mine.find((x) => x.body.includes('job.succeeded'))!.body);
    expect(succeeded.data).toMatchObject({ job: { id: r.body.id, status: 'succeeded' }, model: { name: 'hooked', version: 1 } });
    // The deliverer records the outcome just after the receiver answers: poll the log.
    const delivered = async () =>
      (await api.get('/v1/webhooks/deliveries', u.token)).body.data.filter((d: any) => d.job_id === r.body.id && d.status === 'delivered').length;
    expect(await waitFor(delivered, (n) => n >= 2, { message: 'two delivered webhooks in the log' })).toBe(2);
  });

  it('an account endpoint subscribed to job.failed hears about failures only', async () => {
    const ep = await api.post('/v1/webhooks', { url: `${hookUrl}?account`, events: ['job.failed'] }, u.token);
    expect(ep.status).toBe(201);
    const ok = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'ok' } }, u.token);
    const bad = await api.post('/v1/jobs', { trainer: 'crash', dataset_id: ds, output: { model_name: 'bad' } }, u.token);
    await waitForJob(api, u.token, ok.body.id);
    await waitForJob(api, u.token, bad.body.id);
    await until(() => received.some((x) => x.body.includes(bad.body.id) && x.body.includes('job.failed')), { message: 'the job.failed webhook' });
    const account = received.filter((x) => x.body.includes(ok.body.id) || x.body.includes(bad.body.id));
    expect(account.map((x) => JSON.parse(x.body).type)).toEqual(['job.failed']);
    expect(verify(ep.body.secret, account[0]!.headers as Record<string, string>, account[0]!.body)).toBe(true);
  });
});

describe('model registry', () => {
  it('aliases, user aliases with history, visibility and the public listing', async () => {
    const names = await api.get('/v1/models', u.token);
    expect(names.body.data.map((m: any) => m.name)).toEqual(expect.arrayContaining(['live', 'hooked']));
    const live = await api.get('/v1/models/live', u.token);
    expect(live.body.version_count).toBeGreaterThanOrEqual(3);
    const put = await api.call('PUT', '/v1/models/live/aliases/production', { token: u.token, json: { version: 1 } });
    expect(put.status).toBe(200);
    const put2 = await api.call('PUT', '/v1/models/live/aliases/production', { token: u.token, json: { version: 2 } });
    expect(put2.body.history.length).toBe(2);
    expect((await api.get('/v1/models/live/versions/production', u.token)).body.version).toBe(2);
    expect((await api.call('PUT', '/v1/models/live/aliases/latest', { token: u.token, json: { version: 1 } })).body.error.code).toBe('ALIAS_RESERVED');
    expect((await api.call('PUT', '/v1/models/live/aliases/production', { token: other.token, json: { version: 1 } })).status).toBe(404);

    expect((await api.get('/v1/models?visibility=public', other.token)).body.data).toEqual([]);
    const patched = await api.call('PATCH', '/v1/models/live', { token: u.token, json: { visibility: 'public', tags: ['demo'], description: 'an echo' } });
    expect(patched.body).toMatchObject({ visibility: 'public', tags: ['demo'], description: 'an echo' });
    const pub = await api.get('/v1/models?visibility=public&sort=popular', other.token);
    expect(pub.body.data.map((m: any) => [m.owner, m.name])).toEqual([['viewer', 'live']]);
    const seen = await api.get(`/v1/models/${encodeURIComponent('viewer/live')}`, other.token);
    expect(seen.status).toBe(200);
    expect((await api.call('PATCH', `/v1/models/${encodeURIComponent('viewer/live')}`, { token: other.token, json: { visibility: 'private' } })).status).toBe(
      404,
    );
    expect((await api.get(`/v1/models/${encodeURIComponent('viewer/hooked')}`, other.token)).status).toBe(404);
  });
});
