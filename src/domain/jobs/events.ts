import { notify } from '../../db/channels.js';
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
