/**
 * The SQL of every job transition, beside the lifecycle that runs it. Each UPDATE is guarded by
 * the transition's `from` states (from states.ts, never spelled here) and, for the transitions
 * only the claim holder may make, by the fence (job, worker, attempt): a refused transition
 * matches no row, so the caller gets null and nothing else happens.
 */
import type { Queryable } from '../../../db/db.js';
import { ACTIVE_STATES, sqlStates, TRANSITIONS as T, type TransitionName } from '../states.js';
import type { Fence, JobError, JobRow, NewJob, StoredCheckpoint } from '../types.js';

const fromStates = (name: TransitionName) => sqlStates(T[name].from);
const ACTIVE = sqlStates(ACTIVE_STATES);
/** The claim holder's guard: $1 job, $2 worker, $3 attempt. */
const FENCED = `id = $1 and worker_id = $2 and attempt = $3 and status in (${ACTIVE})`;
const fenceParams = (f: Fence) => [f.jobId, f.workerId, f.attempt];

/** Inserts a queued job; null when the owner already used this idempotency key. */
export async function insertJob(db: Queryable, j: NewJob): Promise<JobRow | null> {
  const cols = [
    'id',
    'owner_id',
    'kind',
    'trainer',
    'priority',
    'dataset_id',
    'validation_dataset_id',
    'test_dataset_id',
    'base_model',
    'hyperparameters',
    'output',
    'metadata',
    'from_model',
    'webhook_url',
    'integrations',
    'gpus',
    'labels',
    'cost',
    'idempotency_key',
    'request_hash',
    'max_attempts',
    'max_runtime_seconds',
    'sweep_id',
    'sweep_point',
    'sweep_repeat',
  ] as const;
  const json = (v: unknown) => (v === null ? null : JSON.stringify(v));
  const values = cols.map((c) =>
    c === 'integrations' ? json(j.integrations ?? []) : ['hyperparameters', 'output', 'metadata', 'from_model', 'sweep_point'].includes(c) ? json(j[c]) : j[c],
  );
  const { rows } = await db.query<JobRow>(
    `insert into jobs (status, ${cols.join(', ')})
     values ('${T.enqueue.to}', ${cols.map((_, i) => `$${i + 1}`).join(', ')})
     on conflict (owner_id, idempotency_key) where idempotency_key is not null do nothing
     returning *`,
    values,
  );
  return rows[0] ?? null;
}

/** Advisory-lock namespace (first key) of the per-owner claim lock; the second key is hashtext(owner_id). */
export const OWNER_CLAIM_LOCK = 0x7479_6f31; // "tyo1"
/** Owners found at their running limit (or busy) before a claim gives up for this round. */
const MAX_OWNERS_TRIED = 20;

export interface ClaimRequest {
  workerId: string;
  freeGpus: number;
  labels: string[];
  leaseSeconds: number;
  maxRunningPerUser: number;
}

const QUEUED = fromStates('claim');
/** A job this worker can take once it is queued: due, within its GPUs, only labels it has. `j`; $1 gpus, $2 labels. */
const FITS = `j.run_after <= now() and j.gpus <= $1 and j.labels <@ $2::text[]`;
/** What a claim may take: claimable now, fits the worker's GPUs and labels, not of an owner already passed over. `j`; $1 gpus, $2 labels, $3 skipped. */
const CLAIMABLE = `j.status in (${QUEUED}) and ${FITS} and not (j.owner_id = any($3::text[]))`;
/** Claimable jobs in age order the fast path looks at before it falls back to the full ranking. */
const IDLE_OWNER_WINDOW = 200;

type Candidate = { id: string; owner_id: string };

/** One owner's next job in its own order, locked for the claim (SKIP LOCKED: one no other claim holds); `owner` is SQL naming the owner ($4, or a subquery). */
const ownersNextJob = (owner: string) => `select j.id, j.owner_id from jobs j
  where ${CLAIMABLE} and j.owner_id = ${owner}
  order by j.priority desc, j.created_at, j.id
  limit 1
  for update skip locked`;

