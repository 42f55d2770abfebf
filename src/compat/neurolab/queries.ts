import type { Queryable } from '../../db/db.js';

export type NeurolabKind = 'train' | 'train_file' | 'compare';

export interface NeurolabJobRow {
  id: string;
  owner_id: string;
  kind: NeurolabKind;
  job_id: string | null;
  sweep_id: string | null;
  source: string | null;
  created_at: Date;
  deleted_at: Date | null;
}

/** Separates this lock's keys from other advisory locks (jobs' OWNER_CLAIM_LOCK, migrations). */
const TRAIN_LIMIT_LOCK = 0x4e4c5452; // "NLTR"

/**
 * Serialises one owner's training starts until the caller's transaction ends, so the count of
 * recent jobs and the new reservation are one step (an exact limit, across processes).
 */
export async function lockOwner(db: Queryable, ownerId: string): Promise<void> {
  await db.query(`select pg_advisory_xact_lock(${TRAIN_LIMIT_LOCK}, hashtext($1))`, [ownerId]);
}

/** The owner's jobs started since `since` (deleted ones too), and when the oldest of them was. */
export async function startedSince(db: Queryable, ownerId: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
  const { rows } = await db.query<{ count: string | number; oldest: Date | null }>(
    'select count(*) as count, min(created_at) as oldest from compat_neurolab_jobs where owner_id = $1 and created_at > $2',
    [ownerId, since],
  );
  return { count: Number(rows[0]?.count ?? 0), oldest: rows[0]?.oldest ?? null };
}

// The facade's training routes are for admins only, and the document lets an admin see every
// training job: these look-ups are deliberately not scoped to one owner. Each row keeps its
// owner, whose job or sweep the facade then reads.

/** Reserves an id; false when it is taken (the caller tries the next suffix). */
export async function reserve(
  db: Queryable,
  r: { id: string; owner_id: string; kind: NeurolabKind; source: string | null; created_at: Date },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into compat_neurolab_jobs (id, owner_id, kind, source, created_at) values ($1, $2, $3, $4, $5) on conflict (id) do nothing`,
    [r.id, r.owner_id, r.kind, r.source, r.created_at],
  );
  return rowCount === 1;
}

export async function attach(db: Queryable, id: string, target: { job_id: string } | { sweep_id: string }): Promise<void> {
  if ('job_id' in target) await db.query('update compat_neurolab_jobs set job_id = $2 where id = $1', [id, target.job_id]);
  else await db.query('update compat_neurolab_jobs set sweep_id = $2 where id = $1', [id, target.sweep_id]);
}

export async function byId(db: Queryable, id: string): Promise<NeurolabJobRow | null> {
  const { rows } = await db.query<NeurolabJobRow>('select * from compat_neurolab_jobs where id = $1 and deleted_at is null', [id]);
  return rows[0] ?? null;
}

export async function recent(db: Queryable, limit: number): Promise<NeurolabJobRow[]> {
  const { rows } = await db.query<NeurolabJobRow>('select * from compat_neurolab_jobs where deleted_at is null order by created_at desc, id desc limit $1', [
    limit,
  ]);
  return rows;
}

/** DELETE: hidden from then on, kept for the id and the training limit. */
export async function markDeleted(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('update compat_neurolab_jobs set deleted_at = now() where id = $1 and deleted_at is null', [id]);
  return rowCount === 1;
}

/** A reservation whose job never started (the request failed): gone, as if never made. */
export async function discard(db: Queryable, id: string): Promise<void> {
  await db.query('delete from compat_neurolab_jobs where id = $1', [id]);
}
