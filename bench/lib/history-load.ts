/**
 * Bulk-loads a large job history straight into the tables with generate_series (one INSERT …
 * SELECT per table, no round trip per row), for bench/history-cost.ts. The rows respect the
 * schema's constraints; the distributions are meant to look like a service that ran for a year:
 *
 * - owners: `owners` users; a job's owner is drawn with a strong skew (random()^3), so a few
 *   owners hold most of the history and most hold a little;
 * - finished jobs: 80 % succeeded, 14 % failed, 6 % cancelled; 85 % training (several
 *   trainers), 15 % inference; created over the past 365 days, finished minutes later;
 * - events: 4 to 15 per job (mean 9.5: three status events, then log, metrics and progress
 *   lines), and one job in 10,000 has 5,000, so the total is `jobs` × 10;
 * - the queue: `queued` jobs from a fifth of the owners, created over the last hour, plus
 *   `running` jobs held by a worker (the per-owner running count the claim reads).
 *
 * Foreign-key triggers are skipped for the load (session_replication_role = replica): the rows
 * reference only users and jobs inserted just before, so nothing is left unchecked that could
 * be wrong. Indexes stay in place, as they are in production.
 */
import pg from 'pg';

export interface HistoryShape {
  owners: number;
  /** The id of the heaviest history owner (owner 1): the bench's own user, so its API key reads that history. */
  heavyOwner: string;
  finished: number;
  queued: number;
  running: number;
}

export interface LoadStep {
  step: string;
  rows: number;
  seconds: number;
}

const TRAINERS = `(array['tabular-classifier','text-classifier','image-classifier','sequence-classifier','lora-causal-lm','lora-diffusion'])`;

/** Per-job event count: 4..15, and 5,000 for one job in 10,000 (mean 10 per job). */
const EVENTS_OF = (i: string) => `(case when ${i} % 10000 = 0 then 5000 else 4 + (${i}::bigint * 7919) % 12 end)`;

