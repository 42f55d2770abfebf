// Cost with a large history (issue #15, target 4): the hot reads and the worker's claim on an
// empty database, then again in the same run after bulk-loading FINISHED (1,000,000) finished
// jobs with ~10 events each (10,000,000), QUEUED (10,000) queued and RUNNING (50) running jobs
// straight into the tables (bench/lib/history-load.ts), VACUUM ANALYZE. Target: every
// operation's median within 1.5× of its empty-database median.
//
// The service runs in this process on a Postgres server started for the run (durability as in
// production); requests are sequential (one at a time: this measures each call's cost, not
// throughput), SAMPLES per operation after WARMUP discarded ones. The claim is the worker's own
// (JobLifecycle.claim, with its status event and webhook row) in a transaction rolled back
// afterwards, so every sample claims from the same queue. The bench user is the history's
// heaviest owner (~8 % of the finished jobs), so its own listing has a deep history too.
//
// After the loaded measurement the listing indexes of migration 0017 are dropped and the
// listings measured again (WITHOUT_SAMPLES, 30): the before and after of those indexes on the
// same data (WITHOUT_0017=0 skips it).
//
// Run: npm run bench:history-cost   (FINISHED, QUEUED, OWNERS, SAMPLES to override; PLANS=0 to
// skip the EXPLAIN ANALYZE output)
import pg from 'pg';
import type { Db } from '../src/db/db.js';
import { fairCandidate } from '../src/domain/jobs/lifecycle/sql.js';
import { encodeCursor } from '../src/ids.js';
import { api, startBenchApp } from './lib/app.js';
import { cpuMeter, postgresPids, waitForQuiet } from './lib/cpu.js';
import { loadHistory, relationSizes, seedOwner } from './lib/history-load.js';
import { startPgCluster } from './lib/pg-cluster.js';
import { recordDb, type Recorder } from './lib/query-recorder.js';
import { ms, printTable, summarize } from './lib/stats.js';

const FINISHED = Number(process.env.FINISHED ?? 1_000_000);
const QUEUED = Number(process.env.QUEUED ?? 10_000);
const RUNNING = Number(process.env.RUNNING ?? 50);
const OWNERS = Number(process.env.OWNERS ?? 2_000);
const SAMPLES = Number(process.env.SAMPLES ?? 200);
const WARMUP = 20;
const OWN_JOBS = 300;
const BIG_EVENTS = 20_000;
const TARGET = 1.5;

interface Op {
  name: string;
  /** One call; throws on a wrong answer so a broken call is never timed as a fast one. */
  run: () => Promise<void>;
}

class Rollback extends Error {}

