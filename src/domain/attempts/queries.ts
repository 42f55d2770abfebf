/**
 * The SQL of remote attempts (migration 0019). Every query names the whole claim — job,
 * worker, attempt — or, for the blob route, the owner, job and attempt a signed key carries.
 */
import type { Queryable } from '../../db/db.js';
import { ACTIVE_STATES, sqlStates } from '../jobs/states.js';
import type { Fence, JobRow } from '../jobs/types.js';
import type { CapCounters } from '../jobs/trainer-events.js';
import type { AttemptScope } from './keys.js';

const ACTIVE = sqlStates(ACTIVE_STATES);

export interface AttemptRow {
  job_id: string;
  attempt: number;
  worker_id: string;
  next_seq: number;
  log_lines: number;
  dropped_logs: number;
  metrics_kept: number;
  dropped_metrics: number;
  first_progress_at: Date | null;
  first_progress_step: number | null;
  report: Record<string, unknown> | null;
  reported_at: Date | null;
}

export type ClaimedJob = Pick<JobRow, 'id' | 'owner_id' | 'status'>;

/** The job while `f` is its live claim (running or being cancelled); null once it is not. */
export async function claimedJob(db: Queryable, f: Fence): Promise<ClaimedJob | null> {
  const { rows } = await db.query<ClaimedJob>(
    `select id, owner_id, status from jobs where id = $1 and worker_id = $2 and attempt = $3 and status in (${ACTIVE})`,
    [f.jobId, f.workerId, f.attempt],
  );
  return rows[0] ?? null;
}

/** The whole job row while `f` is its live claim, for the launcher's spec. */
export async function claimedJobRow(db: Queryable, f: Fence): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`select * from jobs where id = $1 and worker_id = $2 and attempt = $3 and status in (${ACTIVE})`, [
    f.jobId,
    f.workerId,
    f.attempt,
  ]);
  return rows[0] ?? null;
}

/** next_seq without a lock: a hint of which events a batch will apply (it only grows). */
export async function peekNextSeq(db: Queryable, f: Fence): Promise<number> {
  const { rows } = await db.query<{ next_seq: string | number }>('select next_seq from job_attempts where job_id = $1 and attempt = $2 and worker_id = $3', [
    f.jobId,
    f.attempt,
    f.workerId,
  ]);
  return rows[0] ? Number(rows[0].next_seq) : 0;
}

/**
 * The attempt's row, created on first use and locked until the transaction ends: the lock is
 * what makes a batch's skip-or-apply decision and its writes one step on every replica.
 * Call only after claimedJob said the claim stands (the job row exists).
 */
export async function lockAttempt(tx: Queryable, f: Fence): Promise<AttemptRow> {
  await tx.query('insert into job_attempts (job_id, attempt, worker_id) values ($1, $2, $3) on conflict (job_id, attempt) do nothing', [
    f.jobId,
    f.attempt,
    f.workerId,
  ]);
  const { rows } = await tx.query<AttemptRow>('select * from job_attempts where job_id = $1 and attempt = $2 and worker_id = $3 for update', [
    f.jobId,
    f.attempt,
    f.workerId,
  ]);
  const row = rows[0];
  // A row of the same attempt under another worker id cannot exist: attempt numbers are the job's own.
  if (!row) throw new Error(`attempt ${f.jobId}/${f.attempt} is held by another worker id`);
  return { ...row, next_seq: Number(row.next_seq) };
}

export async function saveIngest(tx: Queryable, f: Fence, nextSeq: number, c: CapCounters, firstProgress: { at: number; step: number } | null): Promise<void> {
  await tx.query(
    `update job_attempts set next_seq = $4, log_lines = $5, dropped_logs = $6, metrics_kept = $7, dropped_metrics = $8,
            first_progress_at = $9, first_progress_step = $10, updated_at = now()
      where job_id = $1 and attempt = $2 and worker_id = $3`,
    [
      f.jobId,
      f.attempt,
      f.workerId,
      nextSeq,
      c.logLines,
      c.droppedLogs,
      c.metricsKept,
      c.droppedMetrics,
      firstProgress ? new Date(firstProgress.at) : null,
      firstProgress?.step ?? null,
    ],
  );
}

/** When the attempt reported its end and whether that report equals `report` (as jsonb: key order does not matter); null before any report. */
export async function reportState(db: Queryable, f: Fence, report: unknown): Promise<{ reported_at: Date; same: boolean } | null> {
  const { rows } = await db.query<{ reported_at: Date; same: boolean }>(
    `select reported_at, report = $4::jsonb as same from job_attempts
      where job_id = $1 and attempt = $2 and worker_id = $3 and reported_at is not null`,
    [f.jobId, f.attempt, f.workerId, JSON.stringify(report)],
  );
  return rows[0] ?? null;
}

export async function saveReport(tx: Queryable, f: Fence, report: unknown): Promise<Date> {
  const { rows } = await tx.query<{ reported_at: Date }>(
    `update job_attempts set report = $4::jsonb, reported_at = now(), updated_at = now()
      where job_id = $1 and attempt = $2 and worker_id = $3 and reported_at is null returning reported_at`,
    [f.jobId, f.attempt, f.workerId, JSON.stringify(report)],
  );
  return rows[0]!.reported_at;
}

export async function reportOf(db: Queryable, f: Fence): Promise<Record<string, unknown> | null> {
  const { rows } = await db.query<{ report: Record<string, unknown> | null }>(
    'select report from job_attempts where job_id = $1 and attempt = $2 and worker_id = $3',
    [f.jobId, f.attempt, f.workerId],
  );
  return rows[0]?.report ?? null;
}

/**
 * Whether a signed upload for this attempt may still write: the attempt is the job's live claim
 * (same owner, same attempt number, running or being cancelled) and has not reported its end.
 */
export async function attemptUploadOpen(db: Queryable, s: AttemptScope): Promise<boolean> {
  const { rows } = await db.query(
    `select 1 from jobs j
      where j.id = $1 and j.owner_id = $2 and j.attempt = $3 and j.status in (${ACTIVE})
        and not exists (select 1 from job_attempts a where a.job_id = j.id and a.attempt = j.attempt and a.reported_at is not null)`,
    [s.jobId, s.ownerId, s.attempt],
  );
  return rows.length > 0;
}
