import { CHANNELS, type Channel } from './channels.js';
import type { Db, Unlisten } from './db.js';

export interface ListeningCacheOptions {
  db: Db;
  /** How long an entry is reused at most; 0 switches the cache off (every read goes to the database). */
  ttlMs: number;
  /** At most this many entries; the least recently used goes first. */
  maxEntries: number;
}

/**
 * What the API processes' read caches share (the principal cache, the job cache; issue #15):
 * entries kept correct by invalidation, not by their TTL. Postgres notifies `channel` on every
 * change that matters (triggers, so no path can forget to) and the subclass drops what the
 * payload names. The TTL only bounds how long a lost notification could matter, and even that
 * is covered: while the LISTEN connection is down the cache serves nothing and is emptied, so
 * nothing read before the gap is served after it.
 *
 * A read that raced an invalidation (began before it, ended after) must not be stored: a
 * subclass hands out the generation a read begins in (`generation`) and refuses a `store`
 * from an older one, by whatever rule fits how precisely it invalidates.
 */
export abstract class ListeningCache<K, V> {
  private readonly entries = new Map<K, { v: V; until: number }>();
  private live = false;
  private unlisten: Unlisten | null = null;
  private unwatch: (() => void) | null = null;
  /** Bumped by every invalidation and every change of `live`. */
  protected generation = 0;
  /** The generation in which the cache last became live (or stopped being): older reads are never stored. */
  protected liveSince = 0;

  constructor(
    protected readonly o: ListeningCacheOptions,
    private readonly channel: Channel,
  ) {}

  get enabled(): boolean {
    return this.o.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether entries are served now (enabled, and notifications are arriving). */
  protected get serving(): boolean {
    return this.live;
  }

  /** Listens for invalidations; the cache serves nothing until this has resolved. */
  async start(): Promise<void> {
    if (!this.enabled || this.unlisten) return;
    this.unwatch = this.o.db.onListenerState?.((up) => this.setLive(up)) ?? null;
    this.unlisten = await this.o.db.listen(CHANNELS[this.channel], (payload) => {
      this.generation++;
      this.invalidate(payload);
    });
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

  /**
   * Whether every notification of this process's own completed writes has been handled, waiting
   * for them when not (Db.notifySync): false only when that wait failed, and then a hit must not
   * be served. Free (no await) when nothing was written since the last time.
   */
  protected caughtUp(): true | Promise<boolean> {
    const s = this.o.db.notifySync;
    return s?.behind() ? s.sync() : true;
  }

  /** Drops what a notification's payload names; `generation` is already bumped. */
  protected abstract invalidate(payload: string): void;

  protected lookup(key: K): V | undefined {
    if (!this.live) return undefined;
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Map keeps insertion order: re-inserting makes this the most recently used.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.v;
  }

  /** Stores `v` unless the cache is off or the read began before it last went live; `notAfter` caps the TTL (ms). */
  protected store(key: K, v: V, readBegan: number, notAfter = Infinity): boolean {
    if (!this.live || readBegan < this.liveSince) return false;
    this.entries.delete(key);
    this.entries.set(key, { v, until: Math.min(Date.now() + this.o.ttlMs, notAfter) });
    while (this.entries.size > this.o.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return true;
  }

  protected drop(key: K): void {
    this.entries.delete(key);
  }

  protected clear(): void {
    this.entries.clear();
  }

  protected dropWhere(pred: (v: V) => boolean): void {
    for (const [k, e] of this.entries) if (pred(e.v)) this.entries.delete(k);
  }

  private setLive(up: boolean): void {
    this.liveSince = ++this.generation;
    this.entries.clear();
    this.live = up && this.enabled;
  }
}
