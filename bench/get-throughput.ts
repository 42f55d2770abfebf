// GET /v1/jobs/{id} throughput: CONNECTIONS (100) keep-alive connections for DURATION_MS (10 s,
// after WARMUP_MS = 2 s of warm-up), authenticated with an API key and with a JWT, on PGlite and
// on a real Postgres server, beside a Fastify hello-world and Trainyard's own /healthz measured
// in the same run with the same load generator. The load generator (bench/lib/load-child.ts,
// node:http with a keep-alive Agent, closed loop) runs in a child process of its own, so it
// does not share the server's event loop — on a 2-core machine it does share the CPU with the
// server and Postgres, which caps every figure here (the hello-world row shows the ceiling).
// The service runs in a fresh process per database; the hello-world in the main process.
//
// Issue #15: each database is measured in fresh processes with both caches off (AUTH_CACHE_MS=0
// and JOB_CACHE_MS=0: the token and the job read in the database on every request, the first
// behaviour), with the principal cache only, and with both (the defaults), so before and after
// come from one run; the target is ≥ 0.3 × the hello-world of that run.
//
// Run: npx tsx bench/get-throughput.ts   (DURATION_MS, WARMUP_MS, CONNECTIONS, REPEAT to override;
// BENCH_DBS=postgres or pglite for one database)
import Fastify from 'fastify';
import { fileURLToPath } from 'node:url';
import { api, benchTrainer, startBenchApp, type DbKind } from './lib/app.js';
import { partInput, runPart, sendPart } from './lib/child.js';
import { postgresPids } from './lib/cpu.js';
import type { LoadResult } from './lib/load-child.js';
import { runLoad } from './lib/load.js';
import { attachPgCluster, startPgCluster, type PgCluster } from './lib/pg-cluster.js';
import { int, ms, printTable } from './lib/stats.js';

const DURATION_MS = Number(process.env.DURATION_MS ?? 10_000);
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 2_000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
// REPEAT > 1: each row is measured that many times; the run with the median req/s is shown,
// with the range of req/s over the runs (this VM's run-to-run spread is wide).
const REPEAT = Number(process.env.REPEAT ?? 1);
const TARGET_RPS = 5000;
/** Issue #15's target: this fraction of the same run's hello-world. */
const TARGET_VS_HELLO = 0.3;
const DBS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as DbKind[];

type Measured = LoadResult & { cpu: Record<string, number>; range: [number, number] };

async function load(url: string, headers: Record<string, string> = {}, durationMs = DURATION_MS, repeat = REPEAT): Promise<Measured> {
  const runs = [];
  for (let i = 0; i < repeat; i++)
    runs.push(await runLoad({ url, headers, connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs }, { postgres: postgresPids }));
  runs.sort((a, b) => a.rps - b.rps);
  return { ...runs[Math.floor((runs.length - 1) / 2)]!, range: [runs[0]!.rps, runs[runs.length - 1]!.rps] };
}

interface Row {
  name: string;
  db: string;
  /** The principal and job caches: 'off' (…_CACHE_MS=0) or on; '' where there is no authentication. */
  cache: string;
  /** Where the rate-limit counters live (RATE_LIMIT_STORE): memory, or postgres (shared by replicas). */
  store: string;
  r: Measured;
}

async function helloWorld(): Promise<Row> {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    // Discarded first run, as for the service below.
    await load(`${url}/`, {}, 5000, 1);
    return { name: 'Fastify hello-world (same load generator)', db: '–', cache: '', store: '', r: await load(`${url}/`) };
  } finally {
    await app.close();
  }
}

/** AUTH_CACHE_MS and JOB_CACHE_MS for one process; null: the default. */
type Caches = { auth: string | null; job: string | null };

async function trainyard(kind: DbKind, cluster: PgCluster, caches: Caches, rateLimitStore: 'memory' | 'postgres'): Promise<Row[]> {
  // No worker: the job stays queued, which is all a GET needs.
  const app = await startBenchApp(kind, {
    cluster,
    env: {
      WORKER_IN_PROCESS: 'false',
      RATE_LIMIT_STORE: rateLimitStore,
      ...(caches.auth !== null ? { AUTH_CACHE_MS: caches.auth } : {}),
      ...(caches.job !== null ? { JOB_CACHE_MS: caches.job } : {}),
    },
    catalog: { trainers: [benchTrainer('idle', [process.execPath, '-e', '0'])] },
  });
  try {
    const c = api(app.url);
    const u = await c.user('reader');
    const ds = await c.csvDataset(u.token);
    const job = await c.createJob(u.token, { trainer: 'idle', dataset_id: ds, output: { model_name: 'bench' } });
    const check = await c.call('GET', `/v1/jobs/${job.id}`, { token: u.apiKey });
    if (check.status !== 200) throw new Error(`GET job: ${check.status}`);
    const db = kind === 'pglite' ? 'PGlite (on disk)' : `Postgres ${cluster.version.split(' ')[0]}`;
    const on = (b: boolean) => (b ? 'on' : 'off');
    const cache = `${on(app.rt.services.accounts.principals.enabled)} / ${on(app.rt.services.jobs.cache.enabled)}`;
    // A discarded run first: the first seconds under load run cold code (JIT, pools, PGlite's
    // caches) and measured 30-40 % lower than the steady state in trials.
    await load(`${app.url}/v1/jobs/${job.id}`, { authorization: `Bearer ${u.token}` }, 5000, 1);
    return [
      // /healthz does not authenticate: measured once per database, in the cache-on process.
      ...(caches.auth === '0' || caches.job === '0' || rateLimitStore === 'postgres'
        ? []
        : [{ name: 'Trainyard GET /healthz (no auth, no db)', db, cache: '', store: '', r: await load(`${app.url}/healthz`) }]),
      {
        name: 'GET /v1/jobs/{id}, API key',
        db,
        cache,
        store: rateLimitStore,
        r: await load(`${app.url}/v1/jobs/${job.id}`, { authorization: `Bearer ${u.apiKey}` }),
      },
      {
        name: 'GET /v1/jobs/{id}, JWT',
        db,
        cache,
        store: rateLimitStore,
        r: await load(`${app.url}/v1/jobs/${job.id}`, { authorization: `Bearer ${u.token}` }),
      },
    ];
  } finally {
    await app.close();
  }
}

