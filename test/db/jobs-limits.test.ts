/**
 * Limits that must hold before the work they limit is done: a sweep's size is refused from its
 * shape, a sweep that cannot fit the queue quota is refused before its children are prepared.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let ds: string;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-limits-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false', JOBS_MAX_QUEUED_PER_USER: '10' } });
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
    const r = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: { steps: values(11) }, output: { model_name: 'q' } }, u.token);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('QUEUE_QUOTA_EXCEEDED');
    expect((await api.get('/v1/jobs', u.token)).body.data).toEqual([]);
    const ok = await api.post('/v1/sweeps', { trainer: 'echo', dataset_id: ds, grid: { steps: values(10) }, output: { model_name: 'q' } }, u.token);
    expect(ok.status).toBe(201);
    expect(ok.body.job_counts).toEqual({ queued: 10 });
    // Every child is priced and validated like a job of its own, though only the first is looked up whole.
    const { rows } = await t.testDb.db.query<{ steps: number; cost: number }>(
      "select (hyperparameters->>'steps')::int as steps, cost from jobs where sweep_id = $1 order by 1",
      [ok.body.id],
    );
    expect(rows).toEqual(values(10).map((steps) => ({ steps, cost: 5 })));
    await api.post(`/v1/sweeps/${ok.body.id}/cancel`, {}, u.token);
  });
});
