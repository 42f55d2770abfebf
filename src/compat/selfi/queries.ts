import type { Queryable } from '../../db/db.js';

/** A LoRA record with what the facade reads from its job, its newest sample and its model. */
export interface LoraRow {
  id: string;
  owner_id: string;
  name: string;
  trigger_word: string;
  model_name: string;
  job_id: string | null;
  is_public: boolean;
  created_at: Date;
  job_status: string | null;
  progress: number | null;
  error: { code?: string; message?: string } | null;
  /** The storage key of the job's newest sample image (the preview). */
  preview_key: string | null;
  username: string;
  popularity: number;
}

const SELECT = `
  select l.*, j.status as job_status, j.progress, j.error, u.username,
         (select s.storage_key from job_samples s where s.job_id = l.job_id order by s.n desc limit 1) as preview_key,
         coalesce(m.popularity, 0) as popularity
    from compat_selfi_loras l
    join users u on u.id = l.owner_id
    left join jobs j on j.id = l.job_id
    left join models m on m.owner_id = l.owner_id and m.name = l.model_name`;

const shape = (r: LoraRow): LoraRow => ({ ...r, popularity: Number(r.popularity), progress: r.progress === null ? null : Number(r.progress) });

export async function insertLora(
  db: Queryable,
  r: { id: string; owner_id: string; name: string; trigger_word: string; model_name: string; is_public: boolean },
): Promise<void> {
  await db.query(`insert into compat_selfi_loras (id, owner_id, name, trigger_word, model_name, is_public) values ($1, $2, $3, $4, $5, $6)`, [
    r.id,
    r.owner_id,
    r.name,
    r.trigger_word,
    r.model_name,
    r.is_public,
  ]);
}

export async function attachJob(db: Queryable, id: string, jobId: string): Promise<void> {
  await db.query('update compat_selfi_loras set job_id = $2 where id = $1', [id, jobId]);
}

/** A record whose job never started (the request failed): gone, as if never made. */
export async function discard(db: Queryable, id: string): Promise<void> {
  await db.query('delete from compat_selfi_loras where id = $1', [id]);
}

/** The owner's LoRA, or null (another user's is not found). */
export async function loraOf(db: Queryable, ownerId: string, id: string): Promise<LoraRow | null> {
  const { rows } = await db.query<LoraRow>(`${SELECT} where l.id = $1 and l.owner_id = $2`, [id, ownerId]);
  return rows[0] ? shape(rows[0]) : null;
}

export async function mine(db: Queryable, ownerId: string): Promise<LoraRow[]> {
  const { rows } = await db.query<LoraRow>(`${SELECT} where l.owner_id = $1 order by l.created_at desc, l.id desc`, [ownerId]);
  return rows.map(shape);
}

/** Public LoRAs that finished training: a page and the total. Popular: most generations first. */
export async function publicPage(db: Queryable, p: { offset: number; limit: number; sort: 'newest' | 'popular' }): Promise<{ rows: LoraRow[]; total: number }> {
  const where = `where l.is_public and j.status = 'succeeded'`;
  const order = p.sort === 'popular' ? 'popularity desc, l.created_at desc, l.id desc' : 'l.created_at desc, l.id desc';
  const { rows } = await db.query<LoraRow>(`${SELECT} ${where} order by ${order} limit $1 offset $2`, [p.limit, p.offset]);
  const count = await db.query<{ n: string | number }>(`select count(*) as n from compat_selfi_loras l join jobs j on j.id = l.job_id ${where}`);
  return { rows: rows.map(shape), total: Number(count.rows[0]?.n ?? 0) };
}

export interface EntryRow {
  id: string | number;
  type: string;
  purpose: string;
  amount: string | number;
  hold_status: string | null;
  created_at: Date;
}

/**
 * The owner's ledger entries as the document's transactions (read only): purchases, the holds
 * of trainings and generations (a capture moves no stars and is shown as the hold's status) and
 * refunds. Grants are not one of the document's types and are left out.
 */
export async function entries(
  db: Queryable,
  ownerId: string,
  p: { offset: number; limit: number; purpose: string | null },
): Promise<{ rows: EntryRow[]; total: number }> {
  const where = `where l.user_id = $1 and (l.type = 'purchase' or l.type = 'hold' or (l.type = 'release' and l.purpose = 'refund'))
                   and ($2::text is null or l.purpose = $2)`;
  const { rows } = await db.query<EntryRow>(
    `select l.id, l.type, l.purpose, l.amount, h.status as hold_status, l.created_at
       from credit_ledger l left join credit_holds h on h.id = l.hold_id and l.type = 'hold'
       ${where} order by l.id desc limit $3 offset $4`,
    [ownerId, p.purpose, p.limit, p.offset],
  );
  const count = await db.query<{ n: string | number }>(`select count(*) as n from credit_ledger l ${where}`, [ownerId, p.purpose]);
  return { rows, total: Number(count.rows[0]?.n ?? 0) };
}
