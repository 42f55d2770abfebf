/**
 * The queue's order and the per-owner running limit, claimed as a worker claims (one
 * transaction per claim), against the real lifecycle SQL on both databases.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import type { JobRow } from '../../src/domain/jobs/types.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { until } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
type User = Awaited<ReturnType<ReturnType<typeof client>['user']>> & { ds: string };
let alice: User;
let bob: User;

const worker = (maxRunningPerUser = 100, workerId = 'wkr_q') => ({ workerId, freeGpus: 0, labels: [], leaseSeconds: 30, maxRunningPerUser });
const claim = (w = worker()) => t.testDb.db.transaction((tx: Queryable) => t.rt.services.lifecycle.claim(tx, w));

async function submit(u: User, priority = 0, name = 'q'): Promise<string> {
  const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: u.ds, priority, output: { model_name: name } }, u.token);
  expect(r.status).toBe(202);
  return r.body.id as string;
}

async function running(ownerId: string): Promise<number> {
  const { rows } = await t.testDb.db.query<{ n: number }>("select count(*)::int as n from jobs where owner_id = $1 and status = 'running'", [ownerId]);
  return rows[0]!.n;
}

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-queue-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  // No worker: the tests claim by hand, exactly as a worker's loop does.
  t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false' } });
  api = client(t.url);
  for (const name of ['alice', 'bob']) {
    const u = await api.user(name);
    const user = { ...u, ds: await csvDataset(api, u.token, 'd') };
    if (name === 'alice') alice = user;
    else bob = user;
  }
});
afterEach(async () => {
  // Each test starts with an empty queue and nothing running.
  await t.testDb.db.query("update jobs set status = 'cancelled', finished_at = now() where status in ('queued', 'running', 'cancel_requested')");
});
afterAll(async () => {
  await t?.close();
});

describe('priority is per owner; owners are served fairly', () => {
  it("another user's high priority does not jump ahead of an earlier job: B's job runs first", async () => {
    const bobs = await submit(bob, 0);
    const alices = [await submit(alice, 100), await submit(alice, 100), await submit(alice, 100)];
    const first = await claim();
    expect(first?.id).toBe(bobs);
    const rest = [await claim(), await claim(), await claim()];
    expect(rest.map((j) => j?.id)).toEqual(alices);
    expect(await claim()).toBeNull();
  });

  it("priority orders an owner's own jobs: a later high-priority job runs before the same owner's earlier ones", async () => {
    const low = await submit(alice, -5);
    const normal = await submit(alice, 0);
    const high = await submit(alice, 50);
    const order = [await claim(), await claim(), await claim()].map((j) => j?.id);
    expect(order).toEqual([high, normal, low]);
  });

  it('an owner with fewer running jobs goes first, whatever the priorities', async () => {
    await submit(alice, 0);
    await claim(); // alice: 1 running
    const alices = await submit(alice, 100);
    const bobs = await submit(bob, -100);
    expect((await claim())?.id).toBe(bobs);
    expect((await claim())?.id).toBe(alices);
  });
});

describe('the per-owner running limit', () => {
  it('is exact when two workers claim at once from two connections (no overshoot by one)', async () => {
    await submit(alice);
    await submit(alice);
    const limit = worker(1);
    if (TEST_DB === 'pglite') {
      // PGlite is one connection: transactions cannot overlap, so only the sequential part applies.
      expect(await claim(limit)).not.toBeNull();
      expect(await claim({ ...limit, workerId: 'wkr_q2' })).toBeNull();
      expect(await running(alice.id)).toBe(1);
      return;
    }
    // Worker 1 claims and keeps its transaction open; worker 2 claims meanwhile on another
    // connection. Worker 2 either finishes at once or waits on a lock: either way, worker 1
    // commits only after worker 2 has taken its snapshot, the moment the old query raced on.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let claimed1!: (j: JobRow | null) => void;
    const first = new Promise<JobRow | null>((r) => (claimed1 = r));
    const w1 = t.testDb.db.transaction(async (tx: Queryable) => {
      const j = await t.rt.services.lifecycle.claim(tx, limit);
      claimed1(j);
      await gate;
      return j;
    });
    expect(await first).not.toBeNull();
    let w2Done = false;
    const w2 = claim({ ...limit, workerId: 'wkr_q2' }).finally(() => (w2Done = true));
    const waiting = async () =>
      (
        await t.testDb.db.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        )
      ).rows[0]!.n;
    await until(async () => w2Done || (await waiting()) > 0, { message: 'worker 2 to finish or wait on a lock' });
    release();
    const [a, b] = await Promise.all([w1, w2]);
    expect(a).not.toBeNull();
    expect(b).toBeNull();
    expect(await running(alice.id)).toBe(1);
  });

  it("a full owner does not block the queue: the next owner's job is claimed", async () => {
    await submit(alice);
    await submit(alice);
    const bobs = await submit(bob);
    expect((await claim(worker(1)))?.owner_id).toBe(alice.id);
    expect((await claim(worker(1)))?.id).toBe(bobs);
    expect(await claim(worker(1))).toBeNull();
  });
});
