import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlurmJobInfo } from '../../src/executors/slurm/rest.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { freePort } from '../helpers/pg-programs.js';
import { processesWith } from '../helpers/processes.js';
import { clusterProcesses, nodeState, slurmdPid, startSlurmd } from '../helpers/slurm-cluster.js';
import { slurmClient, slurmInfo } from '../helpers/slurm-jobs.js';
import { until, waitFor, waitForJob, waitForJobStep } from '../helpers/wait.js';

// EXECUTOR=slurm end to end on the real one-node cluster: the worker submits one batch job per
// attempt through slurmrestd, the batch script is `trainyard run-attempt` (run as the cluster's
// unprivileged user, with only the attempt URL and token), and the trainer's events, checkpoints
// and artifacts reach the API over HTTP.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
type Api = ReturnType<typeof client>;
let t: TestApp;
let api: Api;
let user: Awaited<ReturnType<Api['user']>>;
let ds: string;

beforeAll(async () => {
  const info = slurmInfo();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-slurm-exec-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  const port = await freePort();
  t = await startTestApp({
    dataDir,
    env: {
      PORT: String(port),
      EXECUTOR: 'slurm',
      EXECUTOR_API_URL: `http://127.0.0.1:${port}`,
      // The launcher from this checkout's sources (tsx), as the cluster's user runs it.
      EXECUTOR_LAUNCHER: JSON.stringify([path.join(ROOT, 'node_modules/.bin/tsx'), path.join(ROOT, 'src/main.ts')]),
      EXECUTOR_WORK_DIR: info.jobsDir,
      EXECUTOR_POLL_MS: '200',
      SLURM_REST_URL: info.url,
      SLURM_USER: info.userName,
      SLURM_JWT: info.token,
      SLURM_API_VERSION: info.version,
      // Slots, not devices: the cluster's scheduler decides who gets its one GPU.
      WORKER_GPUS: '0,1',
      WORKER_CONCURRENCY: '2',
      WORKER_POLL_MS: '50',
      WORKER_STOP_GRACE_MS: '5000',
      WORKER_DRAIN_MS: '0',
      JOBS_LEASE_SECONDS: '5',
      SIGNUP_CREDIT_GRANT: '1000',
    },
  });
  api = client(t.url);
  user = await api.user('slurm');
  ds = await csvDataset(api, user.token, 'd');
});
afterAll(() => t?.close());

const post = async (trainer: string, hyperparameters: Record<string, unknown>, model = trainer) => {
  const r = await api.post('/v1/jobs', { trainer, dataset_id: ds, output: { model_name: model }, hyperparameters }, user.token);
  expect(r.status).toBe(202);
  return r.body as { id: string; cost: number };
};
const events = async (id: string) =>
  (await api.get(`/v1/jobs/${id}/events?limit=1000`, user.token)).body.data as Array<{ type: string; data: any; created_at: string }>;
const balance = async () => (await api.get('/v1/credits/balance', user.token)).body as { balance: number; held: number };

/** The Slurm job of a Trainyard attempt, found by the name the executor gives it. */
async function slurmJobOf(jobId: string, attempt = 1): Promise<SlurmJobInfo> {
  const rest = await slurmClient();
  const name = `trainyard-${jobId}-a${attempt}`;
  return waitFor(
    async () => {
      const raw = await fetch(`${slurmInfo().url}/slurm/${slurmInfo().version}/jobs`, {
        headers: { 'X-SLURM-USER-NAME': slurmInfo().userName, 'X-SLURM-USER-TOKEN': slurmInfo().token },
      }).then((r) => r.json() as Promise<{ jobs: Array<{ name: string; job_id: number }> }>);
      const found = raw.jobs.find((j) => j.name === name);
      return found ? rest.job(found.job_id) : null;
    },
    (j) => j !== null,
    { timeoutMs: 20_000, message: `Slurm job ${name}` },
  ) as Promise<SlurmJobInfo>;
}

