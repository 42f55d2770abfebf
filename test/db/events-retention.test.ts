/**
 * Events retention (EVENTS_RETENTION_DAYS): the events of jobs finished longer ago than that are
 * deleted in batches by a periodic task of the server, on both databases; the jobs themselves,
 * recent jobs' events and open jobs' events stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRetention } from '../../src/domain/jobs/retention.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let user: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let n = 0;

/** A job of `user` with `events` events; finished `daysAgo` days ago, or still `status` (queued/running) with no finish time. */
async function job(events: number, o: { daysAgo: number; status?: 'succeeded' | 'queued' | 'running' }): Promise<string> {
  const id = `job_ret${String(++n).padStart(10, '0')}`;
  const status = o.status ?? 'succeeded';
  const at = new Date(Date.now() - o.daysAgo * 86_400_000);
  await t.testDb.db.query(
    `insert into jobs (id, owner_id, trainer, status, hyperparameters, output, max_runtime_seconds, event_seq, created_at, finished_at, result)
     values ($1, $2, 'echo', $3, '{}', '{"model_name":"r"}', 60, $4, $5, $6, $7)`,
    [id, user.id, status, events, at, status === 'succeeded' ? at : null, status === 'succeeded' ? '{"metrics":{"score":1}}' : null],
  );
  await t.testDb.db.query(
    `insert into job_events (job_id, seq, type, data, created_at)
     select $1, s, 'log', jsonb_build_object('level', 'info', 'message', 'line ' || s), $2 from generate_series(1, $3::int) s`,
    [id, at, events],
  );
  return id;
}

async function eventCount(id: string): Promise<number> {
  const { rows } = await t.testDb.db.query<{ n: number }>('select count(*)::int as n from job_events where job_id = $1', [id]);
  return rows[0]!.n;
}

beforeAll(async () => {
  // The server prunes events of jobs finished more than 30 days ago, every 100 ms, 7 at a time.
  t = await startTestApp({
    env: { WORKER_IN_PROCESS: 'false', EVENTS_RETENTION_DAYS: '30', EVENTS_RETENTION_INTERVAL_MS: '100', EVENTS_RETENTION_BATCH: '7' },
  });
  api = client(t.url);
  user = await api.user('keeper');
});
afterAll(async () => {
  await t?.close();
});

describe('events retention', () => {
  it("the server deletes an old finished job's events by itself; the job, recent and open jobs' events stay", async () => {
    const old = await job(40, { daysAgo: 45 });
    const recent = await job(5, { daysAgo: 3 });
    const queued = await job(3, { daysAgo: 60, status: 'queued' });
    const running = await job(3, { daysAgo: 60, status: 'running' });

    await waitFor(
      () => api.get(`/v1/jobs/${old}/events?limit=1000`, user.token),
      (r) => r.status === 200 && r.body.data.length === 0,
      { message: "the old job's events to be pruned" },
    );
    const j = await api.get(`/v1/jobs/${old}`, user.token);
    expect(j.status).toBe(200);
    expect(j.body).toMatchObject({ id: old, status: 'succeeded' });
    // A finished job with nothing after the cursor: the stream answers 204 (EventSource stops).
    const sse = await fetch(`${t.url}/v1/jobs/${old}/events`, { headers: { authorization: `Bearer ${user.token}`, accept: 'text/event-stream' } });
    expect(sse.status).toBe(204);

    expect((await api.get(`/v1/jobs/${recent}/events`, user.token)).body.data).toHaveLength(5);
    expect(await eventCount(queued)).toBe(3);
    expect(await eventCount(running)).toBe(3);
    const { rows } = await t.testDb.db.query<{ id: string; pruned: boolean }>(
      'select id, events_pruned_at is not null as pruned from jobs where id = any($1::text[]) order by id',
      [[old, recent, queued, running]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.pruned]))).toEqual({ [old]: true, [recent]: false, [queued]: false, [running]: false });
  });

  it('a pass deletes in batches until nothing is left, and the next pass finds nothing', async () => {
    // 10 and 12 days old: outside the server's 30 days, inside this pass's 5.
    const a = await job(23, { daysAgo: 10 });
    const b = await job(9, { daysAgo: 12 });
    const keep = await job(4, { daysAgo: 1 });
    const r = new EventRetention(t.testDb.db, { days: 5, batch: 4, intervalMs: 60_000 });
    expect(await r.prune()).toBe(32);
    expect([await eventCount(a), await eventCount(b), await eventCount(keep)]).toEqual([0, 0, 4]);
    expect(await r.prune()).toBe(0);
  });

  it('0 days keeps every event', async () => {
    const old = await job(6, { daysAgo: 20 });
    const off = new EventRetention(t.testDb.db, { days: 0, batch: 4, intervalMs: 50 });
    off.start();
    expect(await off.prune()).toBe(0);
    await off.stop();
    expect(await eventCount(old)).toBe(6);
  });
});
