import { performance } from 'node:perf_hooks';
import { CHANNELS } from '../../db/channels.js';
import type { Readable } from 'node:stream';
import type { Db, Unlisten } from '../../db/db.js';
import { AppError } from '../../errors.js';
import type { AddressPolicy, Resolver } from '../../net/address-guard.js';
import { safeFetch } from '../../net/safe-fetch.js';
import * as q from './queries.js';
import { webhookHeaders } from './signing.js';

export interface DelivererDeps {
  db: Db;
  /** Which private addresses receivers may have (empty in production). Checked on every attempt. */
  policy: AddressPolicy;
  resolver?: Resolver;
  /** One attempt, connect to response; default 10 000. */
  timeoutMs?: number;
  /** Attempts before a delivery is marked failed; default 8. */
  maxAttempts?: number;
  /** Milliseconds to wait after failed attempt number `attempt` (1-based); default `defaultBackoff`. */
  backoff?: (attempt: number) => number;
  /** Deliveries in flight at once, each to a different URL; default 4. */
  batchSize?: number;
  /** Fallback poll interval when no notification arrives; default 1000. */
  pollMs?: number;
  onError?: (msg: string, err: unknown) => void;
  /** Replaces both clocks (the database's for scheduling, the wall clock for signatures): tests. */
  now?: () => Date;
}

const USER_AGENT = 'Trainyard-Webhooks/1';
// Receivers are asked for a status, not a document; a little of the body is read so a short
// answer completes normally instead of being reset, and the rest is never downloaded.
const RESPONSE_PEEK_BYTES = 4096;
const MAX_ERROR_LENGTH = 500;
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 6 * 3_600_000;

/** 5 s · 4^(attempt-1), ±20 % jitter so a receiver's outage does not end in a synchronized burst; at most 6 h. */
export function defaultBackoff(attempt: number, random: () => number = Math.random): number {
  const base = BACKOFF_BASE_MS * 4 ** Math.max(0, attempt - 1);
  return Math.round(Math.min(base * (0.8 + 0.4 * random()), BACKOFF_CAP_MS));
}

/** What one attempt came to, in the terms the attempts table keeps. */
function outcomeOf(err: unknown): { status: number | null; error: string | null } {
  if (err instanceof AppError) {
    if (err.code === 'UPSTREAM_STATUS') {
      // The receiver answered: its status says all there is to say.
      const status = (err.details as { status?: unknown } | undefined)?.status;
      if (typeof status === 'number') return { status, error: null };
    }
    // A receiver that moved must be re-registered: following a redirect would turn our POST
    // into a GET, and would let a public host bounce us at an address the guard approved.
    if (err.code === 'TOO_MANY_REDIRECTS') return { status: null, error: 'REDIRECT_NOT_FOLLOWED: receivers must answer 2xx; redirects are not followed' };
    return { status: null, error: `${err.code}: ${err.message}`.slice(0, MAX_ERROR_LENGTH) };
  }
  return { status: null, error: `INTERNAL: ${err instanceof Error ? err.message : String(err)}`.slice(0, MAX_ERROR_LENGTH) };
}

async function peek(body: Readable, maxBytes: number): Promise<void> {
  let seen = 0;
  try {
    for await (const chunk of body) {
      seen += (chunk as Buffer).length;
      if (seen >= maxBytes) break;
    }
  } catch {
    // The 2xx status already acknowledged the message; a broken body changes nothing.
  } finally {
    body.destroy();
  }
}

/**
 * Sends the outbox. Several deliverers (processes) may run against one database: claims use
 * `for update skip locked` plus a lease, so each attempt is made by one of them, and the lease
 * returns the claims of a deliverer that died mid-request. Within one deliverer each URL has at
 * most one request in flight, so a slow receiver occupies one slot and the others keep moving.
 */