describe('EXECUTOR=slurm', () => {
  it('runs a job as a Slurm batch job: events stream, the model is registered, credits move once', async () => {
    const before = await balance();
    const job = await post('echo', { steps: 8, sleep_ms: 20 }, 'slurm-echo');
    const done = await waitForJob(api, user.token, job.id, undefined, 90_000);
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'succeeded', attempt: 1 });
    const evs = await events(job.id);
    expect(evs.filter((e) => e.type === 'metrics').map((e) => e.data.values.score)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const version = (await api.get('/v1/models/slurm-echo/versions/1', user.token)).body;
    expect(version.artifacts.map((a: { name: string }) => a.name)).toContain('model');
    const link = await api.get('/v1/models/slurm-echo/versions/1/artifacts/model', user.token);
    expect(await (await fetch(link.body.url)).json()).toEqual({ echo: job.id });
    expect((await slurmJobOf(job.id)).status).toBe('completed');
    expect(await balance()).toMatchObject({ balance: before.balance - job.cost, held: 0 });
  });

  it('queues two 1-GPU jobs behind each other on the 1-GPU node', async () => {
    const a = await post('gpu-echo', { steps: 40, sleep_ms: 50 }, 'gpu-a');
    const b = await post('gpu-echo', { steps: 3, sleep_ms: 10 }, 'gpu-b');
    await waitForJobStep(api, user.token, a.id, 2, 60_000);
    const second = await slurmJobOf(b.id);
    // Both claimed by the worker, one GPU on the node: Slurm holds the second for resources.
    expect(second).toMatchObject({ status: 'pending', reason: 'Resources' });
    expect((await api.get(`/v1/jobs/${b.id}`, user.token)).body.status).toBe('running');
    const [da, db] = [await waitForJob(api, user.token, a.id, undefined, 90_000), await waitForJob(api, user.token, b.id, undefined, 90_000)];
    expect([da.status, db.status]).toEqual(['succeeded', 'succeeded']);
    const firstScore = (await events(b.id)).find((e) => e.type === 'metrics');
    const lastOfA = (await events(a.id)).filter((e) => e.type === 'metrics').at(-1);
    expect(new Date(firstScore!.created_at) >= new Date(lastOfA!.created_at)).toBe(true);
  }, 120_000);

  it('cancel stops the running trainer, which checkpoints; the job is cancelled and refunded', async () => {
    const before = await balance();
    const job = await post('echo', { steps: 2000, sleep_ms: 20 }, 'slurm-cancel');
    await waitForJobStep(api, user.token, job.id, 5, 60_000);
    expect((await api.post(`/v1/jobs/${job.id}/cancel`, {}, user.token)).status).toBe(200);
    const done = await waitForJob(api, user.token, job.id, undefined, 60_000);
    expect(done.status).toBe('cancelled');
    expect((await events(job.id)).some((e) => e.type === 'checkpoint' && e.data.step >= 5)).toBe(true);
    expect(await balance()).toMatchObject({ balance: before.balance, held: 0 });
    expect((await slurmJobOf(job.id)).final).toBe(true);
  });

  it('a node lost mid-job (slurmd killed) is an infrastructure failure: the job runs again on attempt 2', async () => {
    const info = slurmInfo();
    const job = await post('echo', { steps: 150, sleep_ms: 100 }, 'slurm-node');
    await waitForJobStep(api, user.token, job.id, 3, 60_000);
    const pid = slurmdPid(info);
    expect(pid).not.toBeNull();
    // The node dies: its slurmd and everything the job runs there (the launcher, the trainer).
    process.kill(pid!, 'SIGKILL');
    const stepds = clusterProcesses(info.dir).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'slurmstepd';
      } catch {
        return false;
      }
    });
    const onNode = [...stepds, ...processesWith(job.id)];
    expect(onNode.length).toBeGreaterThanOrEqual(3);
    for (const p of onNode) process.kill(p, 'SIGKILL');
    try {
      // NODE_FAIL after SlurmdTimeout (~15 s here), then the worker requeues the job.
      const retry = await until(async () => (await events(job.id)).find((e) => e.type === 'status' && String(e.data.reason ?? '').includes('NODE_FAIL')), {
        timeoutMs: 60_000,
      });
      expect(retry!.data.reason).toMatch(/Slurm job \d+ ended NODE_FAIL \(NodeDown\) without a report from the launcher; retrying \(attempt 2 of 3\)/);
    } finally {
      await startSlurmd(info);
    }
    await until(() => !/^down/.test(nodeState(info)), { timeoutMs: 30_000 });
    const done = await waitForJob(api, user.token, job.id, undefined, 120_000);
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'succeeded', attempt: 2 });
  }, 240_000);
});
