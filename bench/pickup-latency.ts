// Job pickup latency: a job is created through the API (POST /v1/jobs) → the trainer process's
// own code starts running (bench/fixtures/pickup-trainer.mjs stamps its very first statement).
// One job in flight at a time (the next is created once the previous one has finished and the
// worker is idle again), with the production defaults: in-process worker, concurrency 1,
// WORKER_POLL_MS 2000 (NOTIFY wakes the worker; polling is the fallback).
//
// Two start points are reported: "sent" = just before the bench sends the POST; "committed" =
// when the job-creating transaction's COMMIT returned inside the service (seen through a
// transparent Db wrapper, bench/lib/db-probe.ts). The breakdown uses the same wrapper for the
// worker's NOTIFY and claim, the database clock for the 'running' status event, and the
// trainer's performance.timeOrigin for when its process started. All on one machine's clock.
//
// Issue #15: every database is measured twice in one run, warm (the default WARM_TRAINERS=on: the
// fixture opts in with runtime.warm, so a pre-started Node process takes each job and the timed
// first statement is the fixture module's, run after the spec line arrived) and cold
// (WARM_TRAINERS=off: a fresh process per job, as before). MODES=warm or MODES=cold runs one.
//
// Run: npx tsx bench/pickup-latency.ts   (JOBS=200, WARMUP_JOBS=10, GAP_MS=25, WAIT_IDLE=1 to override)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTrainer, trainerEnv } from '../src/executors/local.js';
import { cpuMeter, postgresPids, waitForQuiet } from './lib/cpu.js';
import { api, benchTrainer, FIXTURES, exchangeDir, startBenchApp, tempDir, type DbKind } from './lib/app.js';
import { newProbe, probeDb } from './lib/db-probe.js';
import { partInput, runPart, sendPart } from './lib/child.js';
import { attachPgCluster, startPgCluster, type PgCluster } from './lib/pg-cluster.js';
import { ms, nowMs, printTable, sleep, summarize } from './lib/stats.js';

const JOBS = Number(process.env.JOBS ?? 200);
const WARMUP_JOBS = Number(process.env.WARMUP_JOBS ?? 10);
const GAP_MS = Number(process.env.GAP_MS ?? 25);
// WAIT_IDLE=0 GAP_MS=0: create the next job as soon as the API reports the previous one finished.
const WAIT_IDLE = process.env.WAIT_IDLE !== '0';
const SPAWN_RUNS = Number(process.env.SPAWN_RUNS ?? 50);
const TRAINER = path.join(FIXTURES, 'pickup-trainer.mjs');
const MODES = (process.env.MODES ?? 'warm,cold').split(',') as Array<'warm' | 'cold'>;

interface Stamp {
  job: string;
  origin: number;
  first: number;
}

function readStamps(file: string): Map<string, Stamp> {
  const m = new Map<string, Stamp>();
  if (!existsSync(file)) return m;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const s = JSON.parse(line) as Stamp;
    m.set(s.job, s);
  }
  return m;
}

/** `node -e 0`, spawned and waited for: the plainest measure of a Node process on this machine. */
async function bareNode() {
  await waitForQuiet();
  const xs: number[] = [];
  for (let i = 0; i < SPAWN_RUNS; i++) {
    const t0 = nowMs();
    const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => c.on('exit', r));
    xs.push(nowMs() - t0);
  }
  return summarize(xs);
}

/**
 * The floor: starting the fixture trainer from this process with no database work in flight,
 * by a plain spawn() with the executor's options and by Trainyard's executor (startTrainer).
 * Measured in this process as it is when called: fork() copies the parent's page tables, so
 * the cost grows with the parent's resident memory (PGlite's WebAssembly heap lives in it).
 */
