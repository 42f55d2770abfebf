import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { until, waitForJob, waitForJobStep } from '../helpers/wait.js';

// WARM_TRAINERS (src/executors/warm-pool.ts): a job of a Node trainer that opted in starts on a
// process that was started before it, one process per job, confined and stopped like a cold one.

const FIXTURES = fileURLToPath(new URL('../fixtures/trainers/', import.meta.url));
const probe = (id: string, warm: boolean) => {
  const echo = (testTrainers().trainers as Array<Record<string, unknown>>).find((d) => d.id === 'echo')!;
  return {
    ...echo,
    id,
    hyperparameters: { type: 'object', additionalProperties: false, properties: { hold: { type: 'boolean', default: false } } },
    runtime: { type: 'command', entry: id, command: [process.execPath, path.join(FIXTURES, 'warm-probe.mjs')], ...(warm ? { warm: true } : {}) },
  };
};

/** The warm hosts this process started and that are still alive (trainers are our children: the sandbox execs, never forks). */
function warmHosts(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (ppid === process.pid && state !== 'Z' && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('warm-host')) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

type Ev = { type: string; data: Record<string, unknown> };

async function startApp(env: Record<string, string>): Promise<{ t: TestApp; api: ReturnType<typeof client>; token: string; ds: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-warm-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers({ w: probe('warm-probe', true), c: probe('cold-probe', false) })));
  const t = await startTestApp({
    dataDir,
    env: { WORKER_POLL_MS: '50', WORKER_STOP_GRACE_MS: '2000', WORKER_DRAIN_MS: '0', SIGNUP_CREDIT_GRANT: '1000', ...env },
  });
  const api = client(t.url);
  const u = await api.user('warm');
  return { t, api, token: u.token, ds: await csvDataset(api, u.token, 'd') };
}