/**
 * The fast path of the fair order: when an owner with nothing running has a claimable job, the
 * first owner in that order is the one of them whose oldest claimable job is oldest, and
 * walking the claimable jobs oldest first (jobs_queue_age_idx) finds it within a few rows,
 * however long the queue. Only the oldest IDLE_OWNER_WINDOW claimable jobs are looked at; no
 * idle owner among them (or all its jobs locked by other claims) falls back to fairCandidate.
 * Same order, ties included: (since, owner_id), then the owner's (priority desc, created_at, id).
 */
async function idleOwnerCandidate(db: Queryable, w: ClaimRequest, skipped: string[]): Promise<Candidate | null> {
  const { rows } = await db.query<Candidate>(
    ownersNextJob(`(
      select q.owner_id from (
        select j.owner_id, j.created_at from jobs j where ${CLAIMABLE} order by j.created_at, j.owner_id limit ${IDLE_OWNER_WINDOW}) q
       where not exists (select 1 from jobs r where r.owner_id = q.owner_id and r.status in (${ACTIVE}))
       order by q.created_at, q.owner_id limit 1)`),
    [w.freeGpus, w.labels, skipped],
  );
  return rows[0] ?? null;
}

/**
 * The full fair order: owners by running jobs (fewest first, under the limit), then by their
 * oldest claimable job, then owner id; each owner's jobs by priority. Its cost follows the
 * owners waiting, not the queue's length: a recursive walk through jobs_queue_owner_age_idx
 * (owner, age) steps from one owner's oldest queued job to the next owner's (a skip scan: one
 * index probe per owner); when that job is one this worker cannot take, the owner's own queued
 * jobs are searched for its oldest claimable one. Reading every claimable job for the owners'
 * minimum cost 58.6 ms for 10,000 queued jobs (a window over all of them; before that a
 * self-join, quadratic: 3.2 s) against 4.2 ms now; see bench/README.md.
 *
 * The ranked owners come back in order (up to MAX_OWNERS_TRIED) and the first of them with a job
 * no other claim holds wins, as one ORDER BY over all claimable jobs with SKIP LOCKED would pick.
 * Exported for bench/history-cost.ts and the claim-order test.
 */
export async function fairCandidate(db: Queryable, w: ClaimRequest, skipped: string[] = []): Promise<Candidate | null> {
  // Each step takes the next owner's oldest queued job with no filter, so the only sensible plan
  // is one ordered index probe. With the claimability filter in the step, Postgres planned a
  // bitmap scan of every queued job per step on the 1,000,000-job bench (2.3 s): it cannot
  // estimate how soon the filter matches.
  const step = `select j.owner_id, j.created_at, (${FITS}) as ok from jobs j where j.status in (${QUEUED})`;
  const { rows: owners } = await db.query<{ owner_id: string }>(
    `with recursive heads(owner_id, created_at, ok) as (
       (${step} order by j.owner_id, j.created_at limit 1)
       union all
       select n.* from heads h cross join lateral (${step} and j.owner_id > h.owner_id order by j.owner_id, j.created_at limit 1) n
     ), active as (
       select owner_id, count(*)::int as n from jobs where status in (${ACTIVE}) group by owner_id
     ), ranked as (
       -- An owner whose oldest queued job this worker cannot take (GPUs, labels, run_after): its
       -- oldest claimable one is looked up among that owner's jobs alone.
       select h.owner_id, coalesce(a.n, 0) as n,
              case when h.ok then h.created_at else (select min(j.created_at) from jobs j where j.owner_id = h.owner_id and ${CLAIMABLE}) end as since
         from heads h left join active a on a.owner_id = h.owner_id
        where coalesce(a.n, 0) < $4 and not (h.owner_id = any($3::text[]))
     )
     select owner_id from ranked where since is not null
      order by n, since, owner_id
      limit ${MAX_OWNERS_TRIED}`,
    [w.freeGpus, w.labels, skipped, w.maxRunningPerUser],
  );
  for (const { owner_id } of owners) {
    const { rows } = await db.query<Candidate>(ownersNextJob('$4'), [w.freeGpus, w.labels, skipped, owner_id]);
    if (rows[0]) return rows[0];
  }
  return null;
}