type Part = {
  kind: DbKind;
  cluster: Pick<PgCluster, 'url' | 'version' | 'durability'>;
  caches: Caches;
  rateLimitStore: 'memory' | 'postgres';
};
const part = partInput<Part>();
if (part) {
  await sendPart(await trainyard(part.kind, attachPgCluster(part.cluster), part.caches, part.rateLimitStore));
  process.exit(0);
}

const cluster = await startPgCluster();
const rows: Row[] = [];
try {
  console.log(
    `GET throughput: ${CONNECTIONS} connections, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per row; Postgres durability ${cluster.durability}\n`,
  );
  rows.push(await helloWorld());
  for (const kind of DBS) {
    // Both caches off, the principal cache only, both (the defaults), each in a fresh process,
    // with the counters in memory (one API process); on Postgres once more with them in the
    // database (issue #16: what N replicas sharing one budget cost one process).
    const defaults: Caches = { auth: process.env.AUTH_CACHE_MS ?? null, job: process.env.JOB_CACHE_MS ?? null };
    const cases: [Caches, 'memory' | 'postgres'][] = [
      [{ auth: '0', job: '0' }, 'memory'],
      [{ auth: defaults.auth, job: '0' }, 'memory'],
      [defaults, 'memory'],
      ...(kind === 'postgres' ? [[defaults, 'postgres'] as [Caches, 'postgres']] : []),
    ];
    for (const [caches, rateLimitStore] of cases) {
      rows.push(
        ...(await runPart<Row[]>(fileURLToPath(import.meta.url), {
          kind,
          cluster: { url: cluster.url, version: cluster.version, durability: cluster.durability },
          caches,
          rateLimitStore,
        } satisfies Part)),
      );
    }
  }
} finally {
  cluster.stop();
}
const hello = rows[0]!.r;
printTable(
  [
    'case',
    'database',
    'caches: principal / job',
    'rate-limit counters',
    REPEAT > 1 ? `req/s (median of ${REPEAT}, range)` : 'req/s',
    'p50',
    'p99',
    'max',
    'non-2xx / errors',
    'vs hello-world',
    'CPU cores: server / Postgres / load gen / others',
    `target ≥ ${TARGET_RPS} req/s`,
    `target ≥ ${TARGET_VS_HELLO} × hello-world`,
  ],
  rows.map(({ name, db, cache, store, r }) => {
    const bad = Object.entries(r.statuses)
      .filter(([s]) => !s.startsWith('2'))
      .reduce((a, [, n]) => a + Number(n), 0);
    const isJob = name.startsWith('GET /v1/jobs');
    const cores = ['server', 'postgres', 'load generator', 'others'].map((k) => (r.cpu[k] ?? 0).toFixed(2)).join(' / ');
    return [
      name,
      db,
      cache,
      store,
      REPEAT > 1 ? `${int(r.rps)} (${int(r.range[0])}–${int(r.range[1])})` : int(r.rps),
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p99),
      ms(r.latencyMs.max),
      `${bad} / ${r.errors}`,
      `${((r.rps / hello.rps) * 100).toFixed(1)} %`,
      cores,
      isJob ? (r.rps >= TARGET_RPS ? 'met' : 'not met') : '',
      isJob ? (r.rps >= TARGET_VS_HELLO * hello.rps ? 'met' : 'not met') : '',
    ];
  }),
);
console.log('\nCPU: cores used during the measured window (the machine has 2), from /proc; PGlite runs inside the server process;');
console.log('"others" is everything else on the machine (each run first waits for it to be idle).');
console.log('Per request (CPU µs = cores / req/s):');
for (const { name, db, cache, store, r } of rows.filter((x) => x.name.startsWith('GET /v1/jobs'))) {
  const us = (k: string) => Math.round(((r.cpu[k] ?? 0) / r.rps) * 1e6);
  console.log(
    `  ${db.padEnd(16)} ${name.padEnd(28)} cache ${cache.padEnd(20)} counters ${store.padEnd(8)} server ${us('server')} µs, Postgres ${us('postgres')} µs, load generator ${us('load generator')} µs`,
  );
}
