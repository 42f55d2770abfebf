import type { Db } from '../db/db.js';
import type { CreditsService } from '../domain/credits/service.js';
import { appendEvents } from '../domain/jobs/events.js';
import { JOBS_CHANNEL } from '../domain/jobs/service.js';
import { publicJob } from '../domain/jobs/shape.js';
import { JOB_ERROR_CODES } from '../domain/jobs/states.js';
import type { WebhooksService } from '../domain/webhooks/service.js';
import * as q from './queries.js';

export interface ReaperDeps { db: Db; credits: CreditsService; webhooks: WebhooksService; onError?: (msg: string, err: unknown) => void }

/** Retries back off a little so a job that kills its worker does not spin through all attempts at once. */
const backoffSeconds = (attempt: number) => Math.min(2 ** attempt, 60);

/**
 * Turns expired leases into a retry (the worker was lost: an infrastructure failure, not the
 * job's fault) or, with no attempts left, a failure; a lost job that was being cancelled is
 * simply cancelled. Holds are released in the same transaction. Safe to run on every worker.
 */
export async function reapOnce(d: ReaperDeps, batch = 20): Promise<number> {
  return d.db.transaction(async (tx) => {
    const expired = await q.expiredLeases(tx, batch);
    for (const j of expired) {
      if (j.status === 'cancel_requested') {
        const done = await q.endLost(tx, j.id, 'cancelled', { code: 'CANCELLED', message: 'cancelled (its worker stopped answering)' });
        if (!done) continue;
        await d.credits.release(tx, j.id, 'cancelled');
        await appendEvents(tx, j.id, [{ type: 'status', data: { status: 'cancelled', reason: 'worker lost while cancelling' } }]);
        await d.webhooks.enqueueJobEvent(tx, done, 'job.cancelled', { job: publicJob(done) });
      } else if (j.attempt < j.max_attempts) {
        const back = await q.requeueLost(tx, j.id, backoffSeconds(j.attempt));
        if (!back) continue;
        await appendEvents(tx, j.id, [{ type: 'status', data: { status: 'queued', reason: `worker ${j.worker_id} lost; retrying (attempt ${j.attempt + 1} of ${j.max_attempts})`, resume_from_step: j.checkpoint?.step ?? null } }]);
        await tx.query('select pg_notify($1, $2)', [JOBS_CHANNEL, j.id]);
      } else {
        const error = { code: JOB_ERROR_CODES.WORKER_LOST, message: `the worker running this job stopped answering, ${j.attempt} time(s); giving up` };
        const done = await q.endLost(tx, j.id, 'failed', error);
        if (!done) continue;
        await d.credits.release(tx, j.id, 'failed: worker lost');
        await appendEvents(tx, j.id, [{ type: 'status', data: { status: 'failed', error } }]);
        await d.webhooks.enqueueJobEvent(tx, done, 'job.failed', { job: publicJob(done) });
      }
    }
    return expired.length;
  });
}
