import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import type { Fence } from '../../src/domain/jobs/types.js';
import { startWorker } from '../../src/runtime.js';
import type { Worker } from '../../src/worker/worker.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { heldUpload } from '../helpers/held-upload.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitFor, waitForJob, waitForJobStep } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let dataDir: string;
const workers: Worker[] = [];

const silent = pino({ level: 'silent' });
async function newWorker(): Promise<Worker> {
  const w = startWorker(t.rt.services.config, t.rt.services, silent);
  await w.start();
  workers.push(w);
  return w;
}

/** A claim made by hand, as a worker's loop makes it: what a worker that then dies leaves behind. */
const lcOf = () => t.rt.services.lifecycle;
async function claim(w: Parameters<ReturnType<typeof lcOf>['claim']>[1]) {
  return t.testDb.db.transaction((tx: Queryable) => lcOf().claim(tx, w));
}

async function stopAllWorkers() {
  for (const w of workers.splice(0)) await w.stop(0);
}

async function ledger(userId: string, jobId: string): Promise<string[]> {
  const { rows } = await t.testDb.db.query<{ type: string }>('select type from credit_ledger where user_id = $1 and job_id = $2 order by id', [userId, jobId]);
  return rows.map((r) => r.type);
}

async function moneyIsConsistent(userId: string) {
  const b = await t.rt.services.credits.balance(userId);
  expect(b.balance).toBeGreaterThanOrEqual(0);
  expect(await t.rt.services.credits.ledgerSum(userId)).toBe(b.balance);
  const { rows } = await t.testDb.db.query<{ n: number }>(
    `select coalesce(sum(amount), 0)::int as n from credit_holds where user_id = $1 and status = 'held'`,
    [userId],
  );
  expect(rows[0]!.n).toBe(b.held);
  return b;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-reliability-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  // No in-process worker: each test starts (and kills) the workers it needs.
  t = await startTestApp({
    dataDir,
    env: {
      WORKER_IN_PROCESS: 'false',
      WORKER_POLL_MS: '50',
      JOBS_LEASE_SECONDS: '1',
      WORKER_STOP_GRACE_MS: '2000',
      WORKER_DRAIN_MS: '0',
      JOBS_MAX_QUEUED_PER_USER: '1000',
      SIGNUP_CREDIT_GRANT: '1000',
    },
  });
  api = client(t.url);
});
afterAll(async () => {
  for (const w of workers) await w.stop(0);
  await t.close();
});

describe('a lost worker', () => {
  it('a worker that vanishes mid-job (its lease is never renewed): the job is reclaimed, finished by another worker, charged once', async () => {
    await stopAllWorkers();
    const u = await api.user('lost');
    const ds = await csvDataset(api, u.token, 'd');
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 3 }, output: { model_name: 'm' } }, u.token);
    // What a kill -9 leaves in the database: a running claim that nobody renews.
    const claimed = await claim({ workerId: 'wkr_dead', freeGpus: 0, labels: [], leaseSeconds: 1, maxRunningPerUser: 10 });
    expect(claimed?.id).toBe(r.body.id);
    await newWorker();
    const done = await waitForJob(api, u.token, r.body.id, undefined, 20_000);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
    const events = (await api.get(`/v1/jobs/${r.body.id}/events?limit=1000`, u.token)).body.data;
    // The lost attempt shows as running (claimed by wkr_dead), then queued again for the retry.
    expect(events.filter((e: any) => e.type === 'status').map((e: any) => [e.data.status, e.data.attempt ?? null])).toEqual([
      ['queued', null],
      ['running', 1],
      ['queued', null],
      ['running', 2],
      ['succeeded', null],
    ]);
    expect(events.find((e: any) => e.data.reason?.includes('wkr_dead lost'))).toBeTruthy();
    expect(await ledger(u.id, r.body.id)).toEqual(['hold', 'capture']);
    await moneyIsConsistent(u.id);
  });

  it.runIf(TEST_DB === 'postgres')(
    'kill -9 of a real worker process mid-job: reclaimed after the lease expires, finished by another worker, charged exactly once (needs a server: PGlite is one process)',
    async () => {
      await stopAllWorkers();
      const u = await api.user('killed');
      const ds = await csvDataset(api, u.token, 'd');
      const r = await api.post(
        '/v1/jobs',
        { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 400, sleep_ms: 25 }, output: { model_name: 'm' } },
        u.token,
      );
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts'), 'worker'], {
        env: { ...process.env, DATABASE_URL: t.testDb.url!, DATA_DIR: dataDir, LOG_LEVEL: 'warn', JOBS_LEASE_SECONDS: '1', WORKER_POLL_MS: '50' },
        stdio: 'ignore',
      });
      try {
        const running = await waitForJob(api, u.token, r.body.id, ['running'], 30_000);
        const { rows } = await t.testDb.db.query<{ worker_id: string }>('select worker_id from jobs where id = $1', [r.body.id]);
        expect(rows[0]!.worker_id).toMatch(/^wkr_/);
        await waitForJobStep(api, u.token, r.body.id, 5);
        expect(running.attempt).toBe(1);
      } finally {
        child.kill('SIGKILL');
      }
      await new Promise((s) => child.once('exit', s));
      await newWorker();
      const done = await waitForJob(api, u.token, r.body.id, undefined, 60_000);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
      expect(await ledger(u.id, r.body.id)).toEqual(['hold', 'capture']);
      const b = await moneyIsConsistent(u.id);
      expect(b.total_spent).toBe(5);
    },
    90_000,
  );
});

