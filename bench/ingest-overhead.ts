// Ingest overhead: a trainer emitting RATE (10,000) events/s for SECONDS (5) — a third each of
// progress, metrics and log lines, one stdout write each (bench/fixtures/ingest-trainer.mjs) —
// run (a) bare, spawned by a plain child_process.spawn with stdout and stderr on /dev/null
// (and, for reference, on a pipe the parent drains and discards), and (b) as a Trainyard job:
// worker + executor + event sink writing to the database. Reported: the trainer's own wall
// time (it measures itself: first event → last event written) and CPU time, median of REPEAT
// (3) runs each, and the slowdown of (b) against (a).
// A second, unpaced mode writes the same 50,000 events as fast as it can: there the wall time
// shows how fast each setup absorbs a trainer's output (a full pipe blocks the trainer).
// Each database runs in a fresh process; the service runs in that process, the trainer in its own.
//
// Run: npx tsx bench/ingest-overhead.ts   (RATE, SECONDS, REPEAT to override; SINK_FLUSH=immediate
// for the experiment in bench/lib/sink-experiment.ts)
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, benchTrainer, FIXTURES, exchangeDir, startBenchApp, tempDir, type DbKind } from './lib/app.js';
import { applySinkExperiment, sinkExperiment } from './lib/sink-experiment.js';
import { partInput, runPart, sendPart } from './lib/child.js';
import { cpuMeter, postgresPids, waitForQuiet } from './lib/cpu.js';
import { attachPgCluster, startPgCluster, type PgCluster } from './lib/pg-cluster.js';
import { ms, printTable, summarize } from './lib/stats.js';

const RATE = Number(process.env.RATE ?? 10_000);
const SECONDS = Number(process.env.SECONDS ?? 5);
const REPEAT = Number(process.env.REPEAT ?? 3);
const TRAINER = path.join(FIXTURES, 'ingest-trainer.mjs');
const TARGET_PCT = 5;
const MODES = ['paced', 'max'] as const;
type Mode = (typeof MODES)[number];

interface Run {
  wallMs: number;
  cpuMs: number;
  end: number;
  events: number;
  maxBehindMs: number;
}
interface JobRun extends Run {
  jobMs: number;
  lastEventToFinalMs: number;
  status: string;
  stored: Record<string, number>;
  cpu: Record<string, number>;
}

const lastRun = (file: string): Run => JSON.parse(readFileSync(file, 'utf8').trim().split('\n').at(-1)!) as Run;
const median = (xs: number[]) => summarize(xs).p50;
const argv = (file: string, mode: Mode, seconds = SECONDS) => [TRAINER, file, String(RATE), String(seconds), ...(mode === 'max' ? ['max'] : [])];

async function bare(mode: Mode, stdout: 'devnull' | 'pipe'): Promise<Run[]> {
  const tmp = tempDir('ingest-bare');
  try {
    const file = path.join(tmp.dir, 'runs.jsonl');
    writeFileSync(file, '');
    const runs: Run[] = [];
    for (let i = 0; i < REPEAT; i++) {
      await waitForQuiet();
      const fd = openSync('/dev/null', 'w');
      const child = spawn(process.execPath, argv(file, mode), { stdio: stdout === 'devnull' ? ['ignore', fd, fd] : ['ignore', 'pipe', 'pipe'] });
      closeSync(fd);
      child.stdout?.resume();
      child.stderr?.resume();
      const code = await new Promise<number | null>((r) => child.on('close', r));
      if (code !== 0) throw new Error(`bare trainer exited ${code}`);
      runs.push(lastRun(file));
    }
    return runs;
  } finally {
    tmp.remove();
  }
}

async function underTrainyard(kind: DbKind, cluster: PgCluster): Promise<Record<Mode, JobRun[]>> {
  const tmp = exchangeDir('ingest');
  const file = tmp.file('runs.jsonl');
  const trainers = [
    benchTrainer('ingest-paced', [process.execPath, ...argv(file, 'paced')]),
    benchTrainer('ingest-max', [process.execPath, ...argv(file, 'max')]),
    benchTrainer('ingest-warmup', [process.execPath, ...argv(file, 'paced', 1)]),
  ];
  const app = await startBenchApp(kind, { cluster, catalog: { trainers } });
  try {
    const c = api(app.url);
    const u = await c.user('ingester');
    const ds = await c.csvDataset(u.token);
    const db = app.rt.services.db;
    // One short job first, so the measured ones do not pay for cold code paths.
    const w = await c.createJob(u.token, { trainer: 'ingest-warmup', dataset_id: ds, output: { model_name: 'warmup' } });
    await c.waitForJob(u.token, w.id, 120_000);
    const out = { paced: [] as JobRun[], max: [] as JobRun[] };
    for (const mode of MODES) {
      for (let i = 0; i < REPEAT; i++) {
        await waitForQuiet();
        const meter = cpuMeter({ server: () => [process.pid], postgres: postgresPids });
        const t0 = performance.now();
        const job = await c.createJob(u.token, { trainer: `ingest-${mode}`, dataset_id: ds, output: { model_name: `ingest-${mode}` } });
        const done = await c.waitForJob(u.token, job.id, 300_000, 20);
        const jobMs = performance.now() - t0;
        const cpu = meter();
        const r = lastRun(file);
        const stored = await db.query<{ type: string; n: number }>(
          'select type, count(*)::int as n from job_events where job_id = $1 group by type order by type',
          [job.id],
        );
        const fin = await db.query<{ finished: number }>('select extract(epoch from finished_at) * 1000 as finished from jobs where id = $1', [job.id]);
        out[mode].push({
          ...r,
          jobMs,
          lastEventToFinalMs: Number(fin.rows[0]!.finished) - r.end,
          status: done.status,
          stored: Object.fromEntries(stored.rows.map((x) => [x.type, x.n])),
          cpu,
        });
      }
    }
    return out;
  } finally {
    await app.close();
    tmp.remove();
  }
}

