import { randomBytes } from 'node:crypto';
import { CHANNELS } from './channels.js';
import type { Unlisten } from './db.js';

/** How long a sync waits for its marker before giving up (the caller then reads the database). */
const SYNC_TIMEOUT_MS = 2000;

export interface NotifySyncDeps {
  listen(channel: string, handler: (payload: string) => void): Promise<Unlisten>;
  /** Sends `payload` on the sync channel through a query connection (not the LISTEN one). */
  send(payload: string): Promise<void>;
}

/**
 * Read-your-writes for caches kept by notifications, on a database server (issue #15).
 *
 * A write's NOTIFY reaches this process's LISTEN connection a moment after the write's commit
 * answered on a pool connection: two sockets, no order between them. A cache that served a hit
 * in between would show this process an answer older than its own write (a job it just queued
 * still shown at its old queue position). So the handle counts the writes it has completed, and
 * a cache asks `behind()` before a hit: when writes completed since the last sync, `sync()` sends
 * a marker notification and waits for it on the LISTEN connection. Postgres delivers
 * notifications in commit order, so once the marker is heard, every notification of those
 * writes has been handled. Between writes a hit costs nothing; after a burst of writes, the next
 * hit costs one round trip, whatever the burst's size.
 */
export class NotifySync {
  private writes = 0;
  private synced = 0;
  private inflight: Promise<boolean> | null = null;
  private listening: Promise<Unlisten> | null = null;
  private readonly waiting = new Map<string, () => void>();
  private readonly token = randomBytes(6).toString('hex');

  constructor(private readonly d: NotifySyncDeps) {}

  /** A statement or transaction that may have written completed. */
  wrote(): void {
    this.writes++;
  }

  behind(): boolean {
    return this.synced < this.writes;
  }

  /** Resolves true once every notification of the writes completed so far has been handled here; false if the marker did not come back in time. */
  async sync(): Promise<boolean> {
    const target = this.writes;
    while (this.synced < target) {
      // One marker at a time; a marker sent before `target` was reached is followed by another.
      this.inflight ??= this.round().finally(() => (this.inflight = null));
      if (!(await this.inflight)) return false;
    }
    return true;
  }

  private async round(): Promise<boolean> {
    try {
      await (this.listening ??= this.d.listen(CHANNELS.sync, (p) => this.waiting.get(p)?.()));
    } catch {
      this.listening = null;
      return false;
    }
    const upTo = this.writes;
    const marker = `${this.token}:${upTo}`;
    let timer: NodeJS.Timeout | undefined;
    const heard = new Promise<boolean>((resolve) => {
      this.waiting.set(marker, () => resolve(true));
      timer = setTimeout(() => resolve(false), SYNC_TIMEOUT_MS);
    });
    try {
      if (
        !(await this.d.send(marker).then(
          () => true,
          () => false,
        ))
      )
        return false;
      const ok = await heard;
      if (ok) this.synced = Math.max(this.synced, upTo);
      return ok;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(marker);
    }
  }

  async close(): Promise<void> {
    const l = this.listening;
    this.listening = null;
    if (l) await (await l.catch(() => null))?.();
  }
}
