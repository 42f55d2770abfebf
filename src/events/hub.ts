import { CHANNELS } from '../db/channels.js';
import type { Db, Unlisten } from '../db/db.js';
import { StreamSlots } from './slots.js';

export interface JobEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}
type Listener = (events: JobEvent[]) => void;

/** A job's events after `afterSeq`, oldest first, at most `limit` (the jobs service provides it). */
export type ReadEvents = (jobId: string, afterSeq: number, limit: number) => Promise<JobEvent[]>;

export interface HubLimits {
  /** Open streams per user, SSE and WebSocket together. */
  maxStreamsPerUser: number;
  /** Past events one subscription replays; past that it ends and the client resumes from the last one. */
  replayMax: number;
}

export interface Subscription {
  /** False when the backlog held more than `replayMax` events: the subscriber got the first page only and is not live. */
  live: boolean;
  /** The last event delivered (the resume point). */
  lastSeq: number;
  unsubscribe(): void;
}

/** One job's live feed in this process: one database read per notification, shared by all viewers. */
class JobFeed {
  readonly listeners = new Set<Listener>();
  lastSeq: number;
  private fetching: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly read: ReadEvents,
    readonly jobId: string,
    startSeq: number,
  ) {
    this.lastSeq = startSeq;
  }

  /** Coalesces bursts: while a fetch runs, further notifications cause exactly one more. */
  refresh(): void {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = (async () => {
      do {
        this.again = false;
        for (;;) {
          const events = await this.read(this.jobId, this.lastSeq, 1000);
          if (events.length === 0) break;
          this.lastSeq = events[events.length - 1]!.seq;
          for (const l of this.listeners) l(events);
          if (events.length < 1000) break;
        }
      } while (this.again);
    })()
      .catch(() => {})
      .finally(() => (this.fetching = null));
  }
}

/**
 * Fans job events out to SSE and WebSocket viewers. Any API process hears events written by
 * any worker through LISTEN/NOTIFY; a slow poll covers a missed notification.
 */
export class EventHub {
  private readonly feeds = new Map<string, JobFeed>();
  private unlisten: Unlisten | null = null;
  private unlistenPrincipals: Unlisten | null = null;
  private unwatch: (() => void) | null = null;
  private poll: NodeJS.Timeout | null = null;
  /** Stream slots per user: the routes take one before a stream starts (429 beyond the limit). */
  readonly slots: StreamSlots;

  constructor(
    private readonly db: Db,
    private readonly read: ReadEvents,
    readonly limits: HubLimits = { maxStreamsPerUser: 20, replayMax: 1000 },
    private readonly o: { pollMs?: number; onError?: (msg: string, err: unknown) => void } = {},
  ) {
    this.slots = new StreamSlots(limits.maxStreamsPerUser, o.onError);
  }

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(CHANNELS.jobEvents, (payload) => {
      const jobId = payload.split(':')[0]!;
      this.feeds.get(jobId)?.refresh();
    });
    // Open streams end when their principal loses access (slots.ts); after a gap in
    // notifications, any of them may have, so all are rechecked.
    this.unlistenPrincipals = await this.db.listen(CHANNELS.principals, (payload) => void this.slots.revalidate(payload));
    this.unwatch = this.db.onListenerState?.((up) => void (up && this.slots.revalidate(null))) ?? null;
    this.poll = setInterval(() => {
      for (const f of this.feeds.values()) f.refresh();
    }, this.o.pollMs ?? 2000);
    this.poll.unref();
  }

  /**
   * Delivers the events after `afterSeq` in order: first the backlog from the database, at
   * most `replayMax` of it, then live events. A backlog longer than that is paged: the first
   * `replayMax` events are delivered and the subscription ends there (`live: false`), so one
   * connection never replays more than a page; the client resumes from `lastSeq`.
   */
  async subscribe(jobId: string, afterSeq: number, listener: Listener): Promise<Subscription> {
    const max = this.limits.replayMax;
    let last = afterSeq;
    const deliver = (events: JobEvent[]) => {
      const fresh = events.filter((e) => e.seq > last);
      if (fresh.length === 0) return;
      last = fresh[fresh.length - 1]!.seq;
      listener(fresh);
    };
    // Join the shared feed first and hold what it sends while the backlog is read, so no
    // event can fall between the backlog's end and the live stream's start.
    let feed = this.feeds.get(jobId);
    if (!feed) {
      feed = new JobFeed(this.read, jobId, afterSeq);
      this.feeds.set(jobId, feed);
    }
    const held: JobEvent[][] = [];
    let catchingUp = true;
    const onFeed = (events: JobEvent[]) => (catchingUp ? held.push(events) : deliver(events));
    feed.listeners.add(onFeed);
    const unsubscribe = () => {
      feed.listeners.delete(onFeed);
      if (feed.listeners.size === 0 && this.feeds.get(jobId) === feed) this.feeds.delete(jobId);
    };
    let replayed = 0;
    let more = false;
    /** The newest event this subscriber has actually seen; afterSeq is only where its filter starts. */
    let seen = 0;
    try {
      for (;;) {
        // One event beyond the page is read to tell "exactly a page" from "more than a page".
        const want = Math.min(1000, max - replayed + 1);
        const events = await this.read(jobId, last, want);
        const page = events.slice(0, max - replayed);
        if (page.length) {
          deliver(page);
          seen = page[page.length - 1]!.seq;
        }
        replayed += page.length;
        if (events.length > page.length) {
          more = true;
          break;
        }
        if (events.length < want) break;
      }
    } catch (err) {
      unsubscribe();
      throw err;
    }
    if (more) {
      unsubscribe();
      return { live: false, lastSeq: last, unsubscribe: () => {} };
    }
    catchingUp = false;
    for (const events of held) {
      deliver(events);
      seen = Math.max(seen, events[events.length - 1]!.seq);
    }
    // Having read the job's events to their end, this subscriber knows where the feed belongs.
    // A feed ahead of its cursor was started at a cursor past the job's last event (after=2^53,
    // or a stale Last-Event-ID) and would read past every event to come, for every viewer in
    // this process: it is brought back. A subscriber's own cursor never moves the feed forward;
    // only events it has seen do (so the next read skips them).
    if (feed.lastSeq > last) feed.lastSeq = last;
    else if (feed.lastSeq < seen) feed.lastSeq = seen;
    return { live: true, lastSeq: last, unsubscribe };
  }

  get subscriberCount(): number {
    let n = 0;
    for (const f of this.feeds.values()) n += f.listeners.size;
    return n;
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.unwatch?.();
    this.unwatch = null;
    await Promise.all([this.unlisten?.(), this.unlistenPrincipals?.()]);
    this.unlisten = this.unlistenPrincipals = null;
    this.feeds.clear();
  }
}
