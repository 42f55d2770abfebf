import type { Queryable } from '../../db/db.js';
import { ACTIVE_STATES, JOB_STATES, OPEN_STATES, sqlStates, type JobState } from './states.js';
import type { JobRow } from './types.js';
import { cursorTime } from '../../ids.js';

const ACTIVE = sqlStates(ACTIVE_STATES);
const OPEN = sqlStates(OPEN_STATES);

export async function jobByIdempotencyKey(db: Queryable, ownerId: string, key: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>('select * from jobs where owner_id = $1 and idempotency_key = $2', [ownerId, key]);
  return rows[0] ?? null;
}

/** The columns a job's API answer is made of (publicJob): no dispatch internals, no checkpoint. */
// prettier-ignore
export const PUBLIC_JOB_COLS = [
  'id', 'kind', 'trainer', 'status', 'priority', 'dataset_id', 'validation_dataset_id', 'test_dataset_id',
  'base_model', 'hyperparameters', 'output', 'metadata', 'webhook_url', 'integrations', 'cost', 'attempt', 'max_attempts', 'progress',
  'step', 'total_steps', 'epoch', 'eta_seconds', 'latest_sample', 'error', 'result', 'model_version_id', 'from_model',
  'sweep_id', 'estimated_duration_seconds', 'estimate_source', 'created_at', 'started_at', 'finished_at', 'updated_at',
] as const;
export type PublicJobRow = Pick<JobRow, (typeof PUBLIC_JOB_COLS)[number]>;

/**
 * One job for GET /v1/jobs/{id}, with its queue position (null unless queued), in one round
 * trip: the status API's hot path (issue #15), where a second query cost as much as the first.
 * Owner-scoped like jobById.
 */
export async function publicJobById(
  db: Queryable,
  ownerId: string | null,
  id: string,
): Promise<(PublicJobRow & { owner_id: string; queue_position: number | null }) | null> {
  const { rows } = await db.query<PublicJobRow & { owner_id: string; queue_position: number | null }>(PUBLIC_JOB_BY_ID, [id, ownerId]);
  return rows[0] ?? null;
}
const PUBLIC_JOB_BY_ID = `select ${PUBLIC_JOB_COLS.map((c) => `j.${c}`).join(', ')}, j.owner_id,
    case when j.status = '${JOB_STATES.QUEUED}' then (select count(*)::int from jobs where ${aheadOf('j.id', 'j.priority', 'j.created_at')}) end as queue_position
  from jobs j where j.id = $1 and ($2::text is null or j.owner_id = $2)`;

/** Owner-scoped; `ownerId` null is the explicit admin path. */
export async function jobById(db: Queryable, ownerId: string | null, id: string, lock = false): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`select * from jobs where id = $1 and ($2::text is null or owner_id = $2)${lock ? ' for update' : ''}`, [
    id,
    ownerId,
  ]);
  return rows[0] ?? null;
}

export async function listJobs(
  db: Queryable,
  ownerId: string | null,
  limit: number,
  after: { t: string; id: string } | null,
  f: { status?: JobState; trainer?: string; kind?: JobRow['kind']; model_name?: string },
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select *, ${cursorTime()} from jobs
      where ($1::text is null or owner_id = $1)
        and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
        and ($5::text is null or status = $5) and ($6::text is null or trainer = $6) and ($7::text is null or kind = $7)
        and ($8::text is null or output->>'model_name' = $8)
      order by created_at desc, id desc limit $2`,
    [ownerId, limit + 1, after?.t ?? null, after?.id ?? null, f.status ?? null, f.trainer ?? null, f.kind ?? null, f.model_name ?? null],
  );
  return rows;
}

/**
 * How many queued jobs are ahead of a queued one: higher priority, or the same priority and
 * created earlier (ties by id). One count over the partial queue index (priority desc,
 * created_at, id where status = 'queued'), read alone (index-only) when the table is vacuumed.
 * It ignores the claim's fair share between owners.
 */
export async function queuePosition(db: Queryable, j: Pick<JobRow, 'id' | 'priority' | 'created_at'>): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from jobs where ${aheadOf('$1', '$2', '$3')}`, [j.id, j.priority, j.created_at]);
  return rows[0]!.n;
}

/** The queued jobs ahead of the job whose id, priority and created_at these SQL expressions give. */
function aheadOf(id: string, priority: string, createdAt: string): string {
  return `status = '${JOB_STATES.QUEUED}' and id <> ${id}
      and (priority > ${priority} or (priority = ${priority} and (created_at < ${createdAt} or (created_at = ${createdAt} and id < ${id}))))`;
}