export class WebhookDeliverer {
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: (attempt: number) => number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  /** In-flight deliveries by URL. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private started = false;
  private stopped = false;
  private starting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: Unlisten | null = null;
  private claiming: Promise<void> | null = null;
  private wakeAgain = false;

  constructor(private readonly deps: DelivererDeps) {
    this.timeoutMs = deps.timeoutMs ?? 10_000;
    this.maxAttempts = deps.maxAttempts ?? 8;
    this.backoff = deps.backoff ?? ((n) => defaultBackoff(n));
    this.batchSize = deps.batchSize ?? 4;
    this.pollMs = deps.pollMs ?? 1000;
    // Longer than any attempt can take, so a live deliverer never loses a claim mid-request.
    this.leaseMs = this.timeoutMs + 60_000;
  }

  /** Starts the loop: a notification or the poll timer wakes it; each finished delivery frees a slot. */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('webhook deliverer was stopped'));
    if (this.started) return this.starting ?? Promise.resolve();
    this.started = true;
    this.starting = (async () => {
      try {
        const unlisten = await this.deps.db.listen(CHANNELS.webhooks, () => this.wake());
        if (this.stopped) await unlisten();
        else this.unlisten = unlisten;
      } catch (err) {
        this.deps.onError?.('webhooks: LISTEN failed, relying on polling', err);
      }
      if (this.stopped) return;
      this.timer = setInterval(() => this.wake(), this.pollMs);
      this.timer.unref();
      this.wake();
    })().finally(() => (this.starting = null));
    return this.starting;
  }

  /**
   * One round without the loop (tests, one-shot tools): claims what is due, up to `batchSize`
   * and one per URL, delivers it and waits. Returns how many deliveries it attempted.
   */
  async runOnce(): Promise<number> {
    const claimed = await this.claim();
    await Promise.all(claimed.map((d) => this.launch(d)));
    return claimed.length;
  }

  /** Stops claiming, waits for the requests already in flight, and leaves no timer or listener. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const unlisten = this.unlisten;
    this.unlisten = null;
    await unlisten?.().catch((err: unknown) => this.deps.onError?.('webhooks: UNLISTEN failed', err));
    while (this.claiming || this.inFlight.size > 0) {
      await this.claiming;
      await Promise.allSettled([...this.inFlight.values()]);
    }
  }

  private wake(): void {
    if (!this.started || this.stopped) return;
    if (this.claiming) {
      this.wakeAgain = true;
      return;
    }
    this.claiming = this.fill()
      .catch((err: unknown) => this.deps.onError?.('webhooks: claiming due deliveries failed', err))
      .finally(() => {
        this.claiming = null;
        if (this.wakeAgain) {
          this.wakeAgain = false;
          this.wake();
        }
      });
  }

  private async fill(): Promise<void> {
    for (const d of await this.claim()) void this.launch(d);
  }

  private async claim(): Promise<q.DeliveryRow[]> {
    const free = this.batchSize - this.inFlight.size;
    if (free <= 0) return [];
    return q.claimDue(this.deps.db, { limit: free, leaseMs: this.leaseMs, busyUrls: [...this.inFlight.keys()], at: this.deps.now?.() ?? null });
  }

  private launch(d: q.DeliveryRow): Promise<void> {
    const p = this.deliver(d)
      .catch((err: unknown) => this.deps.onError?.(`webhooks: delivery ${d.id} failed to record its attempt`, err))
      .finally(() => {
        this.inFlight.delete(d.url);
        this.wake();
      });
    this.inFlight.set(d.url, p);
    return p;
  }

  private async deliver(d: q.DeliveryRow): Promise<void> {
    const attempt = d.attempts + 1;
    // Re-serialised from the stored envelope in a fixed key order; the signature covers exactly these bytes.
    const body = JSON.stringify({ type: d.payload.type, timestamp: d.payload.timestamp, data: d.payload.data });
    const timestamp = Math.floor((this.deps.now?.() ?? new Date()).getTime() / 1000);
    const headers = { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...webhookHeaders(d.secret, d.id, timestamp, body) };

    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      // safeFetch re-runs the address guard: a host that now resolves somewhere private fails here.
      const res = await safeFetch(d.url, {
        policy: this.deps.policy,
        ...(this.deps.resolver ? { resolver: this.deps.resolver } : {}),
        timeoutMs: this.timeoutMs,
        maxBytes: Number.MAX_SAFE_INTEGER,
        maxRedirects: 0,
        method: 'POST',
        headers,
        body,
      });
      status = res.status;
      await peek(res.body, RESPONSE_PEEK_BYTES);
    } catch (err) {
      ({ status, error } = outcomeOf(err));
      if (!(err instanceof AppError)) this.deps.onError?.(`webhooks: unexpected error delivering ${d.id}`, err);
    }
    const duration_ms = Math.round(performance.now() - started);
    const at = this.deps.now?.() ?? null;

    await this.deps.db.transaction(async (tx) => {
      const o = { id: d.id, attempt, status_code: status, error };
      let recorded: boolean;
      if (error === null && status !== null && status >= 200 && status < 300) recorded = await q.markDelivered(tx, o, at);
      else if (attempt >= this.maxAttempts) recorded = await q.markFailed(tx, o);
      else recorded = await q.scheduleRetry(tx, { ...o, delayMs: Math.max(0, this.backoff(attempt)) }, at);
      if (recorded) await q.recordAttempt(tx, { delivery_id: d.id, attempt, status_code: status, error, duration_ms });
    });
  }
}
