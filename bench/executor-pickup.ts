// Pickup latency per executor (issue #16), side by side in one run: a job is created through the
// API (the clock starts just before POST /v1/jobs is sent) →
//   local:      the trainer's first event is visible in the API (GET /v1/jobs/{id} progress);
//   slurm:      the same, through slurmrestd, the batch job and `trainyard run-attempt` on the
//               one-node test cluster (test/helpers/slurm-cluster.ts; launcher: dist/main.js);
//   kubernetes: the attempt's pod exists (a watch on the namespace's pods), on the test control
//               plane with kwok (test/helpers/k8s-cluster.ts): kwok runs no container, so this
//               stops at pod creation, as the issue asks.
// One job at a time; each ends (or, on Kubernetes, is cancelled) before the next is created.
// Needs root, Debian's Slurm packages and the Kubernetes binaries, as the slurm and k8s test
// projects do (.ci/run installs them).
//
// Run: npx tsx bench/executor-pickup.ts   (JOBS=10 per executor, EXECUTORS=local,slurm,kubernetes)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Watch, type V1Pod } from '@kubernetes/client-node';
import { KWOK_TAINT, startK8sCluster } from '../test/helpers/k8s-cluster.js';
import { clientsFor } from '../test/helpers/k8s-jobs.js';
import { startSlurmCluster } from '../test/helpers/slurm-cluster.js';
import { freePort } from '../test/helpers/pg-programs.js';
import { api, benchTrainer, startBenchApp } from './lib/app.js';
import { ms, printTable, sleep, summarize } from './lib/stats.js';

const JOBS = Number(process.env.JOBS ?? 10);
const EXECUTORS = (process.env.EXECUTORS ?? 'local,slurm,kubernetes').split(',');
const ROOT = path.resolve('.');
const ECHO = path.join(ROOT, 'test/fixtures/trainers/echo.mjs');
const catalog = { trainers: [benchTrainer('echo', [process.execPath, ECHO])] };

type Measure = (a: ReturnType<typeof api>, token: string, id: string) => Promise<number>;

/** Polls the job until the trainer's first progress event shows (or the job ends without one). */
const firstEvent: Measure = async (a, token, id) => {
  for (const until = Date.now() + 120_000; Date.now() < until; await sleep(10)) {
    const j = (await a.call<{ status: string; progress: { step: number | null } }>('GET', `/v1/jobs/${id}`, { token })).body;
    if ((j.progress.step ?? 0) >= 1) return performance.now();
    if (['failed', 'cancelled'].includes(j.status)) throw new Error(`job ${id} ended ${j.status} before its first event`);
  }
  throw new Error(`job ${id}: no event within 120 s`);
};

/** A mark on the way (wall clock, ms since the epoch) for a job, for the breakdown rows; null when not known. */
type Midpoint = { label: string; at: (jobId: string) => number | null };

async function run(
  label: string,
  env: Record<string, string>,
  measure: Measure,
  after: (a: ReturnType<typeof api>, token: string, id: string) => Promise<void>,
  mid?: Midpoint,
): Promise<Array<Array<string | number>>> {
  const port = await freePort();
  const app = await startBenchApp('pglite', {
    catalog,
    env: { PORT: String(port), EXECUTOR_API_URL: `http://127.0.0.1:${port}`, WORKER_POLL_MS: '2000', ...env },
  });
  const a = api(app.url);
  try {
    const u = await a.user('bench');
    const ds = await a.csvDataset(u.token);
    const xs: number[] = [];
    const [before, beyond]: [number[], number[]] = [[], []];
    for (let i = 0; i < JOBS + 1; i++) {
      const wall0 = Date.now();
      const t0 = performance.now();
      const job = await a.createJob(u.token, { trainer: 'echo', dataset_id: ds, output: { model_name: `m${i}` }, hyperparameters: { steps: 3, sleep_ms: 1 } });
      const t1 = await measure(a, u.token, job.id);
      await after(a, u.token, job.id);
      if (i === 0) continue; // the first one warms up caches and connections
      xs.push(t1 - t0);
      const m = mid?.at(job.id);
      if (m != null) {
        before.push(m - wall0);
        beyond.push(t1 - t0 - (m - wall0));
      }
    }
    const rows = [[label, ...row(summarize(xs))]];
    if (mid && before.length) rows.push([`  POST sent → ${mid.label}`, ...row(summarize(before))], [`  ${mid.label} → mark`, ...row(summarize(beyond))]);
    return rows;
  } finally {
    await app.close();
  }
}