/**
 * Claims the next job this worker can run. Owners are served fairly: the owner with the fewest
 * running jobs first, then the one whose oldest claimable job has waited longest; `priority`
 * only orders that owner's own jobs, so no user can jump ahead of another by asking for it.
 * SKIP LOCKED lets many workers claim at once without waiting on each other's rows.
 *
 * The per-owner running limit is exact: the chosen owner's claims are serialised by a
 * transaction-scoped advisory lock, and the owner's running jobs are counted again after it is
 * taken (a new statement, so a new snapshot under READ COMMITTED: a claim committed meanwhile
 * by another worker is seen). Only the first owner's lock is waited for; any further owner
 * tried in the same claim is only try-locked, so two claims can never wait on each other.
 */
export async function claimNext(db: Queryable, w: ClaimRequest): Promise<JobRow | null> {
  const skipped: string[] = [];
  for (let tries = 0; tries < MAX_OWNERS_TRIED; tries++) {
    const cand = (await idleOwnerCandidate(db, w, skipped)) ?? (await fairCandidate(db, w, skipped));
    if (!cand) return null;
    if (tries === 0) await db.query(`select pg_advisory_xact_lock(${OWNER_CLAIM_LOCK}, hashtext($1))`, [cand.owner_id]);
    else {
      const { rows } = await db.query<{ ok: boolean }>(`select pg_try_advisory_xact_lock(${OWNER_CLAIM_LOCK}, hashtext($1)) as ok`, [cand.owner_id]);
      if (!rows[0]!.ok) {
        skipped.push(cand.owner_id);
        continue;
      }
    }
    const { rows: counted } = await db.query<{ n: number }>(`select count(*)::int as n from jobs where owner_id = $1 and status in (${ACTIVE})`, [
      cand.owner_id,
    ]);
    if (counted[0]!.n >= w.maxRunningPerUser) {
      skipped.push(cand.owner_id);
      continue;
    }
    const { rows } = await db.query<JobRow>(
      `update jobs j set status = '${T.claim.to}', attempt = j.attempt + 1, worker_id = $2,
              lease_expires_at = now() + make_interval(secs => $3), attempt_started_at = now(),
              started_at = coalesce(j.started_at, now()), updated_at = now()
        where j.id = $1 and j.status in (${fromStates('claim')})
       returning j.*`,
      [cand.id, w.workerId, w.leaseSeconds],
    );
    // No row: it left the queue between the look and the lock (cancelled); look again.
    if (rows[0]) return rows[0];
  }
  return null;
}

/** Renews the lease; the job's status, or null when the claim is gone (fenced out). */
export async function renewLease(db: Queryable, f: Fence, leaseSeconds: number): Promise<JobRow['status'] | null> {
  const { rows } = await db.query<{ status: JobRow['status'] }>(
    `update jobs set lease_expires_at = now() + make_interval(secs => $4) where ${FENCED} returning status`,
    [...fenceParams(f), leaseSeconds],
  );
  return rows[0]?.status ?? null;
}

export interface Progress {
  progress: number;
  step: number;
  total_steps: number;
  epoch: number | null;
  eta_seconds: number | null;
}

export async function setProgress(db: Queryable, f: Fence, p: Progress): Promise<boolean> {
  const { rowCount } = await db.query(
    `update jobs set progress = $4, step = $5, total_steps = $6, epoch = $7, eta_seconds = $8, updated_at = now() where ${FENCED}`,
    [...fenceParams(f), p.progress, p.step, p.total_steps, p.epoch, p.eta_seconds],
  );
  return rowCount > 0;
}

export async function setCheckpoint(db: Queryable, f: Fence, cp: StoredCheckpoint): Promise<boolean> {
  const { rowCount } = await db.query(`update jobs set checkpoint = $4 where ${FENCED}`, [...fenceParams(f), JSON.stringify(cp)]);
  return rowCount > 0;
}

