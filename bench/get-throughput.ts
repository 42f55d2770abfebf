// GET /v1/jobs/{id} throughput: 100 keep-alive connections for 10 s (after 2 s of warm-up),
// authenticated with an API key and with a JWT, on PGlite and on a real Postgres server,
// beside a Fastify hello-world and Trainyard's own /healthz measured in the same run with the
// same load generator. The server runs in this process; the load generator runs in a child
// process (bench/lib/load-child.ts), so they do not share an event loop — on a 2-core machine
// they do share the CPU, which caps every figure here (the hello-world row shows the ceiling).
//
// Run: npx tsx bench/get-throughput.ts   (DURATION_MS, WARMUP_MS, CONNECTIONS to override)
import Fastify from 'fastify';
import { api, benchTrainer, startBenchApp, type DbKind } from './lib/app.js';
import { runLoad } from './lib/load.js';
import type { LoadResult } from './lib/load-child.js';
import { startPgCluster } from './lib/pg-cluster.js';
import { int, ms, printTable } from './lib/stats.js';

const DURATION_MS = Number(process.env.DURATION_MS ?? 10_000);
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 2_000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
const TARGET_RPS = 5000;

const load = (url: string, headers: Record<string, string> = {}) => runLoad({ url, headers, connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS });

interface Row { name: string; db: string; r: LoadResult }
const rows: Row[] = [];

async function helloWorld(): Promise<LoadResult> {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    return await load(`${url}/`);
  } finally {
    await app.close();
  }
}

async function trainyard(kind: DbKind, cluster: Awaited<ReturnType<typeof startPgCluster>>) {
  // No worker: the job stays queued, which is all a GET needs.
  const app = await startBenchApp(kind, { cluster, env: { WORKER_IN_PROCESS: 'false' }, catalog: { trainers: [benchTrainer('idle', [process.execPath, '-e', '0'])] } });
  try {
    const c = api(app.url);
    const u = await c.user('reader');
    const ds = await c.csvDataset(u.token);
    const job = await c.createJob(u.token, { trainer: 'idle', dataset_id: ds, output: { model_name: 'bench' } });
    const check = await c.call('GET', `/v1/jobs/${job.id}`, { token: u.apiKey });
    if (check.status !== 200) throw new Error(`GET job: ${check.status}`);
    const db = kind === 'pglite' ? 'PGlite' : `Postgres ${cluster.version}`;
    rows.push({ name: 'Trainyard GET /healthz (no auth, no db)', db, r: await load(`${app.url}/healthz`) });
    rows.push({ name: 'GET /v1/jobs/{id}, API key', db, r: await load(`${app.url}/v1/jobs/${job.id}`, { authorization: `Bearer ${u.apiKey}` }) });
    rows.push({ name: 'GET /v1/jobs/{id}, JWT', db, r: await load(`${app.url}/v1/jobs/${job.id}`, { authorization: `Bearer ${u.token}` }) });
  } finally {
    await app.close();
  }
}

const cluster = await startPgCluster();
try {
  console.log(`GET throughput: ${CONNECTIONS} connections, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per row; Postgres ${cluster.version} (durability ${cluster.durability})\n`);
  const hello = await helloWorld();
  rows.push({ name: 'Fastify hello-world (same load generator)', db: '–', r: hello });
  for (const kind of ['pglite', 'postgres'] as const) await trainyard(kind, cluster);

  printTable(
    ['case', 'database', 'req/s', 'p50', 'p99', 'max', 'non-2xx / errors', 'vs hello-world', `target ≥ ${TARGET_RPS}`],
    rows.map(({ name, db, r }) => {
      const bad = Object.entries(r.statuses).filter(([s]) => !s.startsWith('2')).reduce((a, [, n]) => a + n, 0);
      const isJob = name.startsWith('GET /v1/jobs');
      return [name, db, int(r.rps), ms(r.latencyMs.p50), ms(r.latencyMs.p99), ms(r.latencyMs.max), `${bad} / ${r.errors}`, `${((r.rps / hello.rps) * 100).toFixed(1)} %`, isJob ? (r.rps >= TARGET_RPS ? 'met' : 'not met') : ''];
    }),
  );
} finally {
  cluster.stop();
}
