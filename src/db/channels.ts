import type { Queryable } from './db.js';

/**
 * Every LISTEN/NOTIFY channel, and the one way to notify. NOTIFY is sent through the caller's
 * connection, so inside a transaction it is delivered only on commit: a listener never hears
 * of a row it cannot read yet, and a rolled-back change wakes nobody.
 */
export const CHANNELS = Object.freeze({
  /** A job became claimable (enqueued, handed back, requeued): payload is the job id. */
  jobs: 'trainyard_jobs',
  /** A running job's cancel was requested: the worker holding it stops the trainer. */
  jobCancel: 'trainyard_job_cancel',
  /** New events on a job: payload `job_id:last_seq`, for the live-event hub. */
  jobEvents: 'trainyard_job_events',
  /** An admin changed the catalog (base models): payload is the id. */
  catalog: 'trainyard_catalog',
  /** A webhook delivery is due. */
  webhooks: 'trainyard_webhooks',
  /**
   * What a principal may do changed (role, disabled, key revoked, account or key deleted):
   * payload `u:<user id>` or `k:<key id>`. Sent by triggers (migrations/0018_principal_notify.sql), so every path
   * that changes those rows notifies; the API processes' principal caches listen.
   */
  principals: 'trainyard_principals',
  /**
   * A job's API answer changed: payload `j:<job id>`, or `q:<job id>` when the queue's order
   * changed too, or `*:` when the table was truncated. Sent by triggers (migrations/0023_job_notify.sql) on every change but a lease
   * renewal; the API processes' job caches listen.
   */
  jobChanges: 'trainyard_job_changes',
  /** Read-your-writes markers (src/db/notify-sync.ts): each process waits for its own. */
  sync: 'trainyard_sync',
  /**
   * A Postgres process's LISTEN connection sends itself one notification when it connects
   * (src/db/pg.ts): behind a transaction-mode pooler LISTEN hears nothing, and that must show.
   */
  listenProbe: 'trainyard_listen_probe',
} as const);

export type Channel = keyof typeof CHANNELS;

export async function notify(q: Queryable, channel: Channel, payload = ''): Promise<void> {
  await q.query('select pg_notify($1, $2)', [CHANNELS[channel], payload]);
}
