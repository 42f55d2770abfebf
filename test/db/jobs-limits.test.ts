/**
 * Limits that must hold before the work they limit is done: a sweep's size is refused from its
 * shape, a sweep that cannot fit the queue quota is refused before its children are prepared;
 * a user's open event streams are capped (SSE and WebSocket together), one connection replays
 * at most a page of past events, and a bad Last-Event-ID is a 400.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { appendEvents } from '../../src/domain/jobs/events.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { until } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let ds: string;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-limits-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({
    dataDir,
    env: { WORKER_IN_PROCESS: 'false', JOBS_MAX_QUEUED_PER_USER: '20', EVENTS_MAX_STREAMS_PER_USER: '3', EVENTS_REPLAY_MAX: '50' },
  });
  api = client(t.url);
  u = await api.user('limited');
  ds = await csvDataset(api, u.token, 'd');
});
afterAll(async () => {
  await t.close();
});

const values = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('sweep size', () => {
  it('refuses a 6-key × 50-value grid (15.6 billion points) with 400 SWEEP_TOO_LARGE and creates nothing', async () => {
    const before = (await api.get('/v1/credits/balance', u.token)).body;
    const grid = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, values(50)]));
    const r = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid, output: { model_name: 'huge' } }, u.token);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('SWEEP_TOO_LARGE');
    expect(r.body.error.details).toEqual({ max_jobs: 200 });
    expect((await api.get('/healthz')).status).toBe(200);
    expect((await api.get('/v1/sweeps', u.token)).body.data).toEqual([]);
    expect((await api.get('/v1/jobs', u.token)).body.data).toEqual([]);
    expect((await api.get('/v1/credits/balance', u.token)).body).toEqual(before);
  });

  it('counts repeats: 50 points × 5 repeats is over the cap', async () => {
    const r = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: { steps: values(50) }, repeats: 5 }, u.token);
    expect(r.body.error.code).toBe('SWEEP_TOO_LARGE');
  });

  it('a sweep larger than the room left in the queue quota is refused up front (429), nothing created', async () => {
    const r = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: { steps: values(21) }, output: { model_name: 'q' } }, u.token);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('QUEUE_QUOTA_EXCEEDED');
    expect((await api.get('/v1/jobs', u.token)).body.data).toEqual([]);
    const ok = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: { steps: values(20) }, output: { model_name: 'q' } }, u.token);
    expect(ok.status).toBe(201);
    expect(ok.body.job_counts).toEqual({ queued: 20 });
    // Every child is priced and validated like a job of its own, though only the first is looked up whole.
    const { rows } = await t.testDb.db.query<{ steps: number; cost: number }>(
      "select (hyperparameters->>'steps')::int as steps, cost from jobs where sweep_id = $1 order by 1",
      [ok.body.id],
    );
    expect(rows).toEqual(values(20).map((steps) => ({ steps, cost: 5 })));
    await api.post(`/v1/sweeps/${ok.body.id}/cancel`, {}, u.token);
  });
});

/** Blocks of an SSE body: every `field: value` line of each block (comments dropped). */
function sseBlocks(text: string): Array<Record<string, string>> {
  return text
    .split('\n\n')
    .map((b) =>
      Object.fromEntries(
        b
          .split('\n')
          .filter((l) => l && !l.startsWith(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      ),
    )
    .filter((b) => Object.keys(b).length > 0);
}

async function queuedJob(name = 'ev'): Promise<string> {
  const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: name } }, u.token);
  expect(r.status).toBe(202);
  return r.body.id as string;
}

const sseHeaders = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, accept: 'text/event-stream', ...extra });