async function spawnFloor(context: string) {
  await waitForQuiet();
  const tmp = tempDir('spawn');
  try {
    const file = path.join(tmp.dir, 'stamps.jsonl');
    const specPath = path.join(tmp.dir, 'job.json');
    writeFileSync(specPath, JSON.stringify({ job_id: 'bare' }));
    const call: number[] = [];
    const origin: number[] = [];
    const first: number[] = [];
    for (let i = 0; i < SPAWN_RUNS; i++) {
      writeFileSync(file, '');
      const t0 = nowMs();
      const c = spawn(process.execPath, [TRAINER, file, '--spec', specPath], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: trainerEnv({ cwd: tmp.dir }),
      });
      call.push(nowMs() - t0);
      c.stdout.resume();
      c.stderr.resume();
      await new Promise((r) => c.on('close', r));
      const st = readStamps(file).get('bare')!;
      origin.push(st.origin - t0);
      first.push(st.first - t0);
    }
    const exec: number[] = [];
    for (let i = 0; i < SPAWN_RUNS; i++) {
      writeFileSync(file, '');
      const t0 = nowMs();
      const t = await startTrainer({ command: [process.execPath, TRAINER, file], specPath, cwd: tmp.dir, onEvent: () => {}, onOutput: () => {} });
      await t.done;
      exec.push(readStamps(file).get('bare')!.first - t0);
    }
    return {
      context,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      call: summarize(call),
      origin: summarize(origin),
      first: summarize(first),
      exec: summarize(exec),
    };
  } finally {
    tmp.remove();
  }
}
type Floor = Awaited<ReturnType<typeof spawnFloor>>;
const floors: Floor[] = [];

interface Sample {
  sent: number;
  committed: number;
  heard: number;
  claimStart: number;
  claimEnd: number;
  running: number;
  origin: number;
  first: number;
}

async function measure(kind: DbKind, cluster: PgCluster, mode: 'warm' | 'cold') {
  const probe = newProbe();
  const stampsDir = exchangeDir('stamps');
  const stampFile = stampsDir.file('stamps.jsonl');
  const trainer = benchTrainer('pickup', [process.execPath, TRAINER, stampFile]);
  const app = await startBenchApp(kind, {
    cluster,
    catalog: { trainers: [{ ...trainer, runtime: { ...trainer.runtime, warm: true } }] },
    env: { WARM_TRAINERS: mode === 'warm' ? 'on' : 'off' },
    wrapDb: (db) => probeDb(db, probe),
  });
  try {
    const c = api(app.url);
    const u = await c.user('picker');
    const ds = await c.csvDataset(u.token);
    const sent = new Map<string, number>();
    let failed = 0;
    await waitForQuiet();
    const meter = cpuMeter({ server: () => [process.pid], postgres: postgresPids });
    const ids: string[] = [];
    for (let i = 0; i < WARMUP_JOBS + JOBS; i++) {
      const t0 = nowMs();
      const job = await c.createJob(u.token, { trainer: 'pickup', dataset_id: ds, output: { model_name: 'pickup' } });
      sent.set(job.id, t0);
      if (i >= WARMUP_JOBS) ids.push(job.id);
      // The server shares this process: wait on the stamp file (a cheap stat) rather than
      // polling the API while the pickup is under way, then for the job to finish.
      for (const until = Date.now() + 60_000; !readFileSync(stampFile, 'utf8').includes(job.id); await sleep(5)) {
        if (Date.now() > until) throw new Error(`job ${job.id}: trainer not started after 60 s`);
      }
      const done = await c.waitForJob(u.token, job.id, 60_000, 10);
      if (done.status !== 'succeeded') failed++;
      // One in flight: wait until the worker has cleaned up and is idle, then a short gap.
      if (WAIT_IDLE) while (app.rt.worker!.activeJobs.length > 0) await sleep(2);
      await sleep(GAP_MS);
    }
    const cpu = meter();
    const stamps = readStamps(stampFile);
    const db = app.rt.services.db;
    const running = new Map(
      (
        await db.query<{ job_id: string; at: number }>(
          `select job_id, extract(epoch from created_at) * 1000 as at from job_events where type = 'status' and data->>'status' = 'running'`,
        )
      ).rows.map((r) => [r.job_id, Number(r.at)]),
    );
    const samples: Sample[] = [];
    for (const id of ids) {
      const s = stamps.get(id);
      const claim = probe.claimed.get(id);
      if (!s || !claim) throw new Error(`job ${id}: no stamp or claim recorded`);
      samples.push({
        sent: sent.get(id)!,
        committed: probe.committed.get(id)!,
        heard: probe.heard.get(id) ?? NaN,
        claimStart: claim.start,
        claimEnd: claim.end,
        running: running.get(id)!,
        origin: s.origin,
        first: s.first,
      });
    }
    if (mode === 'cold') floors.push(await spawnFloor(`inside the server, ${kind === 'pglite' ? 'PGlite' : 'Postgres pool'} open (fresh process)`));
    return { samples, failed, cpu };
  } finally {
    await app.close();
    stampsDir.remove();
  }
}

type Part = { kind: DbKind; mode: 'warm' | 'cold'; cluster: Pick<PgCluster, 'url' | 'version' | 'durability'> };
type PartResult = { samples: Sample[]; failed: number; cpu: Record<string, number>; floor: Floor | null };
const part = partInput<Part>();
if (part) {
  const r = await measure(part.kind, attachPgCluster(part.cluster), part.mode);
  await sendPart({ ...r, floor: floors[0] ?? null } satisfies PartResult);
  process.exit(0);
}

