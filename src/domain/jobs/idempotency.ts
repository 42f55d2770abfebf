import { createHash } from 'node:crypto';
import type { Queryable } from '../../db/db.js';
import { AppError } from '../../errors.js';
import { jobByIdempotencyKey } from './queries.js';
import type { JobRow } from './types.js';

/** Canonical hash of a request body: an Idempotency-Key replays only the same request. */
export function requestHash(input: object): string {
  const canon = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
        )
      : Array.isArray(v)
        ? v.map(canon)
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(input)))
    .digest('hex');
}

export interface Idempotent<T> {
  value: T;
  replayed: boolean;
}

/**
 * Creates a job under an optional Idempotency-Key, for every endpoint that creates jobs (jobs,
 * generations): the same key with the same body answers with the job it made the first time
 * (one hold, not two); with another body, 422. `insert` returns null when its insert met the
 * key (a concurrent request won the race): that request's job is the answer.
 */
export async function idempotentCreate<T>(
  db: Queryable,
  req: { ownerId: string; key: string | undefined; hash: string },
  insert: () => Promise<JobRow | null>,
  shape: (row: JobRow) => T,
): Promise<Idempotent<T>> {
  const replay = async (): Promise<Idempotent<T> | null> => {
    const existing = req.key ? await jobByIdempotencyKey(db, req.ownerId, req.key) : null;
    if (!existing) return null;
    if (existing.request_hash !== req.hash)
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body', { status: 422 });
    return { value: shape(existing), replayed: true };
  };
  const earlier = await replay();
  if (earlier) return earlier;
  const row = await insert();
  if (row) return { value: shape(row), replayed: false };
  const winner = await replay();
  if (!winner) throw new Error('idempotent insert returned no job and none exists under its key');
  return winner;
}
