import { ListeningCache, type ListeningCacheOptions } from '../../db/listening-cache.js';
import type { PublicJob } from './shape.js';
import { JOB_STATES } from './states.js';

export type JobCacheOptions = ListeningCacheOptions;

interface Entry {
  ownerId: string;
  job: Readonly<PublicJob>;
}

/**
 * GET /v1/jobs/{id} answers by job id, so that polling a job's status costs no query (issue #15,
 * target 2: with the principal cache, that one query was all that was left per request).
 *
 * Correct by invalidation (ListeningCache): triggers (migrations/0023_job_notify.sql) notify
 * `j:<id>` on every change to a job but a lease renewal, and `q:<id>` when the queue's order
 * changed, which drops every cached queued job too (their queue_position may have moved);
 * `*:` (a TRUNCATE) drops everything. Only
 * found jobs are cached, with their owner: another caller's request for a cached id reads the
 * database as before (and gets its 404), an admin's is served.
 *
 * Races are settled per job: a read records the generation it began in, and is not stored when
 * its job was invalidated (or, for a queued job, the queue reordered) after that. This process
 * sees its own writes, whatever path made them (API, worker, facade): before a hit it waits until
 * the notifications of the writes it completed have arrived (Db.notifySync: free when it wrote
 * nothing since). Other processes see a change when its notification arrives (the principal
 * cache's bound: "at about the same moment", not provably before a client's next request).
 */
export class JobCache extends ListeningCache<string, Entry> {
  /** Jobs with a read in flight: how many, and the generation of their last invalidation. */
  private readonly reading = new Map<string, { n: number; invalidated: number }>();
  /** The generation of the last `q:` notification. */
  private queueMoved = 0;
  /** Answers served from the cache, and reads that went to the database while it was serving. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(o: JobCacheOptions) {
    super(o, 'jobChanges');
  }

  /**
   * The job from the cache when `callerId` may see it (its owner, or an admin), else from `load`
   * (owner-scoped by the caller), stored for the next request when nothing changed meanwhile.
   */
  async read(id: string, callerId: string, asAdmin: boolean, load: () => Promise<{ ownerId: string; job: PublicJob } | null>): Promise<PublicJob | null> {
    if (!this.serving) return (await load())?.job ?? null;
    const fresh = this.caughtUp();
    if (fresh !== true && !(await fresh)) return (await load())?.job ?? null;
    const hit = this.lookup(id);
    if (hit && (asAdmin || hit.ownerId === callerId)) {
      this.stats.hits++;
      return hit.job;
    }
    this.stats.misses++;
    const began = this.generation;
    const r = this.reading.get(id) ?? { n: 0, invalidated: 0 };
    r.n++;
    this.reading.set(id, r);
    try {
      const found = await load();
      if (!found) return null;
      const raced = r.invalidated > began || (found.job.status === JOB_STATES.QUEUED && this.queueMoved > began);
      if (!raced) this.store(id, { ownerId: found.ownerId, job: Object.freeze(found.job) }, began);
      return found.job;
    } finally {
      if (--r.n === 0) this.reading.delete(id);
    }
  }

  protected invalidate(payload: string): void {
    if (payload.startsWith('*:')) {
      // The table was truncated: nothing cached holds, and no read in flight may be stored.
      this.clear();
      this.queueMoved = this.generation;
      for (const r of this.reading.values()) r.invalidated = this.generation;
      return;
    }
    const id = payload.slice(2);
    this.drop(id);
    const r = this.reading.get(id);
    if (r) r.invalidated = this.generation;
    if (payload.startsWith('q:')) {
      this.queueMoved = this.generation;
      this.dropWhere((e) => e.job.status === JOB_STATES.QUEUED);
    }
  }
}
