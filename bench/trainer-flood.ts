// Trainer flood: a real worker runs a trainer that prints LINES protocol lines as fast as the
// pipe takes them (per ten: 5 progress, 4 log, 1 metrics; test/fixtures/trainers/chatty.mjs),
// and we record the worker process's resident memory while it ingests them: baseline (service
// up, idle), peak during the job, and the growth between them. The same for a small run
// (SMALL, 10,000 lines) shows what memory a job costs at all; a flat line between the two is
// the point (the executor stops reading while the event sink is a batch behind, progress is
// coalesced, logs and metrics are capped per attempt).
// A third run adds SLOW_DB_MS (50) before every transaction, a database far away or busy: the
// sink then falls behind the trainer, which is where an unbounded reader would pile up.
// Each run is a fresh process (PGlite) so one does not inherit the other's heap.
//
// Run: npm run bench:trainer-flood   (LINES, SMALL, SLOW_DB_MS to override)
import path from 'node:path';
import type { Db } from '../src/db/db.js';
import { api, benchTrainer, startBenchApp } from './lib/app.js';
import { partInput, runPart, sendPart } from './lib/child.js';
import { printTable } from './lib/stats.js';

const LINES = Number(process.env.LINES ?? 1_000_000);
const SMALL = Number(process.env.SMALL ?? 10_000);
const CHATTY = path.resolve('test/fixtures/trainers/chatty.mjs');
const SLOW_DB_MS = Number(process.env.SLOW_DB_MS ?? 50);
const MB = 1024 * 1024;

/** The service's database, each transaction started `ms` late. */
function slowDb(db: Db, ms: number): Db {
  return {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: async (fn) => {
      await new Promise((r) => setTimeout(r, ms));
      return db.transaction(fn);
    },
    listen: (channel, handler) => db.listen(channel, handler),
    close: () => db.close(),
  };
}

interface Result {
  lines: number;
  delayMs: number;
  status: string;
  seconds: number;
  baselineMb: number;
  peakMb: number;
  events: Record<string, number>;
}

async function part(lines: number, delayMs: number): Promise<Result> {
  const app = await startBenchApp('pglite', {
    catalog: { trainers: [benchTrainer('chatty', [process.execPath, CHATTY])] },
    env: { WORKER_POLL_MS: '20' },
    ...(delayMs > 0 ? { wrapDb: (db: Db) => slowDb(db, delayMs) } : {}),
  });
  try {
    const c = api(app.url);
    const u = await c.user('flood');
    const ds = await c.csvDataset(u.token);
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const started = performance.now();
    const job = await c.createJob(u.token, { trainer: 'chatty', dataset_id: ds, hyperparameters: { steps: lines }, output: { model_name: 'flood' } });
    const done = await c.waitForJob(u.token, job.id, 600_000, 100);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const rows = await app.rt.services.db.query<{ type: string; n: number }>(
      'select type, count(*)::int as n from job_events where job_id = $1 group by type',
      [job.id],
    );
    return {
      lines,
      delayMs,
      status: done.status,
      seconds,
      baselineMb: baseline / MB,
      peakMb: peak / MB,
      events: Object.fromEntries(rows.rows.map((r) => [r.type, r.n])),
    };
  } finally {
    await app.close();
  }
}

const input = partInput<{ lines: number; delayMs: number }>();
if (input) {
  await sendPart(await part(input.lines, input.delayMs));
} else {
  const results: Result[] = [];
  for (const [lines, delayMs] of [
    [SMALL, 0],
    [LINES, 0],
    [LINES, SLOW_DB_MS],
  ] as const)
    results.push(await runPart<Result>('../trainer-flood.ts', { lines, delayMs }));
  printTable(
    ['lines', 'db delay ms', 'status', 'wall s', 'RSS idle MiB', 'RSS peak MiB', 'growth MiB', 'progress / log / metrics rows'],
    results.map((r) => [
      r.lines.toLocaleString('en'),
      r.delayMs,
      r.status,
      r.seconds.toFixed(1),
      r.baselineMb.toFixed(0),
      r.peakMb.toFixed(0),
      (r.peakMb - r.baselineMb).toFixed(0),
      `${r.events.progress ?? 0} / ${r.events.log ?? 0} / ${r.events.metrics ?? 0}`,
    ]),
  );
}
