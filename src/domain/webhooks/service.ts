import type { Db, Queryable } from '../../db/db.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { decodeCursor, newId, toPage, type Page } from '../../ids.js';
import { resolveAllowed, type AddressPolicy, type Resolver } from '../../net/address-guard.js';
import * as q from './queries.js';
import { newSecret } from './signing.js';

import { JOB_EVENT_TYPES, type CreateEndpointInput, type JobEventType } from './schema.js';

/** The Standard Webhooks envelope: receivers switch on `type`, `data` is the resource. */
export interface WebhookPayload {
  type: JobEventType;
  timestamp: string;
  data: Record<string, unknown>;
}

export interface PublicEndpoint {
  id: string;
  url: string;
  events: string[];
  created_at: string;
  disabled_at: string | null;
  /** Only in the answer to createEndpoint: it is never shown again. */
  secret?: string;
}

export interface PublicAttempt {
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: string;
}

export interface PublicDelivery {
  id: string;
  endpoint_id: string | null;
  job_id: string | null;
  url: string;
  event_type: string;
  payload: Record<string, unknown>;
  status: 'pending' | 'delivered' | 'failed';
  attempt_count: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  attempts: PublicAttempt[];
}

export interface WebhooksDeps {
  db: Db;
  /** Which private addresses endpoints may point at (empty in production). */
  policy: AddressPolicy;
  resolver?: Resolver;
  /** Endpoints per user; default 20. */
  maxEndpoints?: number;
  /** The envelope's timestamp; default the wall clock. */
  now?: () => Date;
}

const MAX_URL_LENGTH = 2048;

export function publicEndpoint(e: q.EndpointRow, withSecret = false): PublicEndpoint {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    created_at: e.created_at.toISOString(),
    disabled_at: e.disabled_at?.toISOString() ?? null,
    ...(withSecret ? { secret: e.secret } : {}),
  };
}

function publicDelivery(d: q.DeliveryRow, attempts: q.AttemptRow[]): PublicDelivery {
  return {
    id: d.id,
    endpoint_id: d.endpoint_id,
    job_id: d.job_id,
    url: d.url,
    event_type: d.event_type,
    payload: d.payload,
    status: d.status,
    attempt_count: d.attempts,
    next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
    last_status: d.last_status,
    last_error: d.last_error,
    created_at: d.created_at.toISOString(),
    delivered_at: d.delivered_at?.toISOString() ?? null,
    attempts: attempts.map((a) => ({ attempt: a.attempt, status_code: a.status_code, error: a.error, duration_ms: a.duration_ms, at: a.at.toISOString() })),
  };
}

/**
 * Webhook subscriptions and the outbox. Messages are rows written in the caller's
 * transaction; `WebhookDeliverer` sends them. Nothing here makes a network request except
 * the DNS lookups of `checkUrl`.
 */
export class WebhooksService {
  constructor(private readonly deps: WebhooksDeps) {}