const bare = await bareNode();
floors.push(await spawnFloor('bench process before any database'));
const cluster = await startPgCluster();
const results: Array<{ db: string; samples: Sample[]; failed: number; cpu: Record<string, number> }> = [];
try {
  // Each database and mode in a fresh process (bench/lib/child.ts runPart), Postgres first.
  for (const kind of ['postgres', 'pglite'] as const) {
    for (const mode of MODES) {
      const r = await runPart<PartResult>(fileURLToPath(import.meta.url), {
        kind,
        mode,
        cluster: { url: cluster.url, version: cluster.version, durability: cluster.durability },
      } satisfies Part);
      if (r.floor) floors.push(r.floor);
      results.push({ db: `${kind === 'pglite' ? 'PGlite (on disk)' : `Postgres ${cluster.version.split(' ')[0]}`}, ${mode}`, ...r });
    }
  }
} finally {
  cluster.stop();
}

console.log(
  `Pickup latency: ${JOBS} jobs one at a time (after ${WARMUP_JOBS} warm-up jobs), next job ${WAIT_IDLE ? 'once the worker is idle + ' : ''}${GAP_MS} ms after the previous one finished; Postgres durability ${cluster.durability}\n`,
);
const rows: Array<Array<string | number>> = [];
for (const r of results) {
  for (const [label, from] of [
    ['request sent → trainer first line', 'sent'],
    ['POST committed → trainer first line', 'committed'],
  ] as const) {
    const s = summarize(r.samples.map((x) => x.first - x[from]));
    rows.push([
      r.db,
      label,
      s.n,
      ms(s.p50),
      ms(s.p95),
      ms(s.p99),
      ms(s.max),
      r.failed,
      (r.cpu.others ?? 0).toFixed(2),
      `${s.p50 <= 20 ? 'met' : 'not met'} / ${s.p99 <= 50 ? 'met' : 'not met'}`,
    ]);
  }
}
printTable(
  ['database', 'interval', 'jobs', 'p50', 'p95', 'p99', 'max', 'failed', 'other CPU load (cores, incl. the trainers)', 'target p50 ≤ 20 / p99 ≤ 50 ms'],
  rows,
);

console.log('\nWhere the time goes (p50 / p99 of each stage; stages are measured separately, so their percentiles do not add up exactly):\n');
const stages: Array<[string, (x: Sample) => number]> = [
  ['request sent → POST transaction committed (HTTP, auth, validation, insert)', (x) => x.committed - x.sent],
  ['committed → worker heard NOTIFY', (x) => x.heard - x.committed],
  ['heard NOTIFY → claim query returned', (x) => x.claimEnd - x.heard],
  ['  of which the claim query itself', (x) => x.claimEnd - x.claimStart],
  ["claim returned → 'running' event transaction began (db clock)", (x) => x.running - x.claimEnd],
  // A warm trainer's process started long before its job: these two stages are cold-only.
  ["'running' → trainer process started (status tx, staging, spawn)", (x) => (x.origin > x.claimStart ? x.origin - x.running : NaN)],
  ['trainer process started → its first line (Node bootstrap)', (x) => (x.origin > x.claimStart ? x.first - x.origin : NaN)],
  ["'running' → trainer first line (status tx, staging, hand-over or spawn + bootstrap)", (x) => x.first - x.running],
];
printTable(
  ['stage', ...results.map((r) => r.db)],
  stages.map(([name, f]) => [
    name,
    ...results.map((r) => {
      const s = summarize(r.samples.map(f).filter(Number.isFinite));
      return s.n === 0 ? '—' : `${ms(s.p50)} / ${ms(s.p99)}`;
    }),
  ]),
);

console.log(
  `\nThe floor on this machine (${SPAWN_RUNS} runs each, no database work in flight; p50 / p99). spawn \`node -e 0\` → exit: ${ms(bare.p50)} / ${ms(bare.p99)}.\n`,
);
printTable(
  ['spawned from', 'RSS', 'spawn() call (blocks the event loop)', 'spawn → process started', 'spawn → first line', 'executor startTrainer() → first line'],
  floors.map((f) => [f.context, `${Math.round(f.rssMb)} MiB`, ...[f.call, f.origin, f.first, f.exec].map((x) => `${ms(x.p50)} / ${ms(x.p99)}`)]),
);
