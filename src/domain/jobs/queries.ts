import type { Queryable } from '../../db/db.js';

export interface JobRow {
  id: string;
  owner_id: string;
  kind: 'training' | 'inference';
  trainer: string;
  status: string;
  priority: number;
  dataset_id: string | null;
  validation_dataset_id: string | null;
  base_model: string | null;
  hyperparameters: Record<string, unknown>;
  output: { model_name: string; description?: string };
  metadata: Record<string, unknown>;
  from_model: { name: string; version?: number; alias?: string; version_id?: string } | null;
  webhook_url: string | null;
  gpus: number;
  labels: string[];
  cost: number;
  idempotency_key: string | null;
  request_hash: string | null;
  attempt: number;
  max_attempts: number;
  run_after: Date;
  worker_id: string | null;
  lease_expires_at: Date | null;
  attempt_started_at: Date | null;
  max_runtime_seconds: number;
  checkpoint: { step: number; path: string; worker_id: string } | null;
  event_seq: number;
  progress: number;
  step: number | null;
  total_steps: number | null;
  epoch: number | null;
  eta_seconds: number | null;
  error: { code: string; message: string } | null;
  result: Record<string, unknown> | null;
  model_version_id: string | null;
  sweep_id: string | null;
  sweep_point: Record<string, unknown> | null;
  sweep_repeat: number | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export type NewJob = Pick<
  JobRow,
  'id' | 'owner_id' | 'kind' | 'trainer' | 'priority' | 'dataset_id' | 'validation_dataset_id' | 'base_model' | 'hyperparameters' | 'output' | 'metadata' | 'from_model' | 'webhook_url' | 'gpus' | 'labels' | 'cost' | 'idempotency_key' | 'request_hash' | 'max_attempts' | 'max_runtime_seconds' | 'sweep_id' | 'sweep_point' | 'sweep_repeat'
>;

/** Inserts a queued job; returns null when the owner already used this idempotency key. */
export async function insertJob(db: Queryable, j: NewJob): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `insert into jobs (id, owner_id, kind, trainer, status, priority, dataset_id, validation_dataset_id, base_model, hyperparameters,
                       output, metadata, from_model, webhook_url, gpus, labels, cost, idempotency_key, request_hash, max_attempts, max_runtime_seconds,
                       sweep_id, sweep_point, sweep_repeat)
     values ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
     on conflict (owner_id, idempotency_key) where idempotency_key is not null do nothing
     returning *`,
    [
      j.id, j.owner_id, j.kind, j.trainer, j.priority, j.dataset_id, j.validation_dataset_id, j.base_model, JSON.stringify(j.hyperparameters),
      JSON.stringify(j.output), JSON.stringify(j.metadata), j.from_model ? JSON.stringify(j.from_model) : null, j.webhook_url, j.gpus, j.labels,
      j.cost, j.idempotency_key, j.request_hash, j.max_attempts, j.max_runtime_seconds,
      j.sweep_id, j.sweep_point ? JSON.stringify(j.sweep_point) : null, j.sweep_repeat,
    ],
  );
  return rows[0] ?? null;
}

export async function jobByIdempotencyKey(db: Queryable, ownerId: string, key: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>('select * from jobs where owner_id = $1 and idempotency_key = $2', [ownerId, key]);
  return rows[0] ?? null;
}

/** Owner-scoped; `ownerId` null is the explicit admin path. */
export async function jobById(db: Queryable, ownerId: string | null, id: string, lock = false): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`select * from jobs where id = $1 and ($2::text is null or owner_id = $2)${lock ? ' for update' : ''}`, [id, ownerId]);
  return rows[0] ?? null;
}

export async function listJobs(db: Queryable, ownerId: string | null, limit: number, after: { t: string; id: string } | null, f: { status?: string; trainer?: string }): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select * from jobs
      where ($1::text is null or owner_id = $1)
        and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
        and ($5::text is null or status = $5) and ($6::text is null or trainer = $6)
      order by created_at desc, id desc limit $2`,
    [ownerId, limit + 1, after?.t ?? null, after?.id ?? null, f.status ?? null, f.trainer ?? null],
  );
  return rows;
}

export async function countByStatus(db: Queryable, ownerId: string): Promise<{ queued: number; active: number }> {
  const { rows } = await db.query<{ queued: number; active: number }>(
    `select count(*) filter (where status = 'queued')::int as queued,
            count(*) filter (where status in ('running', 'cancel_requested'))::int as active
       from jobs where owner_id = $1 and status in ('queued', 'running', 'cancel_requested')`,
    [ownerId],
  );
  return rows[0]!;
}

/** Queued → cancelled at once; running → cancel_requested (the worker stops the trainer). */
export async function cancelQueued(db: Queryable, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = 'cancelled', finished_at = now(), updated_at = now(), error = $2
      where id = $1 and status = 'queued' returning *`,
    [id, JSON.stringify({ code: 'CANCELLED', message: 'cancelled before it started' })],
  );
  return rows[0] ?? null;
}

export async function requestCancel(db: Queryable, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`update jobs set status = 'cancel_requested', updated_at = now() where id = $1 and status = 'running' returning *`, [id]);
  return rows[0] ?? null;
}

export async function deleteJob(db: Queryable, id: string): Promise<void> {
  await db.query('delete from jobs where id = $1', [id]);
}

export interface EventRow { seq: number; type: string; data: Record<string, unknown>; created_at: Date }

export async function listEvents(db: Queryable, jobId: string, afterSeq: number, limit: number, types: string[] | null = null): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `select seq, type, data, created_at from job_events
      where job_id = $1 and seq > $2 and ($4::text[] is null or type = any($4::text[]))
      order by seq limit $3`,
    [jobId, afterSeq, limit, types],
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
    `select id, status from jobs where (dataset_id = $1 or validation_dataset_id = $1) and status in ('queued', 'running', 'cancel_requested') limit 1`,
    [datasetId],
  );
  return rows[0] ? `job ${rows[0].id} is ${rows[0].status}` : null;
}
