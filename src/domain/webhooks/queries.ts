import { notify } from '../../db/channels.js';
import type { Queryable } from '../../db/db.js';
import { newSecret } from './signing.js';
import { cursorTime } from '../../ids.js';

export interface EndpointRow {
  id: string;
  owner_id: string;
  url: string;
  events: string[];
  secret: string;
  created_at: Date;
  disabled_at: Date | null;
}

export interface DeliveryRow {
  id: string;
  owner_id: string;
  endpoint_id: string | null;
  job_id: string | null;
  url: string;
  secret: string;
  event_type: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  locked_until: Date | null;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: Date;
}

const ENDPOINT_COLS = 'id, owner_id, url, events, secret, created_at, disabled_at';
const DELIVERY_COLS =
  'id, owner_id, endpoint_id, job_id, url, secret, event_type, payload, status, attempts, next_attempt_at, locked_until, last_status, last_error, created_at, delivered_at';
const D_DELIVERY_COLS = DELIVERY_COLS.split(', ')
  .map((c) => `d.${c}`)
  .join(', ');

// `$n::timestamptz` null means "the database clock": one clock for every due/lease decision,
// so deliverers on hosts with skewed clocks still agree. Tests may pass their own instant.
const NOW = (n: number) => `coalesce($${n}::timestamptz, now())`;
const MS = (n: number) => `($${n}::double precision * interval '1 millisecond')`;

// Endpoints ---------------------------------------------------------------------------------

export async function insertEndpoint(db: Queryable, e: Pick<EndpointRow, 'id' | 'owner_id' | 'url' | 'events' | 'secret'>): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `insert into webhook_endpoints (id, owner_id, url, events, secret) values ($1, $2, $3, $4::text[], $5) returning ${ENDPOINT_COLS}`,
    [e.id, e.owner_id, e.url, e.events, e.secret],
  );
  return rows[0]!;
}

export async function listEndpoints(db: Queryable, ownerId: string): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(`select ${ENDPOINT_COLS} from webhook_endpoints where owner_id = $1 order by created_at, id`, [ownerId]);
  return rows;
}

export async function countEndpoints(db: Queryable, ownerId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from webhook_endpoints where owner_id = $1', [ownerId]);
  return rows[0]!.n;
}

/** Active endpoints of `ownerId` that subscribed to `eventType`. */
export async function subscribedEndpoints(db: Queryable, ownerId: string, eventType: string): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    `select ${ENDPOINT_COLS} from webhook_endpoints where owner_id = $1 and disabled_at is null and $2 = any(events) order by created_at, id`,
    [ownerId, eventType],
  );
  return rows;
}

export async function deleteEndpoint(db: Queryable, ownerId: string, id: string): Promise<EndpointRow | null> {
  const { rows } = await db.query<EndpointRow>(`delete from webhook_endpoints where id = $1 and owner_id = $2 returning ${ENDPOINT_COLS}`, [id, ownerId]);
  return rows[0] ?? null;
}

/**
 * A deleted endpoint's queued messages are abandoned: its owner asked us to stop sending.
 * Run it before the delete, which nulls `endpoint_id` (on delete set null).
 */
export async function abandonEndpointDeliveries(db: Queryable, ownerId: string, endpointId: string): Promise<number> {
  const { rowCount } = await db.query(
    `update webhook_deliveries set status = 'failed', last_error = 'ENDPOINT_DELETED', locked_until = null
      where endpoint_id = $1 and owner_id = $2 and status = 'pending'`,
    [endpointId, ownerId],
  );
  return rowCount;
}

// The per-user secret -------------------------------------------------------------------------

/**
 * The user's secret, created on first use. Two callers racing both offer a candidate; the
 * row lock serialises them and coalesce keeps whichever landed first, so both return the same.
 */
export async function ensureUserSecret(db: Queryable, userId: string, candidate: () => string = newSecret): Promise<string> {
  const existing = await db.query<{ webhook_secret: string | null }>('select webhook_secret from users where id = $1', [userId]);
  const current = existing.rows[0]?.webhook_secret;
  if (current) return current;
  const { rows } = await db.query<{ webhook_secret: string }>(
    'update users set webhook_secret = coalesce(webhook_secret, $2) where id = $1 returning webhook_secret',
    [userId, candidate()],
  );
  if (!rows[0]) throw new Error(`user ${userId} does not exist`);
  return rows[0].webhook_secret;
}

// Deliveries (the outbox) -------------------------------------------------------------------

