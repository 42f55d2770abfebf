import { notify } from '../../db/channels.js';
import { ValidationError } from '../../errors.js';
import type { Queryable } from '../../db/db.js';
import { ACTIVE_STATES, sqlStates } from './states.js';
import type { Fence } from './types.js';

export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
}

const ACTIVE = sqlStates(ACTIVE_STATES);

/**
 * Appends events to a job with consecutive sequence numbers. The counter lives on the job row,
 * so the update that takes the numbers also serialises writers of the same job; `fence`
 * (worker id and attempt) makes a stale worker's append a no-op. NOTIFY is transactional:
 * listeners hear of the events only once they are committed.
 */
export async function appendEvents(tx: Queryable, jobId: string, events: NewEvent[], fence?: Fence): Promise<number | null> {
  if (events.length === 0) return null;
  const { rows } = await tx.query<{ event_seq: number }>(
    `update jobs set event_seq = event_seq + $2
      where id = $1 and ($3::text is null or (worker_id = $3 and attempt = $4 and status in (${ACTIVE})))
      returning event_seq`,
    [jobId, events.length, fence?.workerId ?? null, fence?.attempt ?? null],
  );
  const last = rows[0]?.event_seq;
  if (last === undefined) return null;
  const first = last - events.length + 1;
  await tx.query(
    `insert into job_events (job_id, seq, type, data)
     select $1, $2::bigint + e.ord - 1, e.type, e.data
       from unnest($3::text[], $4::jsonb[]) with ordinality as e(type, data, ord)`,
    [jobId, first, events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))],
  );
  await notify(tx, 'jobEvents', `${jobId}:${last}`);
  return last;
}

/** The largest event number a cursor may name: seq is a bigint, JavaScript numbers are exact to 2^53 - 1. */
export const MAX_EVENT_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * Last-Event-ID as a reconnecting EventSource sends it: the decimal number of the last event
 * seen. Absent or empty is null (start from `after`); anything else (`1e20`, `-1`, `abc`, a
 * number past 2^53) is a 400 rather than a query Postgres would refuse.
 */
export function parseLastEventId(raw: string | undefined): number | null {
  const v = (raw ?? '').trim();
  if (v === '') return null;
  if (!/^\d{1,16}$/.test(v) || Number(v) > MAX_EVENT_SEQ)
    throw new ValidationError('INVALID_LAST_EVENT_ID', `Last-Event-ID must be an event number from 0 to ${MAX_EVENT_SEQ}, got "${v.slice(0, 40)}"`);
  return Number(v);
}
