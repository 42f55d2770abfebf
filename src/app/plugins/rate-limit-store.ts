import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Db } from '../../db/db.js';

/**
 * Where rate-limit counters live. `memory`: in this process (@fastify/rate-limit's own LRU),
 * right for one API process and the only choice on the embedded PGlite, which one process
 * owns. `postgres`: one counter per key in the database, so N API replicas behind a load
 * balancer enforce one limit rather than N (issue #16). `auto`: postgres on a Postgres server.
 */
export type RateLimitStoreKind = 'auto' | 'memory' | 'postgres';

export function usesPostgresStore(kind: RateLimitStoreKind, db: Pick<Db, 'kind'>): boolean {
  return kind === 'postgres' || (kind === 'auto' && db.kind === 'pg');
}

type Reply = { current: number; ttl: number };
type Callback = (err: Error | null, res?: Reply) => void;

/** How often one process deletes expired counters (a bounded table; any replica may do it). */
const SWEEP_EVERY_MS = 60_000;
/** A lease takes at most this share of what is left of the window's budget... */
const LEASE_SHARE = 16;
/** ...and at most this many hits (a replica that goes quiet wastes no more than this). */
const LEASE_MAX = 256;
/** Local leases kept (least recently used leave first); a forgotten lease only wastes budget. */
const MAX_LEASES = 10_000;

// Fixed window, like the memory store: the first hit of a window sets when it ends; a hit after
// that starts a new one. One statement adds a lease of $3 hits, so concurrent leases from every
// replica all count, and the database's clock is the only clock (replicas' clocks may differ).
const LEASE = `
insert into rate_limit_hits as h (key, hits, expires_at)
values ($1, $3, clock_timestamp() + make_interval(secs => $2::double precision / 1000))
on conflict (key) do update set
  hits = case when h.expires_at <= clock_timestamp() then $3 else h.hits + $3 end,
  expires_at = case when h.expires_at <= clock_timestamp()
    then clock_timestamp() + make_interval(secs => $2::double precision / 1000) else h.expires_at end
returning hits, greatest(0, ceil(extract(epoch from (expires_at - clock_timestamp())) * 1000))::int8 as ttl`;

/** Hits this process may still grant in a window without asking the database. */
interface Lease {
  /** Hits leased and not yet granted. */
  left: number;
  /** The window-wide count of the last hit granted (what the plugin reports as `current`). */
  position: number;
  /** When the window ends, on this process's clock (the database's ttl, received at `now`). */
  endsAt: number;
}

/**
 * A store for @fastify/rate-limit (its `store` option: a class it constructs, then `child`
 * per route with its own limit) that keeps the counters in Postgres. A query per request would
 * cost a third of the status API's throughput (bench/README.md), so each process leases hits
 * from the window's budget: a lease is a share of what is left (1/16, at most 256), down to one
 * hit at a time near the limit, where the count is then exact. Leased hits count as spent, so
 * all replicas together never grant more than the limit; what a replica leased and did not use
 * can refuse the others a few requests early (at most a 16th of the remaining budget each).
 * `continueExceeding`, `exponentialBackoff` and `read` (for `increment: false`) are not offered:
 * Trainyard's limits use none of them.
 */
export function postgresRateLimitStore(db: Db): { Store: FastifyRateLimitStoreCtor; drain: () => Promise<void> } {
  let lastSweep = Date.now();
  let sweeping: Promise<void> | null = null;

  function maybeSweep() {
    const now = Date.now();
    if (sweeping || now - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = now;
    sweeping = db
      .query(`delete from rate_limit_hits where expires_at < clock_timestamp() - interval '1 minute'`)
      .then(
        () => undefined,
        () => undefined, // a failed sweep is retried next minute; counters stay correct meanwhile
      )
      .finally(() => (sweeping = null));
  }

  class PostgresStore {
    private readonly leases = new Map<string, Lease>();
    /** One lease query per key at a time: requests that find the lease spent wait for it. */
    private readonly leasing = new Map<string, Promise<void>>();

    // The plugin constructs the root store with its options, which this store does not need.
    // Route stores get their own key space, as the memory store gives each route its own map:
    // a route's tighter limit must not spend the global one's budget, nor the other way round.
    constructor(
      _options?: unknown,
      private readonly prefix = '',
    ) {}

    incr(key: string, cb: Callback, timeWindow: number, max: number): void {
      this.take(this.prefix + key, timeWindow, max).then(
        (r) => cb(null, r),
        (err: Error) => cb(err),
      );
    }

    private async take(key: string, timeWindow: number, max: number): Promise<Reply> {
      for (;;) {
        const now = Date.now();
        const lease = this.leases.get(key);
        if (lease && lease.endsAt > now && lease.left > 0) {
          lease.left--;
          lease.position++;
          return { current: lease.position, ttl: lease.endsAt - now };
        }
        const pending = this.leasing.get(key);
        if (pending) {
          await pending;
          continue;
        }
        // What is left of the budget, as this process last saw it (all of it in a new window).
        const seen = lease && lease.endsAt > now ? lease.position : 0;
        const size = Math.max(1, Math.min(LEASE_MAX, Math.floor((max - seen) / LEASE_SHARE)));
        let reply: Reply | null = null;
        const p = this.lease(key, timeWindow, max, size).then((r) => void (reply = r));
        this.leasing.set(key, p);
        try {
          await p;
        } finally {
          this.leasing.delete(key);
        }
        if (reply) return reply;
      }
    }

    /** Leases `size` hits and grants the first; over the limit, answers the count (> max) to refuse. */
    private async lease(key: string, timeWindow: number, max: number, size: number): Promise<Reply> {
      maybeSweep();
      const { rows } = await db.query<{ hits: number; ttl: number }>(LEASE, [key, timeWindow, size]);
      const hits = rows[0]!.hits;
      const ttl = Number(rows[0]!.ttl);
      const before = hits - size;
      if (before >= max) {
        this.leases.delete(key);
        return { current: hits, ttl };
      }
      const granted = Math.min(size, max - before);
      this.leases.delete(key); // re-inserted last: the map's order is least recently leased first
      this.leases.set(key, { left: granted - 1, position: before + 1, endsAt: Date.now() + ttl });
      if (this.leases.size > MAX_LEASES) this.leases.delete(this.leases.keys().next().value!);
      return { current: before + 1, ttl };
    }

    // The plugin passes the route's merged limit options with the route under routeInfo (its
    // typings say the route itself; RedisStore reads routeInfo too).
    child(routeOptions: object): PostgresStore {
      const r = (routeOptions as { routeInfo?: { method?: string | string[]; url?: string } }).routeInfo ?? {};
      const method = Array.isArray(r.method) ? r.method.join(',') : (r.method ?? '');
      return new PostgresStore(undefined, `${this.prefix}${method} ${r.url ?? ''}|`);
    }
  }

  return { Store: PostgresStore, drain: async () => void (await sweeping) };
}
