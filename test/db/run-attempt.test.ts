/**
 * `trainyard run-attempt`, the launcher a Slurm or Kubernetes executor starts on a node: the
 * real CLI as its own process, with nothing but the attempt URL and token in its environment
 * (no DATABASE_URL, no TRAINYARD_SECRET, no data folder), against the real server. No worker
 * runs: the test claims the job as a worker's loop does, issues the token, and reads what the
 * launcher reported as the worker will (readAttemptReport).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAttemptReport } from '../../src/domain/attempts/service.js';
import type { Fence } from '../../src/domain/jobs/types.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { until, waitForJob, waitForJobStep } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
type Api = ReturnType<typeof client>;
let t: TestApp;
let api: Api;
let user: Awaited<ReturnType<Api['user']>>;
let ds: string;
let workDir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-launch-'));
  workDir = await mkdtemp(path.join(tmpdir(), 'trainyard-launch-work-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({ dataDir, env: { WORKER_IN_PROCESS: 'false', WORKER_STOP_GRACE_MS: '5000', SIGNUP_CREDIT_GRANT: '1000' } });
  api = client(t.url);
  user = await api.user('launch');
  ds = await csvDataset(api, user.token, 'd');
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await t.close();
});

/** A job of the echo trainer, claimed by a "remote" worker, and its attempt token. */
async function claimed(hyperparameters: Record<string, unknown>) {
  const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'remote' }, hyperparameters }, user.token);
  expect(r.status).toBe(202);
  const s = t.rt.services;
  const job = await t.testDb.db.transaction((tx) =>
    s.lifecycle.claim(tx, { workerId: 'wkr_cluster', freeGpus: 0, labels: [], leaseSeconds: 600, maxRunningPerUser: 1000 }),
  );
  expect(job?.id).toBe(r.body.id);
  const fence: Fence = { jobId: job!.id, workerId: 'wkr_cluster', attempt: job!.attempt };
  return { id: job!.id, fence, token: s.attemptTokens.issue(fence, 600) };
}

/** The launcher as a cluster node starts it: its own process, only the URL and the token. */
function launch(base: string, c: { id: string; token: string }) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run-attempt', '--url', `${base}/v1/jobs/${c.id}/attempts/1`, '--work-dir', workDir], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), TRAINYARD_ATTEMPT_TOKEN: c.token },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stderr });
    }),
  );
  return { child, exit };
}

const events = async (id: string) => (await api.get(`/v1/jobs/${id}/events?limit=1000`, user.token)).body.data as Array<{ type: string; data: any }>;

describe('trainyard run-attempt', () => {
  it('runs the trainer, streams its events, uploads its artifact and reports how it ended', async () => {
    const c = await claimed({ steps: 12, sleep_ms: 5 });
    const { exit } = launch(t.url, c);
    const end = await exit;
    expect(end.code, end.stderr).toBe(0);
    const evs = await events(c.id);
    expect(evs.filter((e) => e.type === 'metrics').map((e) => e.data.values.score)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(evs.find((e) => e.type === 'result')?.data).toEqual({ metrics: { score: 12 } });
    const job = (await api.get(`/v1/jobs/${c.id}`, user.token)).body;
    expect(job).toMatchObject({ status: 'running', progress: { step: 12, total_steps: 12 } });
    const report = await readAttemptReport(t.testDb.db, c.fence);
    expect(report).toMatchObject({ exit_code: 0, stopped: false, result: { metrics: { score: 12 } } });
    expect(report!.artifacts).toEqual([{ name: 'model', format: 'json', key: `artifacts/${user.id}/${c.id}/a1/model` }]);
    const stored = JSON.parse(await new Response((await t.rt.services.store.get(report!.artifacts[0]!.key)) as any).text());
    expect(stored).toEqual({ echo: c.id });
    // The attempt's folder is gone once it reported.
    expect(await readdir(workDir)).toEqual([]);
  });

  it('passes SIGTERM on to the trainer, uploads the checkpoint it writes and exits with its status', async () => {
    const c = await claimed({ steps: 500, sleep_ms: 20 });
    const { child, exit } = launch(t.url, c);
    await waitForJobStep(api, user.token, c.id, 3, 30_000);
    child.kill('SIGTERM');
    const end = await exit;
    expect(end.code).toBe(143);
    const job = (await api.get(`/v1/jobs/${c.id}`, user.token)).body;
    const row = (await t.testDb.db.query<{ checkpoint: { step: number; key: string } }>('select checkpoint from jobs where id = $1', [c.id])).rows[0]!;
    expect(row.checkpoint.step).toBeGreaterThanOrEqual(3);
    expect(row.checkpoint.key).toBe(`checkpoints/${user.id}/${c.id}/a1/step-${row.checkpoint.step}.json`);
    expect(JSON.parse(await new Response((await t.rt.services.store.get(row.checkpoint.key)) as any).text())).toEqual({ step: row.checkpoint.step });
    expect((await events(c.id)).some((e) => e.type === 'checkpoint' && e.data.step === row.checkpoint.step)).toBe(true);
    expect(await readAttemptReport(t.testDb.db, c.fence)).toMatchObject({ exit_code: 143, stopped: true });
    expect(job.status).toBe('running'); // the worker, not the launcher, concludes
  });

  it('stops the trainer when the job is cancelled (told on its next batch of events)', async () => {
    const c = await claimed({ steps: 500, sleep_ms: 20 });
    const { exit } = launch(t.url, c);
    await waitForJobStep(api, user.token, c.id, 3, 30_000);
    expect((await api.post(`/v1/jobs/${c.id}/cancel`, {}, user.token)).status).toBe(200);
    const end = await exit;
    expect(end.code).toBe(143);
    expect(await readAttemptReport(t.testDb.db, c.fence)).toMatchObject({ stopped: true });
    await waitForJob(api, user.token, c.id, ['cancel_requested']);
  });

  it('stops at once, reporting nothing, when the claim is taken over', async () => {
    const c = await claimed({ steps: 500, sleep_ms: 20 });
    const { exit } = launch(t.url, c);
    await waitForJobStep(api, user.token, c.id, 3, 30_000);
    // What a reaper and another worker do to a claim whose lease ran out.
    await t.testDb.db.query(`update jobs set worker_id = 'wkr_other', attempt = attempt + 1 where id = $1`, [c.id]);
    const end = await exit;
    expect(end.code).not.toBe(0);
    expect(end.stderr).toMatch(/no longer takes this attempt/);
    expect(await readAttemptReport(t.testDb.db, c.fence)).toBeNull();
  });

  it('survives the API connection dropping mid-run, with every event exactly once', async () => {
    // A proxy between launcher and API that cuts every open connection twice during the run.
    const target = new URL(t.url);
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((inbound) => {
      const outbound = net.connect(Number(target.port), target.hostname);
      inbound.pipe(outbound).pipe(inbound);
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    try {
      const c = await claimed({ steps: 60, sleep_ms: 25 });
      const { exit } = launch(`http://127.0.0.1:${port}`, c);
      for (const step of [10, 30]) {
        await waitForJobStep(api, user.token, c.id, step, 30_000);
        await until(() => sockets.size > 0);
        for (const s of sockets) s.destroy();
      }
      const end = await exit;
      expect(end.code, end.stderr).toBe(0);
      const scores = (await events(c.id)).filter((e) => e.type === 'metrics').map((e) => e.data.values.score);
      expect(scores).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(await readAttemptReport(t.testDb.db, c.fence)).toMatchObject({ exit_code: 0 });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  });
});