  /**
   * Refuses URLs we would never deliver to: not http(s), credentials in them, or a host that
   * resolves to a forbidden address (the guard's ADDRESS_NOT_ALLOWED / DNS_FAILED). Delivery
   * checks again on every attempt; this check only makes the mistake visible at once.
   */
  async checkUrl(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError('URL_INVALID', 'webhook url is not a valid URL', { url });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ValidationError('URL_SCHEME_NOT_ALLOWED', `webhook urls must be http or https, not ${parsed.protocol}`, {
        scheme: parsed.protocol.replace(/:$/, ''),
      });
    }
    if (parsed.username !== '' || parsed.password !== '') throw new ValidationError('URL_INVALID', 'webhook urls may not contain credentials');
    if (url.length > MAX_URL_LENGTH) throw new ValidationError('URL_INVALID', `webhook urls are at most ${MAX_URL_LENGTH} characters`);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    try {
      await resolveAllowed(host, this.deps.policy, this.deps.resolver);
    } catch (err) {
      if (err instanceof AppError) throw new AppError(err.code, err.message, { status: 400, details: err.details });
      throw err;
    }
  }

  /**
   * Queues `type` for the job's own webhook_url (signed with the owner's secret) and for every
   * active endpoint of the owner subscribed to it (each signed with its own secret). Call it
   * inside the transaction that changes the job: the messages then exist if and only if the
   * change does, and the wake-up notification is sent on commit.
   */
  async enqueueJobEvent(
    tx: Queryable,
    job: { id: string; owner_id: string; webhook_url: string | null },
    type: JobEventType,
    data: Record<string, unknown>,
  ): Promise<void> {
    const targets: Array<{ url: string; secret: string; endpoint_id: string | null }> = [];
    if (job.webhook_url) targets.push({ url: job.webhook_url, secret: await q.ensureUserSecret(tx, job.owner_id), endpoint_id: null });
    for (const e of await q.subscribedEndpoints(tx, job.owner_id, type)) targets.push({ url: e.url, secret: e.secret, endpoint_id: e.id });
    if (targets.length === 0) return;

    const payload: WebhookPayload = { type, timestamp: (this.deps.now?.() ?? new Date()).toISOString(), data };
    for (const t of targets) {
      // The id is the `webhook-id` header: the same on every retry, so receivers can dedupe.
      await q.insertDelivery(tx, {
        id: newId('msg'),
        owner_id: job.owner_id,
        endpoint_id: t.endpoint_id,
        job_id: job.id,
        url: t.url,
        secret: t.secret,
        event_type: type,
        payload,
      });
    }
    await q.notifyDeliverers(tx);
  }

  async createEndpoint(ownerId: string, input: CreateEndpointInput): Promise<PublicEndpoint> {
    const events = [...new Set(input.events)];
    if (events.length === 0) throw new ValidationError('EVENTS_REQUIRED', 'subscribe to at least one event');
    const unknown = events.filter((e) => !(JOB_EVENT_TYPES as readonly string[]).includes(e));
    if (unknown.length) throw new ValidationError('UNKNOWN_EVENT', `unknown event(s): ${unknown.join(', ')}`, { events: unknown, known: JOB_EVENT_TYPES });
    await this.checkUrl(input.url);
    const max = this.deps.maxEndpoints ?? 20;
    if ((await q.countEndpoints(this.deps.db, ownerId)) >= max)
      throw new ConflictError('TOO_MANY_WEBHOOKS', `you can have at most ${max} webhook endpoints`, { max });
    const row = await q.insertEndpoint(this.deps.db, { id: newId('wh'), owner_id: ownerId, url: input.url, events, secret: newSecret() });
    return publicEndpoint(row, true);
  }

  async listEndpoints(ownerId: string): Promise<PublicEndpoint[]> {
    return (await q.listEndpoints(this.deps.db, ownerId)).map((e) => publicEndpoint(e));
  }

  /** Messages still queued for the endpoint are dropped with it (marked failed, ENDPOINT_DELETED). */
  async deleteEndpoint(ownerId: string, id: string): Promise<void> {
    const deleted = await this.deps.db.transaction(async (tx) => {
      await q.abandonEndpointDeliveries(tx, ownerId, id);
      return q.deleteEndpoint(tx, ownerId, id);
    });
    if (!deleted) throw new NotFoundError('webhook', id);
  }

  /** The secret that signs deliveries to jobs' own webhook_url; created on first use. */
  async userSecret(ownerId: string): Promise<string> {
    return q.ensureUserSecret(this.deps.db, ownerId);
  }

  async listDeliveries(ownerId: string, limit: number, cursor?: string): Promise<Page<PublicDelivery>> {
    const rows = await q.listDeliveries(this.deps.db, ownerId, limit, decodeCursor(cursor));
    const attempts = await q.attemptsFor(
      this.deps.db,
      rows.slice(0, limit).map((r) => r.id),
    );
    const byDelivery = new Map<string, q.AttemptRow[]>();
    for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
    return toPage(rows, limit, (r) => publicDelivery(r, byDelivery.get(r.id) ?? []));
  }
}
