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
  const { rows } = await db.query<NeurolabJobRow>('select * from compat_neurolab_jobs where id = $1', [id]);
  return rows[0] ?? null;
}

export async function recent(db: Queryable, limit: number): Promise<NeurolabJobRow[]> {
  const { rows } = await db.query<NeurolabJobRow>('select * from compat_neurolab_jobs order by created_at desc, id desc limit $1', [limit]);
  return rows;
}

export async function remove(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from compat_neurolab_jobs where id = $1', [id]);
  return rowCount === 1;
}