/** A WebSocket on a job's events; messages are collected from the start (they may come with the upgrade). */
function openWs(jobId: string, token: string, query = ''): Promise<{ ws: WebSocket; status: number; got: any[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/jobs/${jobId}/ws${query}`, { headers: { authorization: `Bearer ${token}` } });
  const got: any[] = [];
  ws.on('message', (m) => got.push(JSON.parse(String(m))));
  const closed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, status: 101, got, closed }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ ws, status: res.statusCode ?? 0, got, closed });
    });
    ws.once('error', reject);
  });
}

describe('event streams', () => {
  it('caps open streams per user across SSE and WebSocket (429 TOO_MANY_STREAMS); closing one frees its slot', async () => {
    const job = await queuedJob();
    const url = `${t.url}/v1/jobs/${job}/events`;
    const hub = t.rt.services.hub!;
    const aborts = [new AbortController(), new AbortController()];
    const open = await Promise.all(aborts.map((a) => fetch(url, { headers: sseHeaders(u.token), signal: a.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const ws = await openWs(job, u.token);
    expect(ws.status).toBe(101);

    const sse4 = await fetch(url, { headers: sseHeaders(u.token) });
    expect(sse4.status).toBe(429);
    expect(hub.slots.held(u.id)).toBe(3);
    expect(((await sse4.json()) as any).error.code).toBe('TOO_MANY_STREAMS');
    expect(sse4.headers.get('retry-after')).toBeTruthy();
    expect((await openWs(job, u.token)).status).toBe(429);
    // The cap is per user: someone else still gets a stream (404 for u's job proves it reached the job check).
    const other = await api.user('someone-else');
    expect((await fetch(url, { headers: sseHeaders(other.token) })).status).toBe(404);

    // Closing an SSE stream gives its slot back...
    aborts[0]!.abort();
    await until(() => hub.slots.held(u.id) === 2, { message: 'the aborted SSE stream to release its slot' });
    const again = new AbortController();
    const reopened = await fetch(url, { headers: sseHeaders(u.token), signal: again.signal });
    expect(reopened.status).toBe(200);
    // ...and so does closing a WebSocket.
    ws.ws.close();
    await until(() => hub.slots.held(u.id) === 2, { message: 'the closed WebSocket to release its slot' });
    const ws2 = await openWs(job, u.token);
    expect(ws2.status).toBe(101);
    ws2.ws.close();
    again.abort();
    aborts[1]!.abort();
    await until(() => hub.slots.held(u.id) === 0, { message: 'every slot back' });
    await api.post(`/v1/jobs/${job}/cancel`, {}, u.token);
  });

  it('replays at most EVENTS_REPLAY_MAX past events per connection; Last-Event-ID pages through the rest', async () => {
    const job = await queuedJob();
    // 1 (queued) + 118 appended + 1 (cancelled) = 120 events.
    await appendEvents(
      t.testDb.db,
      job,
      Array.from({ length: 118 }, (_, i) => ({ type: 'log', data: { level: 'info', message: `line ${i}` } })),
    );
    await api.post(`/v1/jobs/${job}/cancel`, {}, u.token);
    const url = `${t.url}/v1/jobs/${job}/events`;
    const page = async (last?: number) =>
      sseBlocks(await (await fetch(url, { headers: sseHeaders(u.token, last === undefined ? {} : { 'last-event-id': String(last) }) })).text());

    const first = await page();
    expect(first.filter((b) => b.id).map((b) => Number(b.id))).toEqual(values(50));
    const more = first.at(-1)!;
    expect(more.event).toBe('more');
    expect(more.retry).toBe('1000'); // EventSource reconnects after 1 s, with Last-Event-ID 50
    expect(JSON.parse(more.data!)).toMatchObject({ type: 'more', last_event_id: 50 });

    const second = await page(50);
    expect(second.filter((b) => b.id).map((b) => Number(b.id))).toEqual(values(50).map((i) => i + 50));
    expect(second.at(-1)!.event).toBe('more');
    const third = await page(100);
    expect(third.map((b) => Number(b.id))).toEqual(values(20).map((i) => i + 100));
    expect(JSON.parse(third.at(-1)!.data!).data.status).toBe('cancelled');
    // Nothing after the end of a finished job: 204, which tells EventSource to stop reconnecting.
    expect((await fetch(url, { headers: sseHeaders(u.token, { 'last-event-id': '120' }) })).status).toBe(204);

    // The WebSocket pages the same way: 50 events, a "more" message, close 4000; ?after resumes.
    const { got, closed } = await openWs(job, u.token);
    expect(await closed).toBe(4000);
    expect(got.slice(0, 50).map((e) => e.seq)).toEqual(values(50));
    expect(got[50]).toMatchObject({ type: 'more', last_event_id: 50 });
    const rest = await openWs(job, u.token, '?after=100');
    expect(await rest.closed).toBe(1000);
    expect(rest.got.map((e) => e.seq)).toEqual(values(20).map((i) => i + 100));
    await until(() => t.rt.services.hub!.slots.held(u.id) === 0, { message: 'every slot back' });
  });

  it('a Last-Event-ID that is not an event number is 400 INVALID_LAST_EVENT_ID, never 500', async () => {
    const job = await queuedJob();
    await api.post(`/v1/jobs/${job}/cancel`, {}, u.token);
    for (const bad of ['1e20', 'abc', '-1', '99999999999999999999', '9007199254740993', '1.5', '0x10']) {
      const r = await fetch(`${t.url}/v1/jobs/${job}/events`, { headers: sseHeaders(u.token, { 'last-event-id': bad }) });
      expect(r.status, bad).toBe(400);
      expect(((await r.json()) as any).error.code).toBe('INVALID_LAST_EVENT_ID');
    }
    expect((await api.get(`/v1/jobs/${job}/events?after=1e20`, u.token)).status).toBe(400);
    const ok = await fetch(`${t.url}/v1/jobs/${job}/events`, { headers: sseHeaders(u.token, { 'last-event-id': '1' }) });
    expect(ok.status).toBe(200);
    expect(sseBlocks(await ok.text()).map((b) => b.id)).toEqual(['2']);
  });
});

describe('job metrics', () => {
  it('a run that reported 12,000 metrics answers at most 5,000 points per series, evenly thinned, the last one kept', async () => {
    const job = await queuedJob('metrics');
    await appendEvents(
      t.testDb.db,
      job,
      Array.from({ length: 12_000 }, (_, step) => ({ type: 'metrics', data: { step, values: { loss: 1 / (step + 1) } } })),
    );
    const r = await api.get(`/v1/jobs/${job}/metrics`, u.token);
    expect(r.status).toBe(200);
    const steps = (r.body.metrics.loss as Array<{ step: number }>).map((p) => p.step);
    expect(steps.length).toBeLessThanOrEqual(5000);
    expect(steps.length).toBeGreaterThan(3000);
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(11_999);
    const gaps = new Set(steps.slice(1, -1).map((s, i) => s - steps[i]!));
    expect(gaps).toEqual(new Set([3]));
    await api.post(`/v1/jobs/${job}/cancel`, {}, u.token);
  });
});

describe('sample datasets', () => {
  it('refuses a sample larger than its kind allows (400 SAMPLE_TOO_LARGE) before generating anything', async () => {
    for (const [kind, size] of [
      ['eeg', 100_000],
      ['security-prompts', 100_000],
      ['images', 201],
      ['videos', 51],
    ] as const) {
      const r = await api.post('/v1/datasets/samples', { kind, size }, u.token);
      expect(r.status, kind).toBe(400);
      expect(r.body.error.code).toBe('SAMPLE_TOO_LARGE');
    }
    // Only videos come as small as one (clip per class); the others keep their floor of 10.
    const small = await api.post('/v1/datasets/samples', { kind: 'eeg', size: 9 }, u.token);
    expect(small.status).toBe(400);
    expect(small.body.error.code).toBe('SAMPLE_TOO_SMALL');
    expect((await api.get('/v1/files', u.token)).body.data.filter((f: any) => f.filename !== 'd.csv')).toEqual([]);
  });

  it('a sample whose dataset is refused (its name taken, or invalid) keeps none of the files it made', async () => {
    const files = async () => (await api.get('/v1/files?limit=200', u.token)).body.data.length as number;
    const ok = await api.post('/v1/datasets/samples', { kind: 'images', size: 10, name: 'taken' }, u.token);
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const before = await files();
    const again = await api.post('/v1/datasets/samples', { kind: 'images', size: 10, name: 'taken' }, u.token);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('DATASET_NAME_EXISTS');
    const bad = await api.post('/v1/datasets/samples', { kind: 'images', size: 10, name: '!' }, u.token);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_NAME');
    expect(await files()).toBe(before);
  });
});