describe('fencing', () => {
  it('rejects every late write of a stale worker once its claim was reaped and taken by another', async () => {
    const u = await api.user('fenced');
    const ds = await csvDataset(api, u.token, 'd');
    const r = await api.post('/v1/jobs', { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'm' } }, u.token);
    const db = t.testDb.db;
    const lc = lcOf();
    const a = await claim({ workerId: 'wkr_a', freeGpus: 1, labels: [], leaseSeconds: 1, maxRunningPerUser: 10 });
    expect(a?.id).toBe(r.body.id);
    const fenceA = { jobId: a!.id, workerId: 'wkr_a', attempt: a!.attempt };
    await db.query("update jobs set lease_expires_at = now() - interval '1 second' where id = $1", [a!.id]);
    await db.transaction((tx) => lc.reapExpired(tx));
    // The reaper delays a retry a little (backoff); skip the wait.
    await db.query('update jobs set run_after = now() where id = $1', [a!.id]);
    const b = await claim({ workerId: 'wkr_b', freeGpus: 1, labels: [], leaseSeconds: 30, maxRunningPerUser: 10 });
    expect(b).toMatchObject({ id: a!.id, attempt: 2 });
    const fenceB = { jobId: b!.id, workerId: 'wkr_b', attempt: b!.attempt };

    const info = { primaryMetric: { name: 'score', goal: 'maximize' as const }, triggerWord: null };
    const succeed = (f: Fence, score: number) => db.transaction((tx) => lc.succeedTraining(tx, f, { metrics: { score } }, [], info));
    expect(await lc.heartbeat(db, fenceA, 30)).toBeNull();
    expect(await db.transaction((tx) => lc.record(tx, fenceA, [], { progress: 0.5, step: 1, total_steps: 2, epoch: null, eta_seconds: null }))).toBe(false);
    expect(await db.transaction((tx) => lc.record(tx, fenceA, [{ type: 'log', data: { message: 'stale' } }], null))).toBe(false);
    expect(await lc.saveCheckpoint(db, fenceA, { step: 1, key: 'checkpoints/x', name: 'x' })).toBe(false);
    expect(await succeed(fenceA, 1)).toBeNull();
    expect(await db.transaction((tx) => lc.fail(tx, fenceA, { code: 'X', message: 'stale failure' }))).toBeNull();
    expect(await db.transaction((tx) => lc.cancelStopped(tx, fenceA))).toBeNull();
    expect(await db.transaction((tx) => lc.timeOut(tx, fenceA, 1))).toBeNull();
    expect(await db.transaction((tx) => lc.handBack(tx, fenceA))).toBeNull();
    expect((await api.get(`/v1/jobs/${a!.id}`, u.token)).body).toMatchObject({ status: 'running', attempt: 2 });
    expect(await ledger(u.id, a!.id)).toEqual(['hold']);

    const done = await succeed(fenceB, 2);
    expect(done?.status).toBe('succeeded');
    expect(await succeed(fenceB, 2)).toBeNull();
    expect(await ledger(u.id, a!.id)).toEqual(['hold', 'capture']);
    const { rows } = await db.query("select 1 from job_events where job_id = $1 and data->>'message' = 'stale'", [a!.id]);
    expect(rows).toEqual([]);
    await moneyIsConsistent(u.id);
  });
});

