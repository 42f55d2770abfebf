import type { Queryable } from '../../db/db.js';

export interface AccountRow {
  user_id: string;
  balance: number;
  held: number;
  total_spent: number;
  total_granted: number;
}
export interface LedgerRow {
  id: number;
  user_id: string;
  type: string;
  amount: number;
  credits: number;
  hold_id: string | null;
  job_id: string | null;
  note: string | null;
  created_by: string | null;
  created_at: Date;
}
export interface HoldRow {
  id: string;
  user_id: string;
  job_id: string;
  amount: number;
  status: 'held' | 'captured' | 'released';
}

export async function ensureAccount(db: Queryable, userId: string): Promise<void> {
  await db.query('insert into credit_accounts (user_id) values ($1) on conflict (user_id) do nothing', [userId]);
}

export async function account(db: Queryable, userId: string): Promise<AccountRow | null> {
  const { rows } = await db.query<AccountRow>('select user_id, balance, held, total_spent, total_granted from credit_accounts where user_id = $1', [userId]);
  return rows[0] ?? null;
}

export async function addGrant(db: Queryable, userId: string, credits: number): Promise<void> {
  await db.query('update credit_accounts set balance = balance + $2, total_granted = total_granted + $2, updated_at = now() where user_id = $1', [
    userId,
    credits,
  ]);
}

/**
 * Takes `credits` out of the spendable balance, only if enough is there. One statement: the
 * row lock makes concurrent holds queue, and the check constraint is the final backstop.
 */
export async function takeHold(db: Queryable, userId: string, credits: number): Promise<AccountRow | null> {
  const { rows } = await db.query<AccountRow>(
    `update credit_accounts set balance = balance - $2, held = held + $2, updated_at = now()
      where user_id = $1 and balance >= $2
      returning user_id, balance, held, total_spent, total_granted`,
    [userId, credits],
  );
  return rows[0] ?? null;
}

export async function insertHold(db: Queryable, h: { id: string; user_id: string; job_id: string; amount: number }): Promise<void> {
  await db.query(`insert into credit_holds (id, user_id, job_id, amount, status) values ($1, $2, $3, $4, 'held')`, [h.id, h.user_id, h.job_id, h.amount]);
}

export async function insertLedger(
  db: Queryable,
  e: {
    user_id: string;
    type: string;
    amount: number;
    credits: number;
    hold_id?: string | null;
    job_id?: string | null;
    note?: string | null;
    created_by?: string | null;
  },
): Promise<void> {
  await db.query(`insert into credit_ledger (user_id, type, amount, credits, hold_id, job_id, note, created_by) values ($1, $2, $3, $4, $5, $6, $7, $8)`, [
    e.user_id,
    e.type,
    e.amount,
    e.credits,
    e.hold_id ?? null,
    e.job_id ?? null,
    e.note ?? null,
    e.created_by ?? null,
  ]);
}

/** Settles a hold exactly once: only the transaction that flips it from 'held' gets a row. */
export async function settleHold(db: Queryable, jobId: string, to: 'captured' | 'released'): Promise<HoldRow | null> {
  const { rows } = await db.query<HoldRow>(
    `update credit_holds set status = $2, settled_at = now() where job_id = $1 and status = 'held'
     returning id, user_id, job_id, amount, status`,
    [jobId, to],
  );
  return rows[0] ?? null;
}

export async function applyCapture(db: Queryable, userId: string, credits: number): Promise<void> {
  await db.query('update credit_accounts set held = held - $2, total_spent = total_spent + $2, updated_at = now() where user_id = $1', [userId, credits]);
}

export async function applyRelease(db: Queryable, userId: string, credits: number): Promise<void> {
  await db.query('update credit_accounts set held = held - $2, balance = balance + $2, updated_at = now() where user_id = $1', [userId, credits]);
}

export async function listLedger(db: Queryable, userId: string, limit: number, beforeId: number | null, type: string | null): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow>(
    `select id, user_id, type, amount, credits, hold_id, job_id, note, created_by, created_at from credit_ledger
      where user_id = $1 and ($3::bigint is null or id < $3) and ($4::text is null or type = $4)
      order by id desc limit $2`,
    [userId, limit + 1, beforeId, type],
  );
  return rows;
}

export async function ledgerSum(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ s: number }>('select coalesce(sum(amount), 0)::bigint as s from credit_ledger where user_id = $1', [userId]);
  return rows[0]!.s;
}

export async function lockAccount(db: Queryable, userId: string): Promise<void> {
  await db.query('select user_id from credit_accounts where user_id = $1 for update', [userId]);
}