/** Locks the claimed row for a finishing transaction; null means this claim lost. */
export async function lockClaim(db: Queryable, f: Fence): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`select * from jobs where ${FENCED} for update`, fenceParams(f));
  return rows[0] ?? null;
}

export async function markSucceeded(db: Queryable, f: Fence, r: { result: Record<string, unknown>; model_version_id: string | null }): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T.succeed.to}', result = $4, model_version_id = $5, progress = 1, eta_seconds = 0,
            lease_expires_at = null, finished_at = now(), updated_at = now()
      where ${FENCED} and status in (${fromStates('succeed')}) returning *`,
    [...fenceParams(f), JSON.stringify(r.result), r.model_version_id],
  );
  return rows[0] ?? null;
}

type Ending = 'fail' | 'timeOut' | 'cancelStopped';

/** The claim holder ends the job without success (failed, timed out, cancelled). */
export async function markEnded(db: Queryable, name: Ending, f: Fence, error: JobError): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T[name].to}', error = $4, lease_expires_at = null, finished_at = now(), updated_at = now()
      where ${FENCED} and status in (${fromStates(name)}) returning *`,
    [...fenceParams(f), JSON.stringify(error)],
  );
  return rows[0] ?? null;
}

/**
 * A draining worker gives a job back: queued again, and the attempt does not count against
 * the retry budget (max_attempts grows by one) because nothing went wrong with the job.
 */
export async function markHandedBack(db: Queryable, f: Fence): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T.handBack.to}', worker_id = null, lease_expires_at = null, max_attempts = max_attempts + 1,
            run_after = now(), updated_at = now()
      where ${FENCED} and status in (${fromStates('handBack')}) returning *`,
    fenceParams(f),
  );
  return rows[0] ?? null;
}

export async function markCancelQueued(db: Queryable, id: string, error: JobError): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T.cancelQueued.to}', error = $2, finished_at = now(), updated_at = now()
      where id = $1 and status in (${fromStates('cancelQueued')}) returning *`,
    [id, JSON.stringify(error)],
  );
  return rows[0] ?? null;
}

export async function markCancelRequested(db: Queryable, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T.requestCancel.to}', updated_at = now() where id = $1 and status in (${fromStates('requestCancel')}) returning *`,
    [id],
  );
  return rows[0] ?? null;
}

/** Expired leases, locked for the reaper (SKIP LOCKED: reapers on many machines do not collide). */
export async function expiredLeases(db: Queryable, limit: number): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select * from jobs where status in (${ACTIVE}) and lease_expires_at < now()
      order by lease_expires_at limit $1 for update skip locked`,
    [limit],
  );
  return rows;
}

/** The claim's own retry after an infrastructure failure: fenced, backed off like a lost worker's. */
export async function markRequeuedFenced(db: Queryable, f: Fence, backoffSeconds: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T.requeueInfrastructure.to}', worker_id = null, lease_expires_at = null,
            run_after = now() + make_interval(secs => $4), updated_at = now()
      where ${FENCED} and status in (${fromStates('requeueInfrastructure')}) returning *`,
    [...fenceParams(f), backoffSeconds],
  );
  return rows[0] ?? null;
}

export async function markRequeued(db: Queryable, id: string, backoffSeconds: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T.requeueLost.to}', worker_id = null, lease_expires_at = null,
            run_after = now() + make_interval(secs => $2), updated_at = now()
      where id = $1 and status in (${fromStates('requeueLost')}) returning *`,
    [id, backoffSeconds],
  );
  return rows[0] ?? null;
}

/** A lost claim that will not be retried: failed (no attempts left) or cancelled (it was being cancelled). */
export async function markLostEnded(db: Queryable, name: 'failLost' | 'cancelLost', id: string, error: JobError): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `update jobs set status = '${T[name].to}', error = $2, worker_id = null, lease_expires_at = null, finished_at = now(), updated_at = now()
      where id = $1 and status in (${fromStates(name)}) returning *`,
    [id, JSON.stringify(error)],
  );
  return rows[0] ?? null;
}