const cluster = await startPgCluster();
const recorder: Recorder = { on: false, seen: [] };
let db: Db | null = null;
const app = await startBenchApp('postgres', {
  cluster,
  env: { WORKER_IN_PROCESS: 'false' },
  wrapDb: (d) => (db = recordDb(d, recorder)),
});
const dbUrl = app.rt.services.config.databaseUrl!;
const admin = new pg.Client({ connectionString: dbUrl });
try {
  await admin.connect();
  const c = api(app.url);
  const reader = await c.user('reader');
  const boss = await c.user('boss');
  await admin.query("update users set role = 'admin' where id = $1", [boss.id]);
  const { big, queued } = await seedOwner(dbUrl, reader.id, OWN_JOBS, BIG_EVENTS);
  const finishedOwn = 'job_own000000000000001';
  const replayMax = app.rt.services.config.events.replayMax;

  const get = async (path: string, token: string, headers: Record<string, string> = {}, want = 200) => {
    const res = await fetch(new URL(path, app.url), { headers: { authorization: `Bearer ${token}`, ...headers } });
    const body = await res.text();
    if (res.status !== want) throw new Error(`GET ${path}: HTTP ${res.status} ${body.slice(0, 200)}`);
    return body;
  };
  /** The cursor after the n-th job (newest first) of the owner, or of everyone: as the API would hand it out. */
  const cursorAfter = async (n: number, ownerId: string | null, status: string | null = null) => {
    const { rows } = await admin.query<{ created_at: Date; id: string }>(
      `select created_at, id from jobs where ($1::text is null or owner_id = $1) and ($3::text is null or status = $3)
        order by created_at desc, id desc offset $2 limit 1`,
      [ownerId, n - 1, status],
    );
    return encodeCursor(rows[0]!.created_at, rows[0]!.id);
  };
  const page =
    (q: string, token = reader.apiKey, want = 50) =>
    async () => {
      const body = JSON.parse(await get(`/v1/jobs?${q}`, token)) as { data: unknown[] };
      if (body.data.length !== want) throw new Error(`/v1/jobs?${q}: ${body.data.length} rows, want ${want}`);
    };
  const sse = (lastEventId: number, events: number) => async () => {
    const body = await get(`/v1/jobs/${big}/events`, reader.apiKey, { accept: 'text/event-stream', 'last-event-id': String(lastEventId) });
    const n = body.split('\nid: ').length - 1 + (body.startsWith('id: ') ? 1 : 0);
    if (n !== events) throw new Error(`SSE from ${lastEventId}: ${n} events, want ${events}`);
  };
  const claim = async () => {
    const w = { workerId: 'wkr_bench', freeGpus: 0, labels: [], leaseSeconds: 30, maxRunningPerUser: app.rt.services.config.jobs.maxRunningPerUser };
    try {
      await db!.transaction(async (tx) => {
        if (!(await app.rt.services.lifecycle.claim(tx, w))) throw new Error('claim found nothing');
        throw new Rollback();
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    }
  };

  /** The claim's fallback query (every owner busy, or the fast path's owner locked), rolled back like the claim. */
  const fullRanking = async () => {
    try {
      await db!.transaction(async (tx) => {
        const w = { workerId: 'wkr_bench', freeGpus: 0, labels: [], leaseSeconds: 30, maxRunningPerUser: app.rt.services.config.jobs.maxRunningPerUser };
        if (!(await fairCandidate(tx, w))) throw new Error('the full ranking found nothing');
        throw new Rollback();
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    }
  };

  /**
   * The full ranking as it was before migration 0024 (a window over every claimable job for each
   * owner's oldest), verbatim but for the states spelled out: its before, on the same data.
   */
  const fullRankingBefore = async () => {
    const limit = app.rt.services.config.jobs.maxRunningPerUser;
    try {
      await db!.transaction(async (tx) => {
        const { rows } = await tx.query(
          `with active as (
             select owner_id, count(*)::int as n from jobs where status in ('running', 'cancel_requested') group by owner_id
           ), ranked as (
             select j.id, j.owner_id, j.priority, j.created_at, coalesce(a.n, 0) as n,
                    min(j.created_at) over (partition by j.owner_id) as since
               from jobs j left join active a on a.owner_id = j.owner_id
              where j.status in ('queued') and j.run_after <= now() and j.gpus <= $1 and j.labels <@ $2::text[] and not (j.owner_id = any($3::text[]))
           )
           select j.id, j.owner_id from ranked r join jobs j on j.id = r.id
            where r.n < $4 and j.status in ('queued')
            order by r.n, r.since, r.owner_id, r.priority desc, r.created_at, r.id
            limit 1
            for update of j skip locked`,
          [0, [], [], limit],
        );
        if (!rows.length) throw new Error('the full ranking (before) found nothing');
        throw new Rollback();
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    }
  };

  // Cursors are taken per phase: the same depth in the bench user's own list in both phases.
  const ops = async (): Promise<Op[]> => [
    { name: 'claim (worker, rolled back)', run: claim },
    { name: "claim's full ranking alone (no idle owner case)", run: fullRanking },
    { name: "claim's full ranking before 0024 (every claimable job read)", run: fullRankingBefore },
    { name: 'GET /v1/jobs/{id} (finished)', run: async () => void (await get(`/v1/jobs/${finishedOwn}`, reader.apiKey)) },
    { name: 'GET /v1/jobs/{id} (queued: + queue position)', run: async () => void (await get(`/v1/jobs/${queued}`, reader.apiKey)) },
    { name: 'GET /v1/jobs?limit=50 (first page)', run: page('limit=50') },
    { name: 'GET /v1/jobs?status=failed&limit=50', run: page('status=failed&limit=50') },
    { name: 'GET /v1/jobs?status=queued&limit=50 (1 job)', run: page('status=queued&limit=50', reader.apiKey, 1) },
    { name: 'GET /v1/jobs?trainer=text-classifier&limit=50', run: page('trainer=text-classifier&limit=50') },
    { name: 'GET /v1/jobs?limit=50&cursor= (after 200)', run: page(`limit=50&cursor=${await cursorAfter(200, reader.id)}`) },
    {
      name: 'GET /v1/jobs?status=failed&cursor= (deepest page)',
      run: page(`status=failed&limit=50&cursor=${await cursorAfter((await countOwn(reader.id, 'failed')) - 50, reader.id, 'failed')}`),
    },
    { name: 'GET /v1/jobs?limit=50&cursor= (deepest page)', run: page(`limit=50&cursor=${await cursorAfter((await countOwn(reader.id)) - 50, reader.id)}`) },
    { name: 'admin GET /v1/jobs?scope=all&limit=50', run: page('scope=all&limit=50', boss.apiKey) },
    { name: 'admin GET /v1/jobs?scope=all&status=failed&limit=50', run: page('scope=all&status=failed&limit=50', boss.apiKey) },
    {
      name: 'admin GET /v1/jobs?scope=all&cursor= (deepest page)',
      run: page(`scope=all&limit=50&cursor=${await cursorAfter((await countOwn(null)) - 50, null)}`, boss.apiKey),
    },
    { name: `SSE resume, Last-Event-ID = last - 10`, run: sse(BIG_EVENTS - 10, 10) },
    { name: `SSE resume, Last-Event-ID = half (a page of ${replayMax})`, run: sse(BIG_EVENTS / 2, replayMax) },
    {
      name: 'GET /v1/jobs/{id}/events?after=half&limit=100',
      run: async () => void (await get(`/v1/jobs/${big}/events?after=${BIG_EVENTS / 2}&limit=100`, reader.apiKey)),
    },
  ];
  async function countOwn(ownerId: string | null, status: string | null = null): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      'select count(*)::int as n from jobs where ($1::text is null or owner_id = $1) and ($2::text is null or status = $2)',
      [ownerId, status],
    );
    return rows[0]!.n;
  }

  const measure = async (phase: string, only: (name: string) => boolean = () => true, samples = SAMPLES) => {
    await waitForQuiet();
    const out = new Map<string, { p50: number; p95: number; others: number }>();
    for (const op of (await ops()).filter((o) => only(o.name))) {
      for (let i = 0; i < WARMUP; i++) await op.run();
      const meter = cpuMeter({ server: () => [process.pid], postgres: postgresPids });
      const times: number[] = [];
      for (let i = 0; i < samples; i++) {
        const t0 = performance.now();
        await op.run();
        times.push(performance.now() - t0);
      }
      const s = summarize(times);
      out.set(op.name, { p50: s.p50, p95: s.p95, others: meter().others! });
      console.error(`  ${phase}: ${op.name}: p50 ${ms(s.p50)}`);
    }
    console.log(`measured: ${phase}`);
    return out;
  };

  /** The job and event statements one call ran, EXPLAIN ANALYZEd with the same parameters. */
  const plans = async (only: (name: string) => boolean = () => true) => {
    for (const op of (await ops()).filter((o) => only(o.name))) {
      recorder.seen = [];
      recorder.on = true;
      await op.run();
      recorder.on = false;
      const hot = recorder.seen.filter((q) => /^\s*(with|select)/i.test(q.sql) && /\b(jobs|job_events)\b/.test(q.sql) && !/pg_(try_)?advisory/.test(q.sql));
      console.log(`\n### ${op.name}`);
      for (const q of hot) {
        const { rows } = await admin.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, costs off, summary off) ${q.sql}`, [...q.params]);
        console.log(`-- ${q.sql.replace(/\s+/g, ' ').slice(0, 140)}…`);
        console.log(rows.map((r) => r['QUERY PLAN']).join('\n'));
      }
    }
  };

  console.log(`Postgres ${cluster.version}, durability ${cluster.durability}; ${SAMPLES} sequential samples per operation after ${WARMUP} warm-up\n`);
  const empty = await measure('empty database');
  const sizesBefore = await relationSizes(dbUrl);

  console.log(
    `\nloading ${FINISHED.toLocaleString('en-US')} finished jobs (~${(FINISHED * 10).toLocaleString('en-US')} events), ${QUEUED} queued, ${RUNNING} running, ${OWNERS} owners:`,
  );
  const loadMeter = cpuMeter({ postgres: postgresPids });
  const t0 = performance.now();
  let loadCpu: Record<string, number> = {};
  const steps = await loadHistory(
    dbUrl,
    { owners: OWNERS, heavyOwner: reader.id, finished: FINISHED, queued: QUEUED, running: RUNNING },
    console.log,
    () => (loadCpu = loadMeter()),
  );
  console.log(
    `loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s (Postgres ${loadCpu.postgres!.toFixed(2)} cores, others ${loadCpu.others!.toFixed(2)})\n`,
  );
  const loaded = await measure('loaded database');
  const sizesLoaded = await relationSizes(dbUrl);
  // The same listings without the indexes migration 0017 added: the "before" of the fix, on the same data.
  const isList = (name: string) => name.includes('/v1/jobs?');
  let without: Awaited<ReturnType<typeof measure>> | null = null;
  if (process.env.WITHOUT_0017 !== '0' && (await admin.query("select 1 from pg_class where relname = 'jobs_owner_status_idx'")).rowCount) {
    if (process.env.PLANS !== '0') {
      console.log('\nPlans of the listings on the loaded database (with migration 0017):');
      await plans(isList);
    }
    await admin.query('drop index jobs_owner_status_idx, jobs_recent_idx, jobs_status_recent_idx');
    // Fewer samples: without the indexes some listings take hundreds of milliseconds each.
    without = await measure('loaded database without 0017 listing indexes', isList, Number(process.env.WITHOUT_SAMPLES ?? 30));
    if (process.env.PLANS !== '0') {
      console.log('\nPlans of the listings without the indexes of 0017:');
      await plans(isList);
    }
  }

  printTable(
    ['operation', 'empty p50', 'empty p95', 'loaded p50', 'loaded p95', 'ratio p50', `≤ ${TARGET}×`, 'CPU others (empty / loaded)'],
    [...empty.entries()].map(([name, e]) => {
      const l = loaded.get(name)!;
      const r = l.p50 / e.p50;
      return [
        name,
        ms(e.p50),
        ms(e.p95),
        ms(l.p50),
        ms(l.p95),
        `${r.toFixed(2)}×`,
        r <= TARGET ? 'met' : 'NOT MET',
        `${e.others.toFixed(2)} / ${l.others.toFixed(2)}`,
      ];
    }),
  );
  console.log('\nLoad steps:');
  printTable(
    ['step', 'rows', 'seconds'],
    steps.map((s) => [s.step, s.rows.toLocaleString('en-US'), s.seconds.toFixed(1)]),
  );
  const mb = (b: number) => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(1)} MB` : '');
  console.log('\nSizes (empty → loaded):');
  const after = sizesLoaded;
  printTable(
    ['relation', 'rows (loaded)', 'total (empty)', 'total (loaded)', 'table', 'indexes'],
    after.map((r) => [
      r.name,
      Number.isFinite(r.rows) ? r.rows.toLocaleString('en-US') : '',
      mb(sizesBefore.find((b) => b.name === r.name)?.total ?? NaN),
      mb(r.total),
      mb(r.table),
      mb(r.indexes),
    ]),
  );
  if (without) {
    console.log('\nListings on the loaded database without the indexes of migration 0017 (before) and with them (after):');
    printTable(
      ['operation', 'before p50', 'before p95', 'after p50', 'after p95', 'before / empty', 'after / empty'],
      [...without.entries()].map(([name, w]) => {
        const e = empty.get(name)!;
        const l = loaded.get(name)!;
        return [name, ms(w.p50), ms(w.p95), ms(l.p50), ms(l.p95), `${(w.p50 / e.p50).toFixed(2)}×`, `${(l.p50 / e.p50).toFixed(2)}×`];
      }),
    );
  }
  if (process.env.PLANS !== '0') {
    console.log('\nPlans on the loaded database (EXPLAIN ANALYZE of the job/event statements each call ran; listings: see above):');
    await plans((name) => !isList(name) || !without);
  }
} finally {
  await admin.end().catch(() => {});
  await app.close();
  cluster.stop();
}
