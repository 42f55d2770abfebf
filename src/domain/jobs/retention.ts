/**
 * Events retention: the events (logs, metrics, progress, status) of jobs that finished more than
 * `days` ago are deleted, so job_events stops growing with history. The job row stays, with
 * its status, error, result and model version; only the event stream goes (the event list and
 * the SSE replay of such a job are empty), and the job is stamped `events_pruned_at`.
 *
 * A pass takes the oldest finished jobs not yet pruned (a partial index on finished_at where
 * events_pruned_at is null: each pass starts where the last one stopped, whatever the size of
 * the history) and deletes their events at most `batch` rows per statement, each statement its
 * own short transaction, so neither writers nor readers wait on a long delete. Several
 * processes may prune at once: the deletes and the stamp are idempotent.
 */
import type { Db } from '../../db/db.js';
import { FINAL_STATES, sqlStates } from './states.js';

export interface RetentionOptions {
  /** Events of jobs finished more than this many days ago are deleted; 0 keeps them forever. */
  days: number;
  /** Events deleted per statement. */
  batch: number;
  intervalMs: number;
}

/** Jobs taken per round of a pass: their events go batch by batch, then they are stamped. */
const JOBS_PER_ROUND = 100;
const FINAL = sqlStates(FINAL_STATES);

export class EventRetention {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly o: RetentionOptions,
    private readonly onError: (msg: string, err: unknown) => void = () => {},
  ) {}

  /** One pass until nothing is left to prune; returns the number of events deleted. */
  async prune(): Promise<number> {
    if (this.o.days <= 0) return 0;
    let deleted = 0;
    while (!this.stopped) {
      const { rows: jobs } = await this.db.query<{ id: string }>(
        `select id from jobs
          where finished_at is not null and events_pruned_at is null and finished_at < now() - make_interval(days => $1)
            and status in (${FINAL})
          order by finished_at limit $2`,
        [this.o.days, JOBS_PER_ROUND],
      );
      if (jobs.length === 0) return deleted;
      const ids = jobs.map((j) => j.id);
      let n: number;
      do {
        ({ rowCount: n } = await this.db.query(
          `delete from job_events e
            using (select job_id, seq from job_events where job_id = any($1::text[]) limit $2) d
           where e.job_id = d.job_id and e.seq = d.seq`,
          [ids, this.o.batch],
        ));
        deleted += n;
      } while (n >= this.o.batch);
      await this.db.query('update jobs set events_pruned_at = now() where id = any($1::text[]) and events_pruned_at is null', [ids]);
    }
    return deleted;
  }

  /** Prunes every `intervalMs` (and once at start), one pass at a time; nothing when retention is off. */
  start(): void {
    if (this.timer || this.o.days <= 0) return;
    const tick = () => {
      if (this.pass) return;
      this.pass = this.prune()
        .catch((err: unknown) => this.onError('pruning old job events failed', err))
        .finally(() => (this.pass = null));
    };
    this.timer = setInterval(tick, this.o.intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and waits for a pass under way (it ends after its current round of jobs). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass;
  }
}
