// SSE fan-out: SUBSCRIBERS (1,000) clients stream GET /v1/jobs/{id}/events of one job while its
// trainer (bench/fixtures/sse-trainer.mjs) emits RATE metrics events per second for SECONDS,
// each stamped with the time it was written. Every subscriber records, per event, trainer
// wrote it → it parsed the frame; p50/p99 are over all deliveries. The subscribers live in
// SUBSCRIBER_PROCESSES (2) child processes (bench/lib/sse-subscriber.ts); the service (API,
// event hub and worker) runs in this process, each database in a fresh one.
//
// Run: npx tsx bench/sse-fanout.ts   (SUBSCRIBERS, SUBSCRIBER_PROCESSES, RATE, SECONDS to override;
// SINK_FLUSH=immediate for the experiment in bench/lib/sink-experiment.ts)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, benchTrainer, FIXTURES, exchangeDir, startBenchApp, type DbKind } from './lib/app.js';
import { applySinkExperiment, sinkExperiment } from './lib/sink-experiment.js';
import { partInput, runPart, sendPart, startChild } from './lib/child.js';
import { cpuMeter, postgresPids, waitForQuiet } from './lib/cpu.js';
import { attachPgCluster, startPgCluster, type PgCluster } from './lib/pg-cluster.js';
import type { SubscribeResult } from './lib/sse-subscriber.js';
import { ms, printTable, sleep, summarize, type Summary } from './lib/stats.js';

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const PROCS = Number(process.env.SUBSCRIBER_PROCESSES ?? 2);
const RATE = Number(process.env.RATE ?? 20);
const SECONDS = Number(process.env.SECONDS ?? 10);
const TARGET_P99 = 200;

interface PartResult {
  total: Summary;
  fromDb: Summary;
  toDb: Summary;
  expected: number;
  delivered: number;
  streams: number;
  completed: number;
  errors: string[];
  status: string;
  cpu: Record<string, number>;
}

async function measure(kind: DbKind, cluster: PgCluster): Promise<PartResult> {
  const go = exchangeDir('sse');
  const goFile = path.join(go.dir, 'go');
  const app = await startBenchApp(kind, {
    cluster,
    // One user holds every subscriber here: lift the per-user stream cap (20 by default) to fit.
    env: { EVENTS_MAX_STREAMS_PER_USER: String(SUBSCRIBERS) },
    catalog: { trainers: [benchTrainer('sse', [process.execPath, path.join(FIXTURES, 'sse-trainer.mjs'), goFile, String(RATE), String(SECONDS)])] },
  });
  const children = Array.from({ length: PROCS }, () => startChild('sse-subscriber.ts'));
  try {
    const c = api(app.url);
    const u = await c.user('watcher');
    const ds = await c.csvDataset(u.token);
    const job = await c.createJob(u.token, { trainer: 'sse', dataset_id: ds, output: { model_name: 'sse' } });
    await Promise.all(children.map((ch) => ch.next('ready')));
    children.forEach((ch, i) => {
      const count = Math.floor(SUBSCRIBERS / PROCS) + (i < SUBSCRIBERS % PROCS ? 1 : 0);
      ch.send({ kind: 'start', url: `${app.url}/v1/jobs/${job.id}/events`, token: u.token, count, timeoutMs: (SECONDS + 60) * 1000 });
    });
    await Promise.all(children.map((ch) => ch.next('connected')));
    const hub = app.rt.services.hub!;
    for (const until = Date.now() + 30_000; hub.subscriberCount < SUBSCRIBERS; await sleep(10)) {
      if (Date.now() > until) throw new Error(`only ${hub.subscriberCount} of ${SUBSCRIBERS} subscribed`);
    }
    await waitForQuiet();
    const meter = cpuMeter({ server: () => [process.pid], postgres: postgresPids, subscribers: () => children.map((ch) => ch.proc.pid!) });
    writeFileSync(goFile, '');
    const results = await Promise.all(children.map((ch) => ch.next<SubscribeResult>('result')));
    const cpu = meter();
    const status = (await c.waitForJob(u.token, job.id)).status;
    const all = (k: 'total' | 'fromDb' | 'toDb') => results.flatMap((r) => r[k]);
    return {
      total: summarize(all('total')),
      fromDb: summarize(all('fromDb')),
      toDb: summarize(all('toDb')),
      expected: SUBSCRIBERS * RATE * SECONDS,
      delivered: all('total').length,
      streams: results.reduce((a, r) => a + r.streams, 0),
      completed: results.reduce((a, r) => a + r.completed, 0),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
      status,
      cpu,
    };
  } finally {
    for (const ch of children) ch.proc.kill('SIGKILL');
    await app.close();
    go.remove();
  }
}

type Part = { kind: DbKind; cluster: Pick<PgCluster, 'url' | 'version' | 'durability'> };
const part = partInput<Part>();
if (part) {
  applySinkExperiment();
  await sendPart(await measure(part.kind, attachPgCluster(part.cluster)));
  process.exit(0);
}

const cluster = await startPgCluster();
const results: Array<{ db: string } & PartResult> = [];
try {
  for (const kind of ['postgres', 'pglite'] as const) {
    const r = await runPart<PartResult>(fileURLToPath(import.meta.url), {
      kind,
      cluster: { url: cluster.url, version: cluster.version, durability: cluster.durability },
    } satisfies Part);
    results.push({ db: kind === 'pglite' ? 'PGlite (on disk)' : `Postgres ${cluster.version.split(' ')[0]}`, ...r });
  }
} finally {
  cluster.stop();
}

console.log(
  `SSE fan-out: ${SUBSCRIBERS} subscribers in ${PROCS} processes, one job emitting ${RATE} metrics events/s for ${SECONDS} s; Postgres durability ${cluster.durability}${sinkExperiment ? '\nEXPERIMENT SINK_FLUSH=immediate: EventSink patched at run time (bench/lib/sink-experiment.ts), not the shipped behaviour' : ''}\n`,
);
printTable(
  ['database', 'deliveries (expected)', 'streams closed by server', 'p50', 'p95', 'p99', 'max', `target p99 ≤ ${TARGET_P99} ms`],
  results.map((r) => [
    r.db,
    `${r.delivered} (${r.expected})`,
    `${r.completed} / ${r.streams}`,
    ms(r.total.p50),
    ms(r.total.p95),
    ms(r.total.p99),
    ms(r.total.max),
    r.total.p99 <= TARGET_P99 && r.delivered === r.expected ? 'met' : 'not met',
  ]),
);
console.log("\nSplit at the event row's created_at (the database clock when the worker began writing the batch; ms precision), p50 / p99:\n");
printTable(
  [
    'database',
    'trainer wrote → batch write began (worker buffering)',
    'batch write began → subscriber parsed (write, NOTIFY, hub read, fan-out)',
    'CPU cores: server / Postgres / subscribers / others (incl. the trainer)',
    'job',
  ],
  results.map((r) => [
    r.db,
    `${ms(r.toDb.p50)} / ${ms(r.toDb.p99)}`,
    `${ms(r.fromDb.p50)} / ${ms(r.fromDb.p99)}`,
    ['server', 'postgres', 'subscribers', 'others'].map((k) => (r.cpu[k] ?? 0).toFixed(2)).join(' / '),
    r.status + (r.errors.length ? ` errors: ${r.errors.join('; ')}` : ''),
  ]),
);