describe('money under concurrency', () => {
  it('200 concurrent job creations with credits for 20: exactly 20 accepted, balance never below zero', async () => {
    const u = await api.user('rush');
    const ds = await csvDataset(api, u.token, 'd');
    await t.testDb.db.query('update credit_accounts set balance = 100 where user_id = $1', [u.id]);
    await t.testDb.db.query('delete from credit_ledger where user_id = $1', [u.id]);
    await t.testDb.db.query("insert into credit_ledger (user_id, type, purpose, amount, credits, note) values ($1, 'grant', 'grant', 100, 100, 'test')", [
      u.id,
    ]);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => api.post('/v1/jobs', { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: `m${i}` } }, u.token)),
    );
    const codes = results.map((r) => r.status);
    expect(codes.filter((c) => c === 202)).toHaveLength(20);
    expect(codes.filter((c) => c === 402)).toHaveLength(180);
    expect(results.find((r) => r.status === 402)!.body.error.code).toBe('INSUFFICIENT_CREDITS');
    const b = await moneyIsConsistent(u.id);
    expect(b).toMatchObject({ balance: 0, held: 100 });
    const { rows } = await t.testDb.db.query<{ n: number }>('select count(*)::int as n from jobs where owner_id = $1', [u.id]);
    expect(rows[0]!.n).toBe(20);
  });

  it('the same Idempotency-Key sent 10 times at once makes one job and one hold', async () => {
    const u = await api.user('idem');
    const ds = await csvDataset(api, u.token, 'd');
    const body = { trainer: 'gpu-echo', dataset_id: ds, output: { model_name: 'm' } };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => api.call('POST', '/v1/jobs', { token: u.token, json: body, headers: { 'idempotency-key': 'same' } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const { rows } = await t.testDb.db.query<{ n: number }>('select count(*)::int as n from credit_holds where user_id = $1', [u.id]);
    expect(rows[0]!.n).toBe(1);
    expect((await moneyIsConsistent(u.id)).held).toBe(5);
  });

  it('cancel racing completion: one final state, money settled exactly once, every time', async () => {
    await stopAllWorkers();
    const u = await api.user('racer');
    const ds = await csvDataset(api, u.token, 'd');
    await newWorker();
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await api.post(
        '/v1/jobs',
        { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 3, sleep_ms: 20 }, output: { model_name: 'race' } },
        u.token,
      );
      await waitForJob(api, u.token, r.body.id, ['running', 'succeeded']);
      // A deliberate spread of delays (0-119 ms), not a wait for a state: each round cancels
      // at a different point of the run (claim, steps, result, capture) to hit every race.
      await new Promise((s) => setTimeout(s, (i * 17) % 120));
      const c = await api.post(`/v1/jobs/${r.body.id}/cancel`, {}, u.token);
      expect([200, 409]).toContain(c.status);
      const done = await waitForJob(api, u.token, r.body.id);
      outcomes.push(done.status);
      const l = await ledger(u.id, r.body.id);
      expect(l).toEqual(done.status === 'succeeded' ? ['hold', 'capture'] : ['hold', 'release']);
      if (done.status === 'succeeded') expect((await api.get('/v1/models/race', u.token)).status).toBe(200);
    }
    expect(outcomes.every((o) => o === 'succeeded' || o === 'cancelled')).toBe(true);
    const b = await moneyIsConsistent(u.id);
    expect(b.held).toBe(0);
    expect(b.total_spent).toBe(outcomes.filter((o) => o === 'succeeded').length * 5);
  });
});

describe('draining', () => {
  it('a stopping worker hands its job back without charge, and the next worker resumes from the checkpoint', async () => {
    await stopAllWorkers();
    const u = await api.user('drain');
    const ds = await csvDataset(api, u.token, 'd');
    const w1 = await newWorker();
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 60, sleep_ms: 25 }, output: { model_name: 'm' } },
      u.token,
    );
    await waitForJobStep(api, u.token, r.body.id, 5);
    await w1.stop(0);
    const back = (await api.get(`/v1/jobs/${r.body.id}`, u.token)).body;
    expect(back).toMatchObject({ status: 'queued', attempt: 1, max_attempts: 4 });
    expect(await ledger(u.id, r.body.id)).toEqual(['hold']);
    await newWorker();
    const done = await waitForJob(api, u.token, r.body.id, undefined, 20_000);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
    const logs = (await api.get(`/v1/jobs/${r.body.id}/logs`, u.token)).body.data.map((l: any) => l.message);
    expect(logs.some((m: string) => /^resumed from step [1-9]\d*$/.test(m))).toBe(true);
    expect(await ledger(u.id, r.body.id)).toEqual(['hold', 'capture']);
  });
});

describe('a slow end', () => {
  it('keeps the lease while the artifacts are stored: an upload longer than the lease still succeeds on its first attempt', async () => {
    await stopAllWorkers();
    const u = await api.user('slow-upload');
    const ds = await csvDataset(api, u.token, 'd');
    // The attempt's artifact upload is held back until the test lets it through.
    const held = heldUpload();
    const w = startWorker(t.rt.services.config, t.rt.services, silent, { executor: held.executor });
    await w.start();
    workers.push(w);
    const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'slow' } }, u.token);
    // Whatever happens below, the gate opens (a held upload would hold the worker's stop too).
    onTestFinished(() => held.letThrough());
    await held.started;
    const lease = async () =>
      (await t.testDb.db.query<{ at: Date; status: string }>('select lease_expires_at as at, status from jobs where id = $1', [r.body.id])).rows[0]!;
    const first = await lease();
    // Renewed while the upload waits (JOBS_LEASE_SECONDS=1 here, and this worker reaps every
    // 0.5 s): before, the heartbeat stopped with the trainer and the reaper took the job back.
    const renewed = await waitFor(lease, (l) => l.at.getTime() > first.at.getTime() + 1000, { message: 'the lease to be renewed twice' });
    expect(renewed.status).toBe('running');
    held.letThrough();
    expect(await waitForJob(api, u.token, r.body.id)).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(await ledger(u.id, r.body.id)).toEqual(['hold', 'capture']);
  });
});
