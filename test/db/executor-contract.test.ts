import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/executors/executor.js';
import type { LocalExecutor } from '../../src/executors/local-executor.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob, waitForJobStep } from '../helpers/wait.js';

// The worker's side of the executor interface (src/executors/executor.ts), on a real database
// with real trainers: what it does when an executor reports that the machine under the trainer
// failed. Stand-in, named as such: a cluster that preempts its node is played by wrapping the
// local executor (the trainer gets SIGTERM and checkpoints, then the attempt reports
// `infrastructure`), since no cluster runs in this project's unit of tests; the Slurm and
// Kubernetes suites do the same against real schedulers.

type Api = ReturnType<typeof client>;
let t: TestApp;
let api: Api;
let user: Awaited<ReturnType<Api['user']>>;
let ds: string;
/** Attempts numbered up to this one are "preempted" once the trainer reached step 3. */
let preemptUpTo = 0;

const preempting = (local: LocalExecutor): Executor => ({
  kind: 'preempting-test-cluster',
  start(ctx) {
    const a = local.start(ctx);
    if (ctx.job.attempt > preemptUpTo) return a;
    const done = (async () => {
      await waitForJobStep(api, user.token, ctx.job.id, 3);
      a.stop(5000); // a scheduler's preemption: SIGTERM, the trainer checkpoints, then it is gone
      const end = await a.done;
      // Exited after the SIGTERM, or stopped while still staging: either way the node is gone.
      const gone = end.type === 'exited' || end.type === 'stopped';
      return gone ? { type: 'infrastructure' as const, message: `node gpu-1 was preempted (attempt ${ctx.job.attempt})` } : end;
    })();
    return { done, stop: (g) => a.stop(g), cleanUp: () => a.cleanUp() };
  },
  close: () => local.close(),
});

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-exec-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({
    dataDir,
    executor: preempting,
    env: { WORKER_POLL_MS: '50', WORKER_STOP_GRACE_MS: '5000', WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '100', JOBS_MAX_ATTEMPTS: '2' },
  });
  api = client(t.url);
  user = await api.user('exec');
  ds = await csvDataset(api, user.token, 'd');
});
afterAll(() => t.close());

const balance = async () => (await api.get('/v1/credits/balance', user.token)).body as { balance: number; held: number };
const events = async (id: string) => (await api.get(`/v1/jobs/${id}/events?limit=1000`, user.token)).body.data as Array<{ type: string; data: any }>;

describe('an executor reporting an infrastructure failure', () => {
  it('retries the job from its last checkpoint and charges it once', async () => {
    preemptUpTo = 1;
    const before = await balance();
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, output: { model_name: 'pre' }, hyperparameters: { steps: 30, sleep_ms: 30 } },
      user.token,
    );
    expect(r.status).toBe(202);
    const done = await waitForJob(api, user.token, r.body.id, undefined, 60_000);
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
    const evs = await events(r.body.id);
    const retry = evs.find((e) => e.type === 'status' && String(e.data.reason ?? '').includes('preempted'));
    expect(retry?.data.reason).toMatch(/node gpu-1 was preempted \(attempt 1\); retrying \(attempt 2 of 2\)/);
    expect(retry?.data.resume_from_step).toBeGreaterThanOrEqual(3);
    expect(evs.some((e) => e.type === 'log' && String(e.data.message).startsWith(`resumed from step ${retry?.data.resume_from_step}`))).toBe(true);
    const after = await balance();
    expect(after).toMatchObject({ balance: before.balance - r.body.cost, held: 0 });
    const ledger = (await api.get('/v1/credits/transactions?limit=200', user.token)).body.data.filter((e: { job_id: string }) => e.job_id === r.body.id);
    expect(ledger.map((e: { type: string }) => e.type).sort()).toEqual(['capture', 'hold']);
  });

  it('fails with INFRASTRUCTURE_FAILED after the last attempt and refunds it', async () => {
    preemptUpTo = 99;
    const before = await balance();
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'echo', dataset_id: ds, output: { model_name: 'pre2' }, hyperparameters: { steps: 30, sleep_ms: 30 } },
      user.token,
    );
    const done = await waitForJob(api, user.token, r.body.id, undefined, 60_000);
    expect(done).toMatchObject({ status: 'failed', attempt: 2, error: { code: 'INFRASTRUCTURE_FAILED' } });
    expect(done.error.message).toMatch(/preempted \(attempt 2\); giving up after 2 attempt/);
    expect(await balance()).toMatchObject({ balance: before.balance, held: 0 });
  });
});