/** `beforeEnd` runs while the loading connection is still open (a CPU meter reads its backend then). */
export async function loadHistory(url: string, s: HistoryShape, log: (m: string) => void = () => {}, beforeEnd: () => void = () => {}): Promise<LoadStep[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const steps: LoadStep[] = [];
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const t0 = performance.now();
    const r = await c.query(sql, params);
    const seconds = (performance.now() - t0) / 1000;
    steps.push({ step: name, rows: r.rowCount ?? 0, seconds });
    log(`  ${name}: ${(r.rowCount ?? 0).toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s`);
  };
  try {
    await c.query("set session_replication_role = replica; set synchronous_commit = off; set maintenance_work_mem = '256MB'");
    await step(
      'users',
      `insert into users (id, username, email, password_hash, created_at)
       select 'usr_h' || g, 'hist' || g, 'hist' || g || '@example.com', 'x', now() - interval '400 days'
         from generate_series(1, $1::int) g`,
      [s.owners],
    );
    // Finished jobs. i is the job's number; r1..r3 are its random draws.
    await step(
      'finished jobs',
      `insert into jobs (id, owner_id, kind, trainer, status, hyperparameters, output, max_runtime_seconds, attempt, event_seq,
                         progress, created_at, run_after, started_at, finished_at, updated_at, error, result)
       select 'job_h' || substr(md5(i::text), 1, 20), (case when floor($2::int * r1 ^ 3) = 0 then $3 else 'usr_h' || (1 + floor($2::int * r1 ^ 3))::int end),
              case when r2 < 0.15 then 'inference' else 'training' end,
              case when r2 < 0.15 then 'lora-diffusion' else ${TRAINERS}[1 + (i % 5)] end,
              case when r3 < 0.80 then 'succeeded' when r3 < 0.94 then 'failed' else 'cancelled' end,
              jsonb_build_object('epochs', 1 + i % 20, 'learning_rate', 0.001),
              case when r2 < 0.15 then null else jsonb_build_object('model_name', 'm' || (i % 500)) end,
              3600, 1, ${EVENTS_OF('i')}, 1, t, t, t + interval '5 seconds', t + interval '5 seconds' + (i % 3600) * interval '1 second',
              t + interval '5 seconds' + (i % 3600) * interval '1 second',
              case when r3 >= 0.80 and r3 < 0.94 then '{"code":"TRAINER_FAILED","message":"exit 1"}'::jsonb end,
              case when r3 < 0.80 then '{"metrics":{"accuracy":0.9}}'::jsonb end
         from (select i, random() as r1, random() as r2, random() as r3,
                      now() - interval '365 days' + (i::float8 / $1::int) * interval '364 days' as t
                 from generate_series(1, $1::int) i) g`,
      [s.finished, s.owners, s.heavyOwner],
    );
    await step(
      'events',
      `insert into job_events (job_id, seq, type, data, created_at)
       select j.id, e.seq,
              case when e.seq <= 2 or e.seq = j.event_seq then 'status' when e.seq % 8 = 0 then 'progress' when e.seq % 3 = 0 then 'metrics' else 'log' end,
              case when e.seq = 1 then '{"status":"queued"}'::jsonb
                   when e.seq = 2 then '{"status":"running"}'::jsonb
                   when e.seq = j.event_seq then jsonb_build_object('status', j.status)
                   when e.seq % 8 = 0 then jsonb_build_object('progress', 0.5, 'step', e.seq)
                   when e.seq % 3 = 0 then jsonb_build_object('step', e.seq, 'loss', 1.0 / e.seq)
                   else jsonb_build_object('level', 'info', 'message', 'step ' || e.seq || ' done', 'stream', 'stdout') end,
              j.started_at + e.seq * interval '10 ms'
         from jobs j cross join lateral generate_series(1, j.event_seq) e(seq)
        where j.id like 'job\\_h%'`,
    );
    await step(
      'queued jobs',
      `insert into jobs (id, owner_id, trainer, status, hyperparameters, output, max_runtime_seconds, event_seq, created_at, run_after, updated_at)
       select 'job_q' || substr(md5(i::text), 1, 20), 'usr_h' || (1 + floor(($2::int / 5) * random()))::int,
              ${TRAINERS}[1 + (i % 5)], 'queued', '{}', jsonb_build_object('model_name', 'q' || i), 3600, 1, t, t, t
         from (select i, now() - interval '1 hour' + (i::float8 / $1::int) * interval '59 minutes' as t from generate_series(1, $1::int) i) g`,
      [s.queued, s.owners],
    );
    await step(
      'running jobs',
      `insert into jobs (id, owner_id, trainer, status, hyperparameters, output, max_runtime_seconds, event_seq, attempt, worker_id,
                         lease_expires_at, attempt_started_at, started_at, created_at, updated_at)
       select 'job_r' || substr(md5(i::text), 1, 20), 'usr_h' || (1 + i % ($2::int / 5)), ${TRAINERS}[1 + (i % 5)], 'running', '{}',
              jsonb_build_object('model_name', 'r' || i), 3600, 2, 1, 'wkr_hist', now() + interval '1 day', now(), now(), now() - interval '2 hours', now()
         from generate_series(1, $1::int) i`,
      [s.running, s.owners],
    );
    await c.query('set session_replication_role = origin');
    const t0 = performance.now();
    await c.query('vacuum analyze');
    steps.push({ step: 'vacuum analyze', rows: 0, seconds: (performance.now() - t0) / 1000 });
    log(`  vacuum analyze: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    beforeEnd();
  } finally {
    await c.end();
  }
  return steps;
}

/**
 * The bench user's own jobs, the same in both phases: `jobs` finished jobs over the last day,
 * one finished job with `bigEvents` events (the SSE resume target), and one queued job (the
 * claim's target). Returns the ids of the big and the queued job.
 */
export async function seedOwner(url: string, ownerId: string, jobs: number, bigEvents: number): Promise<{ big: string; queued: string }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const big = 'job_big0000000000000000';
  const queued = 'job_own0queued00000000';
  try {
    await c.query(
      `insert into jobs (id, owner_id, trainer, status, hyperparameters, output, max_runtime_seconds, attempt, event_seq, progress,
                         created_at, run_after, started_at, finished_at, updated_at)
       select 'job_own' || lpad(i::text, 15, '0'), $1, ${TRAINERS}[1 + (i % 5)], case when i % 3 = 0 then 'failed' else 'succeeded' end,
              '{}', jsonb_build_object('model_name', 'own' || (i % 20)), 3600, 1, 3, 1, t, t, t, t + interval '1 minute', t + interval '1 minute'
         from (select i, now() - interval '1 day' + (i::float8 / $2::int) * interval '23 hours' as t from generate_series(1, $2::int) i) g`,
      [ownerId, jobs],
    );
    await c.query(
      `insert into job_events (job_id, seq, type, data, created_at)
       select j.id, s, 'status', jsonb_build_object('status', case s when 1 then 'queued' when 2 then 'running' else j.status end), j.created_at
         from jobs j, generate_series(1, 3) s where j.owner_id = $1`,
      [ownerId],
    );
    await c.query(
      `insert into jobs (id, owner_id, trainer, status, hyperparameters, output, max_runtime_seconds, attempt, event_seq, progress,
                         created_at, run_after, started_at, finished_at, updated_at)
       values ($1, $2, 'sequence-classifier', 'succeeded', '{}', '{"model_name":"big"}', 3600, 1, $3, 1,
               now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours', now() - interval '1 hour', now() - interval '1 hour')`,
      [big, ownerId, bigEvents],
    );
    await c.query(
      `insert into job_events (job_id, seq, type, data, created_at)
       select $1, s, case when s = 1 or s = $2 then 'status' when s % 3 = 0 then 'metrics' else 'log' end,
              case when s = 1 then '{"status":"queued"}'::jsonb when s = $2 then '{"status":"succeeded"}'::jsonb
                   when s % 3 = 0 then jsonb_build_object('step', s, 'loss', 1.0 / s)
                   else jsonb_build_object('level', 'info', 'message', 'step ' || s || ' done', 'stream', 'stdout') end,
              now() - interval '2 hours' + s * interval '10 ms'
         from generate_series(1, $2::int) s`,
      [big, bigEvents],
    );
    await c.query(
      `insert into jobs (id, owner_id, trainer, status, hyperparameters, output, max_runtime_seconds, event_seq, created_at, run_after, updated_at)
       values ($1, $2, 'tabular-classifier', 'queued', '{}', '{"model_name":"queued"}', 3600, 1, now(), now(), now())`,
      [queued, ownerId],
    );
    await c.query('vacuum analyze jobs');
    await c.query('vacuum analyze job_events');
  } finally {
    await c.end();
  }
  return { big, queued };
}

/** Total, table and index bytes of the job tables (pg_total_relation_size and its parts). */
export async function relationSizes(url: string): Promise<Array<{ name: string; rows: number; total: number; table: number; indexes: number }>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string; rows: string; total: string; tbl: string; idx: string }>(
      `select c.relname as name, c.reltuples::bigint as rows, pg_total_relation_size(c.oid) as total,
              pg_table_size(c.oid) as tbl, pg_indexes_size(c.oid) as idx
         from pg_class c where c.relname in ('jobs', 'job_events', 'users') order by pg_total_relation_size(c.oid) desc`,
    );
    const tables = rows.map((r) => ({ name: r.name, rows: Number(r.rows), total: Number(r.total), table: Number(r.tbl), indexes: Number(r.idx) }));
    const { rows: idx } = await c.query<{ name: string; size: string }>(
      `select i.relname as name, pg_relation_size(i.oid) as size from pg_index x
         join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
        where t.relname in ('jobs', 'job_events') order by pg_relation_size(i.oid) desc`,
    );
    return [...tables, ...idx.map((r) => ({ name: `  index ${r.name}`, rows: NaN, total: Number(r.size), table: NaN, indexes: NaN }))];
  } finally {
    await c.end();
  }
}
