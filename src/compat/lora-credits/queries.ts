import type { Queryable } from '../../db/db.js';

/** One image of an upload session: where it came from and the Trainyard file it became. */
export interface SessionImage {
  url: string;
  file_id: string;
  filename: string;
  bytes: number;
  format: string;
}

export interface TrainingRow {
  id: string;
  owner_id: string;
  job_id: string;
  model_name: string;
  steps: number;
  session_id: string | null;
  created_at: Date;
}

/** Inserts the session unless its id is taken (two uploads in the same millisecond): false then. */
export async function insertSession(db: Queryable, s: { id: string; ownerId: string; modelName: string; images: SessionImage[] }): Promise<boolean> {
  const { rows } = await db.query(
    `insert into compat_lora_credits_sessions (id, owner_id, model_name, images) values ($1, $2, $3, $4)
     on conflict (id) do nothing returning id`,
    [s.id, s.ownerId, s.modelName, JSON.stringify(s.images)],
  );
  return rows.length === 1;
}

/** The owner's most recent sessions' images, newest first: what start may reuse without fetching. */
export async function recentSessionImages(db: Queryable, ownerId: string, limit = 50): Promise<Array<{ id: string; images: SessionImage[] }>> {
  const { rows } = await db.query<{ id: string; images: SessionImage[] | string }>(
    'select id, images from compat_lora_credits_sessions where owner_id = $1 order by created_at desc, id desc limit $2',
    [ownerId, limit],
  );
  return rows.map((r) => ({ id: r.id, images: typeof r.images === 'string' ? (JSON.parse(r.images) as SessionImage[]) : r.images }));
}

export async function insertTraining(db: Queryable, t: Omit<TrainingRow, 'created_at'>): Promise<void> {
  await db.query('insert into compat_lora_credits_trainings (id, owner_id, job_id, model_name, steps, session_id) values ($1, $2, $3, $4, $5, $6)', [
    t.id,
    t.owner_id,
    t.job_id,
    t.model_name,
    t.steps,
    t.session_id,
  ]);
}

/** A training of the owner by either id: the facade's (training_…) or the Trainyard job's. */
export async function trainingOf(db: Queryable, ownerId: string, id: string): Promise<TrainingRow | null> {
  const { rows } = await db.query<TrainingRow>('select * from compat_lora_credits_trainings where owner_id = $1 and (id = $2 or job_id = $2)', [ownerId, id]);
  return rows[0] ?? null;
}

/** Any owner's training by the facade's id: only for the signed model URL, whose signature is the authority. */
export async function trainingById(db: Queryable, id: string): Promise<TrainingRow | null> {
  const { rows } = await db.query<TrainingRow>('select * from compat_lora_credits_trainings where id = $1', [id]);
  return rows[0] ?? null;
}

export async function trainingsOf(db: Queryable, ownerId: string, limit: number): Promise<TrainingRow[]> {
  const { rows } = await db.query<TrainingRow>('select * from compat_lora_credits_trainings where owner_id = $1 order by created_at desc, id desc limit $2', [
    ownerId,
    limit,
  ]);
  return rows;
}