export async function countByStatus(db: Queryable, ownerId: string): Promise<{ queued: number; active: number }> {
  const { rows } = await db.query<{ queued: number; active: number }>(
    `select count(*) filter (where status = '${JOB_STATES.QUEUED}')::int as queued,
            count(*) filter (where status in (${ACTIVE}))::int as active
       from jobs where owner_id = $1 and status in (${OPEN})`,
    [ownerId],
  );
  return rows[0]!;
}

export async function deleteJob(db: Queryable, id: string): Promise<void> {
  await db.query('delete from jobs where id = $1', [id]);
}

export interface EventRow {
  seq: number;
  type: string;
  data: Record<string, unknown>;
  created_at: Date;
}

export async function listEvents(db: Queryable, jobId: string, afterSeq: number, limit: number, types: string[] | null = null): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `select seq, type, data, created_at from job_events
      where job_id = $1 and seq > $2 and ($4::text[] is null or type = any($4::text[]))
      order by seq limit $3`,
    [jobId, afterSeq, limit, types],
  );
  return rows;
}

/**
 * A job's metrics events, evenly thinned to at most `max`: every stride-th one (the stride
 * chosen from the count) and always the last. The database does the thinning, so a trainer
 * that reported a million metrics costs the API `max` rows, not a million.
 */
export async function metricEvents(db: Queryable, jobId: string, max: number): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `with m as (
       select seq, type, data, created_at, row_number() over (order by seq) as rn, count(*) over () as n
         from job_events where job_id = $1 and type = 'metrics')
     select seq, type, data, created_at from m
      where n <= $2 or (rn - 1) % ceil(n::numeric / ($2 - 1))::bigint = 0 or rn = n
      order by seq`,
    [jobId, max],
  );
  return rows;
}

/** The newest `limit` log lines (for `tail`), oldest first. */
export async function tailLogs(db: Queryable, jobId: string, limit: number, since: Date | null): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `select * from (
       select seq, type, data, created_at from job_events
        where job_id = $1 and type = 'log' and ($3::timestamptz is null or created_at >= $3)
        order by seq desc limit $2) t
      order by seq`,
    [jobId, limit, since],
  );
  return rows;
}

export async function datasetInUse(db: Queryable, datasetId: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string; status: string }>(
    `select id, status from jobs where $1 in (dataset_id, validation_dataset_id, test_dataset_id) and status in (${OPEN}) limit 1`,
    [datasetId],
  );
  return rows[0] ? `job ${rows[0].id} is ${rows[0].status}` : null;
}

/**
 * Whether `name` is taken for the owner: a model of that name, or an open training job that
 * will produce it. One statement, so it sees one snapshot: a job finishing meanwhile (its
 * model and its final state commit together) is counted either as the job or as the model.
 */
export async function modelNameTaken(db: Queryable, ownerId: string, name: string): Promise<'model' | 'job' | null> {
  const { rows } = await db.query<{ taken: 'model' | 'job' | null }>(
    `select case
       when exists (select 1 from models where owner_id = $1 and name = $2) then 'model'
       when exists (select 1 from jobs where owner_id = $1 and kind = 'training' and output ->> 'model_name' = $2 and status in (${OPEN})) then 'job'
     end as taken`,
    [ownerId, name],
  );
  return rows[0]?.taken ?? null;
}

/**
 * Median seconds per unit of work (`param`, a hyperparameter) over a trainer's latest `n`
 * first-attempt successes at `gpus` GPUs, wall time from start to finish; null with no history.
 * First attempts only: a retried run's time includes the attempt that was lost.
 */
export async function measuredSecondsPerUnit(db: Queryable, trainer: string, gpus: number, param: string, n: number): Promise<number | null> {
  const { rows } = await db.query<{ spu: number | null }>(
    `select percentile_cont(0.5) within group (order by spu)::float8 as spu from (
       select extract(epoch from finished_at - started_at)::float8 / (hyperparameters ->> $3)::float8 as spu
         from jobs
        where trainer = $1 and gpus = $2 and status = '${JOB_STATES.SUCCEEDED}' and attempt = 1 and started_at is not null
          and jsonb_typeof(hyperparameters -> $3) = 'number' and (hyperparameters ->> $3)::float8 > 0
        order by finished_at desc limit $4) h`,
    [trainer, gpus, param, n],
  );
  return rows[0]?.spu ?? null;
}

export async function setEstimate(db: Queryable, id: string, seconds: number, source: 'history' | 'catalog'): Promise<JobRow> {
  const { rows } = await db.query<JobRow>('update jobs set estimated_duration_seconds = $2, estimate_source = $3 where id = $1 returning *', [
    id,
    seconds,
    source,
  ]);
  return rows[0]!;
}