const row = (s: ReturnType<typeof summarize>) => [s.n, ms(s.p50), ms(s.p95), ms(s.min), ms(s.max)];
const finish = async (a: ReturnType<typeof api>, token: string, id: string) => void (await a.waitForJob(token, id, 120_000));

async function main() {
  execFileSync(process.execPath, ['scripts/ensure-built.mjs'], { stdio: 'inherit' });
  const rows: Array<Array<string | number>> = [];
  if (EXECUTORS.includes('local')) rows.push(...(await run('local (first event in the API)', {}, firstEvent, finish)));
  if (EXECUTORS.includes('slurm')) {
    const c = await startSlurmCluster();
    try {
      // The batch script notes when it began (its job name holds the job id) before it starts the
      // launcher: the breakdown's midpoint, on the same machine's clock.
      const starts = path.join(c.jobsDir, 'batch-starts');
      const note = `echo "$SLURM_JOB_NAME $(date +%s%3N)" >> ${starts}; exec "$0" "$@"`;
      const batchStarted: Midpoint = {
        label: 'batch script started',
        at: (id) => {
          const line = (existsSync(starts) ? readFileSync(starts, 'utf8') : '').split('\n').find((l) => l.startsWith(`trainyard-${id}-`));
          return line ? Number(line.split(' ')[1]) : null;
        },
      };
      const env = {
        EXECUTOR: 'slurm',
        EXECUTOR_LAUNCHER: JSON.stringify(['/bin/sh', '-c', note, process.execPath, path.join(ROOT, 'dist/main.js')]),
        EXECUTOR_WORK_DIR: c.jobsDir,
        EXECUTOR_POLL_MS: '200',
        SLURM_REST_URL: c.url,
        SLURM_USER: c.userName,
        SLURM_JWT: c.token,
        SLURM_API_VERSION: c.version,
      };
      rows.push(...(await run('slurm (first event in the API)', env, firstEvent, finish, batchStarted)));
    } finally {
      await c.stop();
    }
  }
  if (EXECUTORS.includes('kubernetes')) {
    const c = await startK8sCluster();
    try {
      const k = clientsFor(c.adminKubeconfig, c.namespace);
      const created = new Map<string, number>();
      const ctl = await new Watch(k.kc).watch(
        `/api/v1/namespaces/${c.namespace}/pods`,
        {},
        (type, pod: V1Pod) => {
          const job = pod.metadata?.labels?.['trainyard.dev/job'];
          if (type === 'ADDED' && job && !created.has(job)) created.set(job, performance.now());
        },
        () => undefined,
      );
      const env = {
        EXECUTOR: 'kubernetes',
        KUBECONFIG: c.executorKubeconfig,
        KUBERNETES_NAMESPACE: c.namespace,
        KUBERNETES_IMAGE: 'trainyard/launcher:bench',
        KUBERNETES_TOLERATIONS: JSON.stringify([{ key: KWOK_TAINT.key, operator: 'Equal', value: KWOK_TAINT.value, effect: KWOK_TAINT.effect }]),
        KUBERNETES_POD_ANNOTATIONS: JSON.stringify({ 'trainyard.test/run-for': '1h' }),
        EXECUTOR_POLL_MS: '200',
      };
      const podCreated: Measure = async (_a, _token, id) => {
        const key = id.toLowerCase().replace(/[^a-z0-9._-]/g, '-');
        for (const until = Date.now() + 60_000; Date.now() < until; await sleep(5)) if (created.has(key)) return created.get(key)!;
        throw new Error(`job ${id}: no pod within 60 s`);
      };
      const cancel = async (a: ReturnType<typeof api>, token: string, id: string) => {
        await a.call('POST', `/v1/jobs/${id}/cancel`, { token, json: {} });
        await a.waitForJob(token, id, 60_000);
      };
      try {
        rows.push(...(await run('kubernetes (pod created)', env, podCreated, cancel)));
      } finally {
        ctl.abort();
      }
    } finally {
      await c.stop();
    }
  }
  console.log(`\nPickup latency per executor, POST sent → mark, one job at a time, ${JOBS} jobs each (after one warm-up):\n`);
  printTable(['executor (mark)', 'n', 'p50', 'p95', 'min', 'max'], rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
