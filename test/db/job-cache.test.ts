import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicJobById } from '../../src/domain/jobs/queries.js';
import { publicJob } from '../../src/domain/jobs/shape.js';
import { client, startPeer, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitFor } from '../helpers/wait.js';

// The job cache (issue #15): GET /v1/jobs/{id} answered without a query, kept correct by the
// jobs table's notifications. Two API instances share one database (on Postgres each with its
// own pool and LISTEN connection, as two processes; on PGlite two runtimes on the one database).
// A change shows at once on the process whose connection made it (it waits for its own writes'
// notifications before serving a hit) and on the other one when the notification reaches it.

const ADMIN = { username: 'jc-admin', password: 'correct horse battery staple' };
const ENV = { TRAINYARD_SECRET: 'job-cache-test-secret-0123456789abcdef', TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password };
// No worker anywhere: jobs stay queued until the test moves them.
const NO_WORKER = { WORKER_IN_PROCESS: 'false', JOB_CACHE_MS: '60000' };

type Api = ReturnType<typeof client>;
let a: TestApp;
let b: Awaited<ReturnType<typeof startPeer>>;
let A: Api;
let B: Api;
let alice: { id: string; token: string; ds: string };
let admin: string;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-jc-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  a = await startTestApp({ dataDir, env: { ...ENV, ...NO_WORKER, STORAGE: 'fs' } });
  b = await startPeer(a, { ...ENV, ...NO_WORKER });
  A = client(a.url);
  B = client(b.rt.url);
  const u = await A.user('jc-alice');
  alice = { ...u, ds: await csvDataset(A, u.token, 'jc') };
  admin = (await A.post('/v1/auth/login', ADMIN)).body.access_token;
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  if (a) await rm(a.dataDir, { recursive: true, force: true });
});

const submit = async (priority = 0): Promise<string> => {
  const r = await A.post('/v1/jobs', { trainer: 'echo', dataset_id: alice.ds, priority, output: { model_name: 'jc' } }, alice.token);
  expect(r.status).toBe(202);
  return r.body.id;
};
const look = async (api: Api, id: string, token = alice.token) => {
  const r = await api.get(`/v1/jobs/${id}`, token);
  return r.status === 200 ? { status: r.body.status, queue_position: r.body.queue_position, metadata: r.body.metadata } : { error: r.body.error.code };
};
const caches = () => [a.rt.services.jobs.cache, b.rt.services.jobs.cache];
const stats = () => caches().map((c) => ({ ...c.stats }));
/** What `see` gives on the other process once the notification has reached it. */
const onOther = (api: Api, see: () => Promise<unknown>, want: unknown, what: string) =>
  waitFor(see, (v) => JSON.stringify(v) === JSON.stringify(want), { message: `${what} on ${api === A ? 'A' : 'B'}` });

