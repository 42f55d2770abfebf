/**
 * queue_position: how many queued jobs are ahead of a queued one (higher priority, or the same
 * priority and created earlier), on GET /v1/jobs/{id} and POST /v1/jobs; null once it left the
 * queue, and null in lists.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let alice: { token: string; id: string; ds: string };

async function submit(priority = 0): Promise<{ id: string; queue_position: number | null }> {
  const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: alice.ds, priority, output: { model_name: 'qp' } }, alice.token);
  expect(r.status).toBe(202);
  return r.body;
}
const position = async (id: string) => {
  const r = await api.get(`/v1/jobs/${id}`, alice.token);
  expect(r.status).toBe(200);
  return r.body.queue_position as number | null;
};

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-qpos-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  // No worker: jobs stay queued until the test claims one by hand.
  t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false' } });
  api = client(t.url);
  const u = await api.user('queuer');
  alice = { ...u, ds: await csvDataset(api, u.token, 'd') };
});
afterAll(async () => {
  await t?.close();
});

describe('queue_position', () => {
  it('counts the queued jobs ahead: creation order within a priority, higher priority first; null once claimed or finished', async () => {
    const a = await submit();
    const b = await submit();
    const c = await submit();
    // The 202 carries it already.
    expect([a.queue_position, b.queue_position, c.queue_position]).toEqual([0, 1, 2]);
    expect([await position(a.id), await position(b.id), await position(c.id)]).toEqual([0, 1, 2]);

    // A later job of higher priority goes ahead of all three.
    const urgent = await submit(10);
    expect(urgent.queue_position).toBe(0);
    expect([await position(a.id), await position(b.id), await position(c.id)]).toEqual([1, 2, 3]);

    // Lists leave it null (documented): one count per row would not be cheap.
    const list = await api.get('/v1/jobs?limit=10', alice.token);
    expect(list.body.data.map((j: { queue_position: unknown }) => j.queue_position)).toEqual([null, null, null, null]);

    // The worker claims the urgent one: it is running, with no place in the queue, and the rest move up.
    const w = { workerId: 'wkr_qpos', freeGpus: 0, labels: [], leaseSeconds: 30, maxRunningPerUser: 100 };
    const claimed = await t.testDb.db.transaction((tx: Queryable) => t.rt.services.lifecycle.claim(tx, w));
    expect(claimed?.id).toBe(urgent.id);
    expect(await position(urgent.id)).toBeNull();
    expect([await position(a.id), await position(b.id), await position(c.id)]).toEqual([0, 1, 2]);

    // A cancelled (finished) job has none either, and no longer counts for those behind it.
    const cancelled = await api.post(`/v1/jobs/${a.id}/cancel`, {}, alice.token);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', queue_position: null });
    expect(await position(a.id)).toBeNull();
    expect([await position(b.id), await position(c.id)]).toEqual([0, 1]);
  });
});
