import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { fileURLToPath } from 'node:url';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob, waitForJobStep, waitForWorkerIdle } from '../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/trainers/', import.meta.url));
let t: TestApp;
let api: ReturnType<typeof client>;
let u: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let ds: string;
let grant: number;

const start = async (trainer: string, extra: Record<string, unknown> = {}) => {
  const r = await api.post('/v1/jobs', { trainer, dataset_id: ds, output: { model_name: trainer }, ...extra }, u.token);
  expect(r.status).toBe(202);
  return r.body.id as string;
};

/** After every misbehaviour: nothing held, nothing charged, ledger consistent. */
async function expectMoneyUntouched() {
  const b = (await api.get('/v1/credits/balance', u.token)).body;
  expect(b).toMatchObject({ held: 0, balance: grant - b.total_spent });
  expect(await t.rt.services.credits.ledgerSum(u.id)).toBe(b.balance);
}

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-misbehave-'));
  // chatty: the echo entry, running the fixture that floods protocol lines.
  const echo = (testTrainers().trainers as Array<{ id: string }>).find((d) => d.id === 'echo')!;
  const chatty = { ...echo, id: 'chatty', runtime: { type: 'command', entry: 'chatty', command: [process.execPath, path.join(FIXTURES, 'chatty.mjs')] } };
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers({ chatty })));
  t = await startTestApp({
    dataDir,
    env: {
      WORKER_POLL_MS: '50',
      JOBS_LEASE_SECONDS: '2',
      WORKER_STOP_GRACE_MS: '300',
      WORKER_DRAIN_MS: '0',
      ARTIFACT_MAX_BYTES: '1mb',
      JOBS_MAX_RUNTIME_SECONDS: '10',
      SIGNUP_CREDIT_GRANT: '1000',
    },
  });
  api = client(t.url);
  u = await api.user('chaos');
  grant = 1000;
  ds = await csvDataset(api, u.token, 'd');
});
afterAll(() => t.close());

describe('misbehaving trainers end in the right state, release their hold, and leave the worker healthy', () => {
  it('a crash → failed TRAINER_FAILED with the trainer’s own last error', async () => {
    const done = await waitForJob(api, u.token, await start('crash'));
    expect(done.status).toBe('failed');
    expect(done.error).toEqual({ code: 'TRAINER_FAILED', message: 'simulated crash: out of memory' });
    const logs = await api.get(`/v1/jobs/${done.id}/logs`, u.token);
    expect(logs.body.data.some((l: { stream?: string }) => l.stream === 'stderr')).toBe(true);
    await expectMoneyUntouched();
  });

  it('a hang → failed TIMEOUT after the runtime limit', async () => {
    // The runtime limit is every job's: high enough that the flood below, on a busy machine, stays inside it.
    const done = await waitForJob(api, u.token, await start('hang'), undefined, 40_000);
    expect(done.status).toBe('failed');
    expect(done.error.code).toBe('TIMEOUT');
    await expectMoneyUntouched();
  });

  it('a flood of garbage on stdout still succeeds, with its log volume capped', async () => {
    const done = await waitForJob(api, u.token, await start('flood'), undefined, 30_000);
    expect({ status: done.status, error: done.error }).toEqual({ status: 'succeeded', error: null });
    const { rows } = await t.testDb.db.query<{ n: number }>("select count(*)::int as n from job_events where job_id = $1 and type = 'log'", [done.id]);
    // The cap, the notice when it is reached, and the count at the end.
    expect(rows[0]!.n).toBeLessThanOrEqual(10_002);
    const { rows: big } = await t.testDb.db.query<{ n: number }>("select max(length(data->>'message'))::int as n from job_events where job_id = $1", [done.id]);
    expect(big[0]!.n).toBeLessThan(5000);
  });

  it('a trainer flooding protocol lines completes: progress coalesced, logs capped with a notice at once and a count at the end', async () => {
    // 30,000 progress, 24,000 log and 6,000 metrics lines, as fast as the pipe takes them.
    const steps = 60_000;
    const done = await waitForJob(api, u.token, await start('chatty', { hyperparameters: { steps } }), undefined, 60_000);
    expect({ status: done.status, error: done.error, score: done.result?.metrics?.score }).toEqual({ status: 'succeeded', error: null, score: steps });
    const { rows } = await t.testDb.db.query<{ type: string; n: number }>('select type, count(*)::int as n from job_events where job_id = $1 group by type', [
      done.id,
    ]);
    const n = Object.fromEntries(rows.map((r) => [r.type, r.n]));
    expect(n.metrics).toBe(steps / 10);
    // Coalesced to the latest per write: far fewer than the 30,000 sent.
    expect(n.progress).toBeLessThan(steps / 20);
    expect(n.log).toBeLessThanOrEqual(10_002);
    const { rows: notices } = await t.testDb.db.query<{ m: string }>(
      "select data->>'message' as m from job_events where job_id = $1 and type = 'log' and data->>'level' = 'warn' order by seq",
      [done.id],
    );
    expect(notices.map((r) => r.m)).toEqual([
      'log limit reached (10000 lines per attempt): further lines are dropped',
      `${(steps * 4) / 10 - 10_000} log lines were dropped (limit 10000 per attempt)`,
    ]);
    await expectMoneyUntouched();
  });

  it('a trainer that ignores SIGTERM is killed after the grace period when cancelled', async () => {
    const id = await start('ignore-sigterm');
    // Its first progress event comes after it has installed the SIGTERM handler it is here to test.
    await waitForJobStep(api, u.token, id, 1);
    await api.post(`/v1/jobs/${id}/cancel`, {}, u.token);
    const done = await waitForJob(api, u.token, id, undefined, 10_000);
    expect(done.status).toBe('cancelled');
    await expectMoneyUntouched();
  });

  it('a huge artifact → failed ARTIFACT_TOO_LARGE, nothing registered, nothing left in storage', async () => {
    const done = await waitForJob(api, u.token, await start('huge-artifact'));
    expect(done.status).toBe('failed');
    expect(done.error.code).toBe('ARTIFACT_TOO_LARGE');
    expect((await api.get('/v1/models/huge-artifact', u.token)).status).toBe(404);
    const artifacts = await readdir(path.join(t.dataDir, 'storage', 'artifacts'), { recursive: true }).catch(() => []);
    expect(artifacts.filter((f) => String(f).includes(done.id) && String(f).endsWith('.bin'))).toEqual([]);
    await expectMoneyUntouched();
  });

  it('after all that the worker still runs a good job, and no job folder is left behind', async () => {
    const done = await waitForJob(api, u.token, await start('echo'));
    expect(done.status).toBe('succeeded');
    // The status commits just before the run cleans its folder up: wait for the worker to be idle.
    await waitForWorkerIdle(t.rt.worker!);
    expect(await readdir(path.join(t.dataDir, 'work')).catch(() => [])).toEqual([]);
  });
});