export async function insertDelivery(
  db: Queryable,
  d: Pick<DeliveryRow, 'id' | 'owner_id' | 'endpoint_id' | 'job_id' | 'url' | 'secret' | 'event_type' | 'payload'>,
): Promise<void> {
  await db.query(
    `insert into webhook_deliveries (id, owner_id, endpoint_id, job_id, url, secret, event_type, payload)
     values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [d.id, d.owner_id, d.endpoint_id, d.job_id, d.url, d.secret, d.event_type, JSON.stringify(d.payload)],
  );
}

/** Inside a transaction the notification goes out on commit, and not at all on rollback. */
export async function notifyDeliverers(db: Queryable): Promise<void> {
  await notify(db, 'webhooks');
}

/**
 * Claims up to `limit` due deliveries, at most one per URL and none for `busyUrls` (URLs this
 * deliverer is already talking to), oldest-due URL first: a slow or backlogged receiver then
 * holds one slot, never all of them. `locked_until` is a lease rather than a lock held open,
 * so the claims of a deliverer that crashed mid-request come due again once it lapses.
 */
export async function claimDue(db: Queryable, o: { limit: number; leaseMs: number; busyUrls: string[]; at: Date | null }): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `with urls as (
       select url, min(next_attempt_at) as due from webhook_deliveries
        where status = 'pending' and next_attempt_at <= ${NOW(1)}
          and (locked_until is null or locked_until <= ${NOW(1)})
          and url <> all($2::text[])
        group by url order by due limit $3 * 4
     ), picked as (
       select c.id from urls cross join lateral (
         select w.id from webhook_deliveries w
          where w.url = urls.url and w.status = 'pending' and w.next_attempt_at <= ${NOW(1)}
            and (w.locked_until is null or w.locked_until <= ${NOW(1)})
          order by w.next_attempt_at, w.id limit 1
          for update skip locked
       ) c
       order by urls.due limit $3
     )
     update webhook_deliveries d set locked_until = ${NOW(1)} + ${MS(4)}
       from picked where d.id = picked.id
     returning ${D_DELIVERY_COLS}`,
    [o.at, o.busyUrls, o.limit, o.leaseMs],
  );
  return rows;
}

export async function recordAttempt(db: Queryable, a: Omit<AttemptRow, 'at'>): Promise<void> {
  await db.query(
    `insert into webhook_attempts (delivery_id, attempt, status_code, error, duration_ms) values ($1, $2, $3, $4, $5)
     on conflict (delivery_id, attempt) do nothing`,
    [a.delivery_id, a.attempt, a.status_code, a.error, a.duration_ms],
  );
}

// The three outcomes are fenced on the attempt count: if our lease lapsed and another deliverer
// already finished this attempt, ours changes nothing (and the caller skips its attempt row).
interface Outcome {
  id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
}

export async function markDelivered(db: Queryable, o: Omit<Outcome, 'error'>, at: Date | null): Promise<boolean> {
  const { rowCount } = await db.query(
    `update webhook_deliveries set status = 'delivered', attempts = $2, last_status = $3, last_error = null,
            delivered_at = ${NOW(4)}, locked_until = null
      where id = $1 and status = 'pending' and attempts = $2 - 1`,
    [o.id, o.attempt, o.status_code, at],
  );
  return rowCount > 0;
}

export async function scheduleRetry(db: Queryable, o: Outcome & { delayMs: number }, at: Date | null): Promise<boolean> {
  const { rowCount } = await db.query(
    `update webhook_deliveries set attempts = $2, last_status = $3, last_error = $4,
            next_attempt_at = ${NOW(6)} + ${MS(5)}, locked_until = null
      where id = $1 and status = 'pending' and attempts = $2 - 1`,
    [o.id, o.attempt, o.status_code, o.error, o.delayMs, at],
  );
  return rowCount > 0;
}

export async function markFailed(db: Queryable, o: Outcome): Promise<boolean> {
  const { rowCount } = await db.query(
    `update webhook_deliveries set status = 'failed', attempts = $2, last_status = $3, last_error = $4, locked_until = null
      where id = $1 and status = 'pending' and attempts = $2 - 1`,
    [o.id, o.attempt, o.status_code, o.error],
  );
  return rowCount > 0;
}

export async function listDeliveries(db: Queryable, ownerId: string, limit: number, after: { t: string; id: string } | null): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `select ${DELIVERY_COLS}, ${cursorTime()} from webhook_deliveries
      where owner_id = $1
        and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
      order by created_at desc, id desc limit $2`,
    [ownerId, limit + 1, after?.t ?? null, after?.id ?? null],
  );
  return rows;
}

export async function attemptsFor(db: Queryable, deliveryIds: string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const { rows } = await db.query<AttemptRow>(
    `select delivery_id, attempt, status_code, error, duration_ms, at from webhook_attempts
      where delivery_id = any($1::text[]) order by delivery_id, attempt`,
    [deliveryIds],
  );
  return rows;
}
