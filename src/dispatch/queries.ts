import type { Queryable } from '../db/db.js';
import type { JobRow } from '../domain/jobs/queries.js';

/** Every write a worker makes names its claim: a stale worker's write matches no row. */
export interface Fence { jobId: string; workerId: string; attempt: number }

const FENCED = `id = $1 and worker_id = $2 and attempt = $3 and status in ('running', 'cancel_requested')`;
const fence = (f: Fence) => [f.jobId, f.workerId, f.attempt];

/**
 * Claims the next job this worker can run: highest priority first; among equals, the owner
 * with the fewest running jobs (so one user's hundred jobs cannot starve another's one), then
 * the oldest. SKIP LOCKED lets many workers claim at once without waiting on each other.
 * The per-owner running limit is checked without a lock: two workers claiming in the same
 * instant can overshoot it by one, which we accept rather than serialise every claim.
 */
export async function claim(db: Queryable, w: { workerId: string; freeGpus: number; labels: string[]; leaseSeconds: number; maxRunningPerUser: number }): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `with active as (
       select owner_id, count(*)::int as n from jobs where status in ('running', 'cancel_requested') group by owner_id
     ), candidate as (
       select j.id from jobs j left join active a on a.owner_id = j.owner_id
        where j.status = 'queued' and j.run_after <= now() and j.gpus <= $2 and j.labels <@ $3::text[]
          and coalesce(a.n, 0) < $5
        order by j.priority desc, coalesce(a.n, 0), j.created_at, j.id
        limit 1
        for update of j skip locked
     )
     update jobs j set status = 'running', attempt = j.attempt + 1, worker_id = $1,
            lease_expires_at = now() + make_interval(secs => $4), attempt_started_at = now(),
            started_at = coalesce(j.started_at, now()), updated_at = now()
       from candidate where j.id = candidate.id
     returning j.*`,
    [w.workerId, w.freeGpus, w.labels, w.leaseSeconds, w.maxRunningPerUser],
  );
  return rows[0] ?? null;
}

/** Renews the lease; returns the job's status, or null when the claim is gone (fenced out). */
export async function heartbeat(db: Queryable, f: Fence, leaseSeconds: number): Promise<string | null> {
  const { rows } = await db.query<{ status: string }>(
    `update jobs set lease_expires_at = now() + make_interval(secs => $4) where ${FENCED} returning status`,
    [...fence(f), leaseSeconds],
  );
  return rows[0]?.status ?? null;
}

export async function updateProgress(db: Queryable, f: Fence, p: { progress: number; step: number; total_steps: number; epoch: number | null; eta_seconds: number | null }): Promise<boolean> {
  const { rowCount } = await db.query(
    `update jobs set progress = $4, step = $5, total_steps = $6, epoch = $7, eta_seconds = $8, updated_at = now() where ${FENCED}`,
    [...fence(f), p.progress, p.step, p.total_steps, p.epoch, p.eta_seconds],
  );
  return rowCount > 0;
}

export async function saveCheckpoint(db: Queryable, f: Fence, cp: { step: number; key: string; name: string }): Promise<boolean> {
  const { rowCount } = await db.query(`update jobs set checkpoint = $4 where ${FENCED}`, [...fence(f), JSON.stringify(cp)]);
  return rowCount > 0;
}

/** Locks the claimed row for the finishing transaction; null means this claim lost. */
export async function lockClaim(db: Queryable, f: Fence): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`select * from jobs where ${FENCED} for update`, fence(f));
  return rows[0] ?? null;
}

export async function markSucceeded(db: Queryable, f: Fence, r: { result: Record<string, unknown>; model_version_id: string | null }): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = 'succeeded', result = $4, model_version_id = $5, progress = 1, eta_seconds = 0,
            lease_expires_at = null, finished_at = now(), updated_at = now()
      where ${FENCED} returning *`,
    [...fence(f), JSON.stringify(r.result), r.model_version_id],
  );
  return rows[0] ?? null;
}

export async function markEnded(db: Queryable, f: Fence, status: 'failed' | 'cancelled', error: { code: string; message: string }): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = $4, error = $5, lease_expires_at = null, finished_at = now(), updated_at = now()
      where ${FENCED} returning *`,
    [...fence(f), status, JSON.stringify(error)],
  );
  return rows[0] ?? null;
}

/**
 * A draining worker gives a job back: queued again, and the attempt does not count against
 * the retry budget (max_attempts grows by one) because nothing went wrong with the job.
 */
export async function handBack(db: Queryable, f: Fence): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = 'queued', worker_id = null, lease_expires_at = null, max_attempts = max_attempts + 1,
            run_after = now(), updated_at = now()
      where id = $1 and worker_id = $2 and attempt = $3 and status = 'running' returning *`,
    fence(f),
  );
  return rows[0] ?? null;
}

/** Expired leases, locked for the reaper (SKIP LOCKED: reapers on many machines do not collide). */
export async function expiredLeases(db: Queryable, limit: number): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select * from jobs where status in ('running', 'cancel_requested') and lease_expires_at < now()
      order by lease_expires_at limit $1 for update skip locked`,
    [limit],
  );
  return rows;
}

export async function requeueLost(db: Queryable, id: string, backoffSeconds: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = 'queued', worker_id = null, lease_expires_at = null,
            run_after = now() + make_interval(secs => $2), updated_at = now()
      where id = $1 and status = 'running' returning *`,
    [id, backoffSeconds],
  );
  return rows[0] ?? null;
}

export async function endLost(db: Queryable, id: string, status: 'failed' | 'cancelled', error: { code: string; message: string }): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = $2, error = $3, worker_id = null, lease_expires_at = null, finished_at = now(), updated_at = now()
      where id = $1 and status in ('running', 'cancel_requested') returning *`,
    [id, status, JSON.stringify(error)],
  );
  return rows[0] ?? null;
}

export async function jobStatus(db: Queryable, id: string): Promise<string | null> {
  const { rows } = await db.query<{ status: string }>('select status from jobs where id = $1', [id]);
  return rows[0]?.status ?? null;
}
