import type { Queryable } from '../../db/db.js';

export interface AccountRow {
  user_id: string;
  balance: number;
  held: number;
  total_spent: number;
  total_granted: number;
  total_bought: number;
}
export interface LedgerRow {
  id: number;
  user_id: string;
  type: string;
  purpose: string;
  amount: number;
  credits: number;
  hold_id: string | null;
  job_id: string | null;
  /** The job's kind when the entry belongs to one ('inference' jobs are generations). */
  job_kind: string | null;
  payment_id: string | null;
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
  const { rows } = await db.query<AccountRow>(
    'select user_id, balance, held, total_spent, total_granted, total_bought from credit_accounts where user_id = $1',
    [userId],
  );
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
      returning user_id, balance, held, total_spent, total_granted, total_bought`,
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
    purpose: string;
    amount: number;
    credits: number;
    hold_id?: string | null;
    job_id?: string | null;
    payment_id?: string | null;
    note?: string | null;
    created_by?: string | null;
  },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `insert into credit_ledger (user_id, type, purpose, amount, credits, hold_id, job_id, payment_id, note, created_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id`,
    [e.user_id, e.type, e.purpose, e.amount, e.credits, e.hold_id ?? null, e.job_id ?? null, e.payment_id ?? null, e.note ?? null, e.created_by ?? null],
  );
  return Number(rows[0]!.id);
}

export async function addPurchase(db: Queryable, userId: string, credits: number): Promise<void> {
  await db.query('update credit_accounts set balance = balance + $2, total_bought = total_bought + $2, updated_at = now() where user_id = $1', [
    userId,
    credits,
  ]);
}

const LEDGER_COLS = `l.id, l.user_id, l.type, l.purpose, l.amount, l.credits, l.hold_id, l.job_id, j.kind as job_kind, l.payment_id, l.note,
       l.created_by, l.created_at`;

/** The purchase recorded for this payment, if any (the caller holds the account lock). */
export async function purchaseByPayment(db: Queryable, userId: string, paymentId: string): Promise<LedgerRow | null> {
  const { rows } = await db.query<LedgerRow>(
    `select ${LEDGER_COLS} from credit_ledger l left join jobs j on j.id = l.job_id
      where l.user_id = $1 and l.type = 'purchase' and l.payment_id = $2`,
    [userId, paymentId],
  );
  return rows[0] ?? null;
}

export async function ledgerEntry(db: Queryable, userId: string, id: number): Promise<LedgerRow | null> {
  const { rows } = await db.query<LedgerRow>(
    `select ${LEDGER_COLS} from credit_ledger l left join jobs j on j.id = l.job_id where l.user_id = $1 and l.id = $2`,
    [userId, id],
  );
  return rows[0] ?? null;
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

export interface LedgerFilter {
  type: string | null;
  purpose: string | null;
  jobId: string | null;
}

export async function listLedger(db: Queryable, userId: string, limit: number, beforeId: number | null, f: LedgerFilter): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow>(
    `select ${LEDGER_COLS} from credit_ledger l left join jobs j on j.id = l.job_id
      where l.user_id = $1 and ($3::bigint is null or l.id < $3) and ($4::text is null or l.type = $4)
        and ($5::text is null or l.purpose = $5) and ($6::text is null or l.job_id = $6)
      order by l.id desc limit $2`,
    [userId, limit + 1, beforeId, f.type, f.purpose, f.jobId],
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
