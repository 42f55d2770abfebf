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

// Fixed window, like the memory store: the first hit of a window sets when it ends; a hit after
// that starts a new one. One statement, so concurrent hits from every replica all count, and
// the database's clock is the only clock (replicas' clocks may differ).
const INCR = `
insert into rate_limit_hits as h (key, hits, expires_at)
values ($1, 1, clock_timestamp() + make_interval(secs => $2::double precision / 1000))
on conflict (key) do update set
  hits = case when h.expires_at <= clock_timestamp() then 1 else h.hits + 1 end,
  expires_at = case when h.expires_at <= clock_timestamp()
    then clock_timestamp() + make_interval(secs => $2::double precision / 1000) else h.expires_at end
returning hits, greatest(0, ceil(extract(epoch from (expires_at - clock_timestamp())) * 1000))::int8 as ttl`;

const READ = `
select hits, greatest(0, ceil(extract(epoch from (expires_at - clock_timestamp())) * 1000))::int8 as ttl
from rate_limit_hits where key = $1 and expires_at > clock_timestamp()`;

/**
 * A store for @fastify/rate-limit (its `store` option: a class it constructs, then `child`
 * per route with its own limit) that keeps the counters in Postgres. `continueExceeding` and
 * `exponentialBackoff` are not offered: Trainyard's limits use neither.
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
    // Route stores get their own key space, as the memory store gives each route its own map:
    // a route's tighter limit must not spend the global one's budget, nor the other way round.
    // The plugin constructs the root store with its options, which this store does not need.
    constructor(
      _options?: unknown,
      private readonly prefix = '',
    ) {}

    incr(key: string, cb: Callback, timeWindow: number): void {
      maybeSweep();
      db.query<{ hits: number; ttl: number }>(INCR, [this.prefix + key, timeWindow]).then(
        ({ rows }) => cb(null, { current: rows[0]!.hits, ttl: Number(rows[0]!.ttl) }),
        (err: Error) => cb(err),
      );
    }

    read(key: string, cb: Callback): void {
      db.query<{ hits: number; ttl: number }>(READ, [this.prefix + key]).then(
        ({ rows }) => cb(null, rows[0] ? { current: rows[0].hits, ttl: Number(rows[0].ttl) } : { current: 0, ttl: 0 }),
        (err: Error) => cb(err),
      );
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