describe('warm trainers (WARM_TRAINERS=on, the default)', () => {
  let s: Awaited<ReturnType<typeof startApp>>;
  beforeAll(async () => {
    s = await startApp({});
  });
  afterAll(() => s.t.close());

  const run = async (trainer: string, hyperparameters: Record<string, unknown> = {}) => {
    const r = await s.api.post('/v1/jobs', { trainer, dataset_id: s.ds, output: { model_name: trainer }, hyperparameters }, s.token);
    expect(r.status).toBe(202);
    return r.body.id as string;
  };
  const events = async (id: string) => (await s.api.get(`/v1/jobs/${id}/events?limit=1000`, s.token)).body.data as Ev[];
  const probeOf = (evs: Ev[]) => {
    const line = evs.find((e) => e.type === 'log' && String(e.data.message).startsWith('probe '));
    return JSON.parse(String(line!.data.message).slice('probe '.length)) as {
      pid: number;
      uid: number;
      cwd: string;
      home: string;
      tmpdir: string;
      argv: string[];
      env: string[];
    };
  };
  /** Waits until the worker has a spare for the trainer and returns its pid. */
  const spare = () =>
    until(
      () => {
        const hosts = warmHosts();
        return hosts.length === 1 ? hosts[0]! : null;
      },
      { message: 'one warm host waiting' },
    );

  it('runs a job on the pre-started process, with the same events, artifacts and environment as a cold start; the next job gets another process', async () => {
    const cold = await run('cold-probe');
    expect((await waitForJob(s.api, s.token, cold)).status).toBe('succeeded');
    // The first job of a kind starts cold and leaves a spare behind for the next.
    const first = await run('warm-probe');
    expect((await waitForJob(s.api, s.token, first)).status).toBe('succeeded');
    const pidA = await spare();
    const a = await run('warm-probe');
    const doneA = await waitForJob(s.api, s.token, a);
    expect(doneA).toMatchObject({ status: 'succeeded', result: { metrics: { score: 2 } } });
    const pidB = await spare();
    const b = await run('warm-probe');
    expect((await waitForJob(s.api, s.token, b)).status).toBe('succeeded');

    const [evCold, evA, evB] = [await events(cold), await events(a), await events(b)];
    const [pCold, pA, pB] = [probeOf(evCold), probeOf(evA), probeOf(evB)];
    expect(pA.pid).toBe(pidA);
    expect(pB.pid).toBe(pidB);
    expect(pidB).not.toBe(pidA);
    // What the trainer sees is what a cold start gives it: its job folder, argv, an allowlisted env.
    for (const [p, id] of [
      [pCold, cold],
      [pA, a],
    ] as const) {
      expect(path.basename(p.cwd)).toBe(`${id}-a1`);
      expect(p.home).toBe(p.cwd);
      expect(p.tmpdir).toBe(path.join(p.cwd, 'tmp'));
      expect(p.argv).toEqual(['--spec', path.join(p.cwd, 'job.json')]);
    }
    expect(pA.env).toEqual(pCold.env);
    // Confined the same way: as root, its own uid, not the worker's.
    expect(pA.uid === 0).toBe(pCold.uid === 0);
    // Progress is coalesced by the worker (timing-dependent); the rest comes in the trainer's order.
    const kinds = (evs: Ev[]) => evs.filter((e) => !['status', 'log', 'progress'].includes(e.type)).map((e) => e.type);
    expect(kinds(evA)).toEqual(kinds(evCold));
    expect(evA.some((e) => e.type === 'progress')).toBe(true);
    const logs = (await s.api.get(`/v1/jobs/${a}/logs`, s.token)).body;
    expect(JSON.stringify(logs)).toContain('warm-probe: on stderr');
    const version = (await s.api.get('/v1/models/warm-probe/versions/latest', s.token)).body;
    expect(version.artifacts.map((x: { name: string }) => x.name)).toContain('model');
  });

  it('cancels a warm-started job: SIGTERM, its checkpoint, cancelled', async () => {
    await spare();
    const id = await run('warm-probe', { hold: true });
    await waitForJobStep(s.api, s.token, id, 1);
    expect((await s.api.post(`/v1/jobs/${id}/cancel`, {}, s.token)).status).toBeLessThan(300);
    expect((await waitForJob(s.api, s.token, id)).status).toBe('cancelled');
    expect((await events(id)).some((e) => e.type === 'checkpoint')).toBe(true);
  });

  it('a trainer that does not opt in never gets a warm process', async () => {
    await spare();
    const id = await run('cold-probe');
    expect((await waitForJob(s.api, s.token, id)).status).toBe('succeeded');
    expect(warmHosts()).not.toContain(probeOf(await events(id)).pid);
  });

  it('a built-in trainer (linear-classifier, run from source through tsx) runs warm and learns', async () => {
    const job = async () => {
      const r = await s.api.post(
        '/v1/jobs',
        { trainer: 'linear-classifier', dataset_id: s.ds, output: { model_name: 'lin' }, hyperparameters: { epochs: 3 } },
        s.token,
      );
      return waitForJob(s.api, s.token, r.body.id, undefined, 60_000);
    };
    expect((await job()).status).toBe('succeeded');
    // Now a spare for each kind; the next linear job takes its own, which then exits.
    const before = (await until(() => (warmHosts().length === 2 ? warmHosts() : null), { message: 'two warm hosts', timeoutMs: 20_000 }))!;
    const done = await job();
    expect(done).toMatchObject({ status: 'succeeded', result: { metrics: { val_accuracy: expect.any(Number) } } });
    await until(() => warmHosts().length === 2 && before.filter((p) => !warmHosts().includes(p)).length === 1, {
      message: 'the used spare gone, a new one up',
    });
  });

  it("the worker's stop leaves no process behind, the spares included", async () => {
    await until(() => warmHosts().length === 2, { message: 'two warm hosts' });
    await s.t.rt.worker!.stop(0);
    expect(warmHosts()).toEqual([]);
  });
});

describe('WARM_TRAINERS=off', () => {
  let s: Awaited<ReturnType<typeof startApp>>;
  beforeAll(async () => {
    s = await startApp({ WARM_TRAINERS: 'off' });
  });
  afterAll(() => s.t.close());

  it('every job starts cold and succeeds; no spare is ever started', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await s.api.post('/v1/jobs', { trainer: 'warm-probe', dataset_id: s.ds, output: { model_name: 'w' } }, s.token);
      expect((await waitForJob(s.api, s.token, r.body.id)).status).toBe('succeeded');
      expect(warmHosts()).toEqual([]);
    }
  });
});