describe('job cache across two API processes', () => {
  it('answers repeated GETs from the cache, and a change shows at once where it was made and on the other process when notified', async () => {
    const id = await submit();
    for (const api of [A, B]) expect(await look(api, id)).toEqual({ status: 'queued', queue_position: 0, metadata: {} });
    const before = stats();
    for (const api of [A, B]) for (let i = 0; i < 3; i++) expect((await look(api, id)).status).toBe('queued');
    const after = stats();
    // Three hits on each process, and no read of the database for them.
    expect(after.map((s, i) => s.hits - before[i]!.hits)).toEqual([3, 3]);
    expect(after.map((s, i) => s.misses - before[i]!.misses)).toEqual([0, 0]);

    // A change made in SQL on A's database handle (any path: a worker, a facade, an operator).
    await a.testDb.db.query(`update jobs set metadata = '{"note":"changed"}' where id = $1`, [id]);
    expect(await look(A, id)).toEqual({ status: 'queued', queue_position: 0, metadata: { note: 'changed' } });
    await onOther(B, () => look(B, id), { status: 'queued', queue_position: 0, metadata: { note: 'changed' } }, 'the metadata change');

    // Cancelled through B's API: B shows it on the next request, A once notified; then deleted through A.
    expect((await B.post(`/v1/jobs/${id}/cancel`, {}, alice.token)).status).toBe(200);
    expect((await look(B, id)).status).toBe('cancelled');
    await onOther(A, async () => (await look(A, id)).status, 'cancelled', 'the cancel');
    expect((await A.del(`/v1/jobs/${id}`, alice.token)).status).toBe(204);
    expect(await look(A, id)).toEqual({ error: 'JOB_NOT_FOUND' });
    await onOther(B, () => look(B, id), { error: 'JOB_NOT_FOUND' }, 'the deletion');
  });

  it('moves every cached queued job when the queue changes: a job queued ahead, a cancel ahead', async () => {
    const first = await submit();
    const second = await submit();
    for (const api of [A, B]) expect((await look(api, second)).queue_position).toBe(1);
    // Queued through A's API with a higher priority: A shows the new order at once.
    const urgent = await submit(5);
    expect((await look(A, second)).queue_position).toBe(2);
    await onOther(B, async () => (await look(B, second)).queue_position, 2, 'the urgent job ahead');
    // Cancelled through B: B at once, A once notified.
    expect((await B.post(`/v1/jobs/${urgent}/cancel`, {}, alice.token)).status).toBe(200);
    expect((await B.post(`/v1/jobs/${first}/cancel`, {}, alice.token)).status).toBe(200);
    expect((await look(B, second)).queue_position).toBe(0);
    await onOther(A, async () => (await look(A, second)).queue_position, 0, 'two cancels ahead');
  });

  it('is scoped to the owner: another user gets 404 for a cached job, an admin sees it', async () => {
    const id = await submit();
    expect((await look(A, id)).status).toBe('queued'); // cached on A
    const bob = await A.user('jc-bob');
    expect(await look(A, id, bob.token)).toEqual({ error: 'JOB_NOT_FOUND' });
    expect((await look(A, id, admin)).status).toBe('queued');
  });

  it('a lease renewal notifies nothing; any change to what the answer shows does', async () => {
    const id = await submit();
    const heard: string[] = [];
    const unlisten = await a.testDb.db.listen('trainyard_job_changes', (p) => heard.push(p));
    try {
      await a.testDb.db.query(`update jobs set lease_expires_at = now() + interval '1 minute' where id = $1`, [id]);
      await a.testDb.db.query(`update jobs set progress = 0.5 where id = $1`, [id]);
      await a.testDb.db.query(`update jobs set priority = 3 where id = $1`, [id]);
      // Notifications arrive in commit order: once the last is heard, a lease one would be too.
      await waitFor(
        () => heard.length,
        (n) => n >= 2,
        { message: 'the two notifications' },
      );
      expect(heard).toEqual([`j:${id}`, `q:${id}`]);
    } finally {
      await unlisten();
    }
  });

  it('does not store a read that a change overtook, and shows this process its own writes', async () => {
    const id = await submit();
    const cache = a.rt.services.jobs.cache;
    const db = a.testDb.db;
    // The database read the service makes, without the cache.
    const loadJob = async () => {
      const row = (await publicJobById(db, alice.id, id))!;
      return { ownerId: row.owner_id, job: publicJob(row, { queuePosition: row.queue_position }) };
    };
    await db.query(`update jobs set metadata = '{"v":1}' where id = $1`, [id]);
    const stale = await cache.read(id, alice.id, false, async () => {
      const old = await loadJob();
      await db.query(`update jobs set metadata = '{"v":2}' where id = $1`, [id]);
      await db.notifySync?.sync(); // the cache has heard the change before this read ends
      return old;
    });
    expect(stale?.metadata).toEqual({ v: 1 });
    let loaded = 0;
    const next = await cache.read(id, alice.id, false, async () => (loaded++, loadJob()));
    expect(loaded).toBe(1);
    expect(next?.metadata).toEqual({ v: 2 });

    // Cached again. A write through this process's handle: on a server its notification may still
    // be on the way when the write answers, so the next read first waits for it (PGlite has
    // handled it before the write's promise settles: nothing to wait for).
    await db.query(`update jobs set metadata = '{"v":3}' where id = $1`, [id]);
    if (db.notifySync) expect(db.notifySync.behind()).toBe(true);
    const third = await cache.read(id, alice.id, false, async () => (loaded++, loadJob()));
    expect(third?.metadata).toEqual({ v: 3 });
    expect(loaded).toBe(2);
    if (db.notifySync) expect(db.notifySync.behind()).toBe(false);
  });
});

describe('job cache, last: a TRUNCATE', () => {
  it('drops every cached job on every process (no row trigger fires for it)', async () => {
    const id = await submit();
    for (const api of [A, B]) expect((await look(api, id)).status).toBe('queued');
    await a.testDb.db.query('truncate jobs cascade');
    expect(await look(A, id)).toEqual({ error: 'JOB_NOT_FOUND' });
    await onOther(B, () => look(B, id), { error: 'JOB_NOT_FOUND' }, 'the truncation');
  });
});

describe('JOB_CACHE_MS=0', () => {
  let t: TestApp;
  beforeAll(async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-jc-off-'));
    await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
    t = await startTestApp({ dataDir, env: { JOB_CACHE_MS: '0', WORKER_IN_PROCESS: 'false' } });
  });
  afterAll(async () => {
    await t?.close();
    if (t) await rm(t.dataDir, { recursive: true, force: true });
  });
  it('caches nothing', async () => {
    const api = client(t.url);
    const u = await api.user('jc-off');
    const ds = await csvDataset(api, u.token, 'off');
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'off' } }, u.token);
    expect(r.status).toBe(202);
    for (let i = 0; i < 3; i++) expect((await api.get(`/v1/jobs/${r.body.id}`, u.token)).status).toBe(200);
    expect(t.rt.services.jobs.cache.size).toBe(0);
    expect(t.rt.services.jobs.cache.stats).toEqual({ hits: 0, misses: 0 });
  });
});
