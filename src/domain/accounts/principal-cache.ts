import { ListeningCache, type ListeningCacheOptions } from '../../db/listening-cache.js';
import type { Principal } from './service.js';

export type PrincipalCacheOptions = ListeningCacheOptions;

interface Entry {
  p: Principal;
  /** API keys: when last_used_at was last written (ms), so a cached key is still stamped once a minute. */
  touchedAt: number;
}

/** How long a change waits to hear its own notification back before answering anyway. */
const ECHO_TIMEOUT_MS = 2000;

/**
 * Authenticated principals (user, role, key) by bearer token, reused for `ttlMs` so a request
 * costs no authentication query (issue #15). Every change to what a principal may do makes
 * Postgres notify `principals` (triggers, migrations/0018_principal_notify.sql) and every API
 * process drops its whole cache on that notification (ListeningCache: kept by invalidation,
 * off while notifications cannot arrive).
 *
 * Only successes are cached: an unknown or revoked token is looked up again each time, so a
 * key created a moment ago works at once. A read that raced an invalidation (began before it,
 * ends after) is not stored: `begin()` hands out the generation the read started in, and any
 * notification since refuses it (changes are rare; a full flush cannot miss a token).
 */
export class PrincipalCache extends ListeningCache<string, Entry> {
  private readonly waiters = new Set<{ payload: string; resolve: () => void }>();

  constructor(o: PrincipalCacheOptions) {
    super(o, 'principals');
  }

  get(token: string): Entry | undefined {
    return this.lookup(token);
  }

  /** The generation a database read starts in; pass it to `set`. */
  begin(): number {
    return this.generation;
  }

  /** Remembers a principal read in generation `gen`, valid no later than `notAfter` (ms; a JWT's expiry). */
  set(token: string, p: Principal, gen: number, notAfter = Infinity, touchedAt = 0): void {
    if (gen !== this.generation) return;
    this.store(token, { p: Object.freeze(p), touchedAt }, gen, notAfter);
  }

  /**
   * Runs a change to a principal's rights and, when `changed` says it changed something, waits
   * until this process hears the notification it caused (payload `u:<id>` / `k:<id>`): the
   * next request here sees the change. Other API processes hear it on their own connections
   * at about the same moment, not provably before a client's next request reaches them (on a
   * loaded machine one was seen to overtake it); strict "next request everywhere" would need
   * each process to acknowledge, which this does not do.
   */
  async change<T>(payload: string, run: () => Promise<T>, changed: (r: T) => boolean): Promise<T> {
    if (!this.serving) return run();
    let resolve!: () => void;
    const heard = new Promise<void>((r) => (resolve = r));
    const waiter = { payload, resolve };
    this.waiters.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await run();
      if (changed(r)) await Promise.race([heard, new Promise<void>((r2) => (timer = setTimeout(r2, ECHO_TIMEOUT_MS)))]);
      return r;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(waiter);
    }
  }

  protected invalidate(payload: string): void {
    this.clear();
    for (const w of this.waiters) if (w.payload === payload) w.resolve();
  }
}
