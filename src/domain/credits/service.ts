import type { Db, Queryable } from '../../db/db.js';
import { AppError, ConflictError, ValidationError } from '../../errors.js';
import { newId } from '../../ids.js';
import * as q from './queries.js';
import type { TransactionOut, TransactionPurpose } from './schema.js';

/** What a job's hold and capture are for: an inference job is a generation. */
export type JobPurpose = Extract<TransactionPurpose, 'training' | 'generation'>;

export interface Balance {
  balance: number;
  held: number;
  total_spent: number;
  total_granted: number;
  total_bought: number;
}

function shapeEntry(r: q.LedgerRow): TransactionOut {
  return {
    id: String(r.id),
    type: r.type,
    purpose: r.purpose as TransactionPurpose,
    amount: Number(r.amount),
    credits: Number(r.credits),
    job_id: r.job_id,
    generation_id: r.job_kind === 'inference' ? r.job_id : null,
    payment_id: r.payment_id,
    note: r.note,
    created_at: r.created_at.toISOString(),
  };
}

export class InsufficientCreditsError extends AppError {
  constructor(balance: number, cost: number) {
    super('INSUFFICIENT_CREDITS', `this job costs ${cost} credits; your balance is ${balance}`, { status: 402, details: { balance, cost } });
  }
}

/**
 * Money moves exactly once. Every function that changes money takes the caller's transaction
 * (`tx`) so the change commits or rolls back with the job change that causes it.
 * With credits off (a deployment without billing) holds are recorded at 0 and never refused.
 */
export class CreditsService {
  constructor(
    private readonly db: Db,
    readonly enabled: boolean,
  ) {}

  async grant(tx: Queryable, userId: string, credits: number, note: string, createdBy: string | null): Promise<void> {
    if (!Number.isInteger(credits) || credits <= 0) throw new ValidationError('INVALID_AMOUNT', 'credits must be a positive integer');
    await q.ensureAccount(tx, userId);
    await q.addGrant(tx, userId, credits);
    await q.insertLedger(tx, { user_id: userId, type: 'grant', purpose: 'grant', amount: credits, credits, note, created_by: createdBy });
  }

  /** Serialises one user's money-moving transactions (job creation takes it first). */
  async lockAccount(tx: Queryable, userId: string): Promise<void> {
    await q.ensureAccount(tx, userId);
    await q.lockAccount(tx, userId);
  }

  /** Places the hold for a job in the caller's transaction; throws 402 when the balance is short. */
  async hold(tx: Queryable, userId: string, jobId: string, cost: number, purpose: JobPurpose): Promise<void> {
    const amount = this.enabled ? cost : 0;
    await q.ensureAccount(tx, userId);
    if (amount > 0 && !(await q.takeHold(tx, userId, amount))) {
      const acct = await q.account(tx, userId);
      throw new InsufficientCreditsError(acct?.balance ?? 0, amount);
    }
    const holdId = newId('hold');
    await q.insertHold(tx, { id: holdId, user_id: userId, job_id: jobId, amount });
    await q.insertLedger(tx, { user_id: userId, type: 'hold', purpose, amount: -amount, credits: amount, hold_id: holdId, job_id: jobId });
  }

  /** Success: held credits become spent. Returns false if the hold was already settled. */
  async capture(tx: Queryable, jobId: string, purpose: JobPurpose): Promise<boolean> {
    const h = await q.settleHold(tx, jobId, 'captured');
    if (!h) return false;
    await q.applyCapture(tx, h.user_id, h.amount);
    await q.insertLedger(tx, { user_id: h.user_id, type: 'capture', purpose, amount: 0, credits: h.amount, hold_id: h.id, job_id: jobId });
    return true;
  }

  /** Failure or cancel: held credits go back. Returns false if the hold was already settled. */
  async release(tx: Queryable, jobId: string, note: string): Promise<boolean> {
    const h = await q.settleHold(tx, jobId, 'released');
    if (!h) return false;
    await q.applyRelease(tx, h.user_id, h.amount);
    await q.insertLedger(tx, {
      user_id: h.user_id,
      type: 'release',
      purpose: 'refund',
      amount: h.amount,
      credits: h.amount,
      hold_id: h.id,
      job_id: jobId,
      note,
    });
    return true;
  }

  async balance(userId: string): Promise<Balance> {
    const a = await q.account(this.db, userId);
    const n = (v: number | undefined) => Number(v ?? 0);
    return { balance: n(a?.balance), held: n(a?.held), total_spent: n(a?.total_spent), total_granted: n(a?.total_granted), total_bought: n(a?.total_bought) };
  }

  /**
   * Credits a user paid for outside Trainyard (a bot records its user's payment). The payment's
   * own id is the idempotency key: a retry with the same id and amount changes nothing and
   * answers the first entry (`replayed`); the same id with another amount is a conflict. The
   * account lock serialises concurrent retries; the unique index is the backstop.
   */
  async purchase(
    userId: string,
    p: { credits: number; paymentId: string; note?: string | undefined; createdBy: string | null },
  ): Promise<{ transaction: TransactionOut; replayed: boolean }> {
    if (!Number.isInteger(p.credits) || p.credits <= 0) throw new ValidationError('INVALID_AMOUNT', 'credits must be a positive integer');
    return this.db.transaction(async (tx) => {
      await this.lockAccount(tx, userId);
      const prior = await q.purchaseByPayment(tx, userId, p.paymentId);
      if (prior) {
        if (Number(prior.credits) !== p.credits)
          throw new ConflictError('PAYMENT_ID_REUSED', `payment ${p.paymentId} was recorded for ${prior.credits} credits, not ${p.credits}`, {
            payment_id: p.paymentId,
            credits: Number(prior.credits),
          });
        return { transaction: shapeEntry(prior), replayed: true };
      }
      await q.addPurchase(tx, userId, p.credits);
      const id = await q.insertLedger(tx, {
        user_id: userId,
        type: 'purchase',
        purpose: 'purchase',
        amount: p.credits,
        credits: p.credits,
        payment_id: p.paymentId,
        note: p.note ?? null,
        created_by: p.createdBy,
      });
      return { transaction: shapeEntry((await q.ledgerEntry(tx, userId, id))!), replayed: false };
    });
  }

  async transactions(userId: string, limit: number, cursor?: string, filter: { type?: string; purpose?: string; jobId?: string } = {}) {
    const raw = cursor ? Buffer.from(cursor, 'base64url').toString() : null;
    // Only a positive row id as issued: "1e20" or 20 digits reached a bigint comparison and answered 500.
    const before = raw !== null && /^[1-9]\d{0,14}$/.test(raw) ? Number(raw) : null;
    if (cursor && before === null) throw new ValidationError('INVALID_CURSOR', 'cursor is not one this server issued');
    const rows = await q.listLedger(this.db, userId, limit, before, {
      type: filter.type ?? null,
      purpose: filter.purpose ?? null,
      jobId: filter.jobId ?? null,
    });
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      data: page.map(shapeEntry),
      next_cursor: more ? Buffer.from(String(page[page.length - 1]!.id)).toString('base64url') : null,
    };
  }

  ledgerSum(userId: string): Promise<number> {
    return q.ledgerSum(this.db, userId);
  }
}