type Part = { kind: DbKind; cluster: Pick<PgCluster, 'url' | 'version' | 'durability'> };
const part = partInput<Part>();
if (part) {
  applySinkExperiment();
  await sendPart(await underTrainyard(part.kind, attachPgCluster(part.cluster)));
  process.exit(0);
}

const bareRuns = {
  paced: { devnull: await bare('paced', 'devnull'), pipe: await bare('paced', 'pipe') },
  max: { devnull: await bare('max', 'devnull'), pipe: await bare('max', 'pipe') },
};
const cluster = await startPgCluster();
const jobs: Array<{ db: string; runs: Record<Mode, JobRun[]> }> = [];
try {
  for (const kind of ['postgres', 'pglite'] as const) {
    const runs = await runPart<Record<Mode, JobRun[]>>(fileURLToPath(import.meta.url), {
      kind,
      cluster: { url: cluster.url, version: cluster.version, durability: cluster.durability },
    } satisfies Part);
    jobs.push({ db: kind === 'pglite' ? 'PGlite (on disk)' : `Postgres ${cluster.version.split(' ')[0]}`, runs });
  }
} finally {
  cluster.stop();
}

console.log(
  `Ingest overhead: ${RATE * SECONDS} events (a third each progress / metrics / log), median of ${REPEAT} runs; Postgres durability ${cluster.durability}${sinkExperiment ? '\nEXPERIMENT SINK_FLUSH=immediate: EventSink patched at run time (bench/lib/sink-experiment.ts), not the shipped behaviour' : ''}\n`,
);
const rows: Array<Array<string | number>> = [];
for (const mode of MODES) {
  const base = median(bareRuns[mode].devnull.map((r) => r.wallMs));
  const basePipe = median(bareRuns[mode].pipe.map((r) => r.wallMs));
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
  const row = (how: string, runs: Run[], target: boolean) => {
    const m = median(runs.map((r) => r.wallMs));
    const pct = ((m - base) / base) * 100;
    return [
      mode === 'paced' ? `${RATE}/s for ${SECONDS} s` : 'as fast as possible',
      how,
      ms(m),
      runs.map((r) => Math.round(r.wallMs)).join(', '),
      ms(median(runs.map((r) => r.cpuMs))),
      mode === 'paced' ? ms(median(runs.map((r) => r.maxBehindMs))) : '–',
      runs === bareRuns[mode].devnull ? '–' : signed(pct),
      runs === bareRuns[mode].pipe ? '–' : signed(((m - basePipe) / basePipe) * 100),
      target ? (pct <= TARGET_PCT ? 'met' : 'not met') : '',
    ];
  };
  rows.push(row('bare: stdout on /dev/null', bareRuns[mode].devnull, false));
  rows.push(row('bare: stdout on a pipe, drained', bareRuns[mode].pipe, false));
  for (const { db, runs } of jobs) rows.push(row(`Trainyard job, ${db}`, runs[mode], mode === 'paced'));
}
printTable(
  [
    'emission',
    'how the trainer ran',
    'trainer wall (median)',
    'runs (ms)',
    'trainer CPU',
    'max behind schedule',
    'vs bare /dev/null',
    'vs bare pipe',
    `target ≤ ${TARGET_PCT} % (paced)`,
  ],
  rows,
);

console.log(
  '\nThe Trainyard runs in more detail (medians; events stored by type are from the last run: progress is coalesced per flush, logs are capped at 10,000 lines per attempt):\n',
);
printTable(
  [
    'database',
    'emission',
    'POST → job final',
    'last event written → job finished (db clock)',
    'status',
    'events stored',
    'CPU cores: server / Postgres / others (incl. the trainer)',
  ],
  jobs.flatMap(({ db, runs }) =>
    MODES.map((mode) => {
      const rs = runs[mode];
      const last = rs.at(-1)!;
      return [
        db,
        mode,
        ms(median(rs.map((r) => r.jobMs))),
        ms(median(rs.map((r) => r.lastEventToFinalMs))),
        [...new Set(rs.map((r) => r.status))].join(', '),
        Object.entries(last.stored)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        ['server', 'postgres', 'others'].map((k) => median(rs.map((r) => r.cpu[k] ?? 0)).toFixed(2)).join(' / '),
      ];
    }),
  ),
);
