import { CHANNELS } from '../../db/channels.js';
import type { Db, Unlisten } from '../../db/db.js';
import type { Principal } from './service.js';

export interface PrincipalCacheOptions {
  db: Db;
  /** How long a resolved principal is reused; 0 switches the cache off (every request reads the database). */
  ttlMs: number;
  /** At most this many bearer tokens are remembered; the least recently used goes first. */
  maxEntries: number;
}

interface Entry {
  p: Principal;
  until: number;
  /** API keys: when last_used_at was last written (ms), so a cached key is still stamped once a minute. */
  touchedAt: number;
}

/** How long a change waits to hear its own notification back before answering anyway. */
const ECHO_TIMEOUT_MS = 2000;

/**
 * Authenticated principals (user, role, key) by bearer token, reused for `ttlMs` so a request
 * costs no authentication query (issue #15). It stays correct through invalidation, not the
 * TTL: every change to what a principal may do makes Postgres notify `principals` (triggers,
 * migrations/0018_principal_notify.sql) and every API process drops its whole cache on that notification. The TTL
 * only bounds how long a lost notification could matter, and even that is covered: while the
 * LISTEN connection is down the cache is off, and emptied when it is back.
 *
 * Only successes are cached: an unknown or revoked token is looked up again each time, so a
 * key created a moment ago works at once. A read that raced an invalidation (began before it,
 * ends after) is not stored: `begin()` hands out the generation the read started in.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private live = false;
  private unlisten: Unlisten | null = null;
  private unwatch: (() => void) | null = null;
  private readonly waiters = new Set<{ payload: string; resolve: () => void }>();

  constructor(private readonly o: PrincipalCacheOptions) {}

  get enabled(): boolean {
    return this.o.ttlMs > 0;
  }

  /** Listens for invalidations; the cache serves nothing until this has resolved. */
  async start(): Promise<void> {
    if (!this.enabled || this.unlisten) return;
    this.unwatch = this.o.db.onListenerState?.((up) => this.setLive(up)) ?? null;
    this.unlisten = await this.o.db.listen(CHANNELS.principals, (payload) => this.invalidate(payload));
    // Not live while notifications cannot arrive (a LISTEN through a transaction-mode pooler).
    this.setLive(this.o.db.listening?.() ?? true);
  }

  async stop(): Promise<void> {
    this.setLive(false);
    this.unwatch?.();
    this.unwatch = null;
    const u = this.unlisten;
    this.unlisten = null;
    await u?.();
  }

  get(token: string): Entry | undefined {
    if (!this.live) return undefined;
    const e = this.entries.get(token);
    if (!e) return undefined;
    if (e.until <= Date.now()) {
      this.entries.delete(token);
      return undefined;
    }
    // Map keeps insertion order: re-inserting makes this the most recently used.
    this.entries.delete(token);
    this.entries.set(token, e);
    return e;
  }

  /** The generation a database read starts in; pass it to `set`. */
  begin(): number {
    return this.generation;
  }

  /** Remembers a principal read in generation `gen`, valid no later than `notAfter` (ms; a JWT's expiry). */
  set(token: string, p: Principal, gen: number, notAfter = Infinity, touchedAt = 0): void {
    if (!this.live || gen !== this.generation) return;
    this.entries.delete(token);
    this.entries.set(token, { p: Object.freeze(p), until: Math.min(Date.now() + this.o.ttlMs, notAfter), touchedAt });
    while (this.entries.size > this.o.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
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
    if (!this.live) return run();
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

  /** Any change drops every entry: changes are rare, and a full flush cannot miss a token. */
  private invalidate(payload: string): void {
    this.generation++;
    this.entries.clear();
    for (const w of this.waiters) if (w.payload === payload) w.resolve();
  }

  private setLive(up: boolean): void {
    this.generation++;
    this.entries.clear();
    this.live = up && this.enabled;
  }
}
