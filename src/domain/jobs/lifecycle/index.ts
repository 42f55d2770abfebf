/**
 * Everything that can happen to a job, one method per transition of TRANSITIONS (states.ts).
 * Each runs inside the caller's transaction and does the whole transition there: the guarded
 * (and, for a worker, fenced) UPDATE, then the side effects the table declares — the credit
 * move, the status event, the webhook row and the wake-up NOTIFY — so they commit together or
 * not at all. A method returns null when the transition was refused (wrong state, or a claim
 * that is no longer this worker's); nothing was written then.
 *
 * Callers: the jobs service (enqueue, cancel), the worker (claim, record, succeed, fail,
 * hand back) and the reaper (expired leases).
 */
import { notify } from '../../../db/channels.js';
import { redactServerPaths } from '../../../redact.js';
import type { Queryable } from '../../../db/db.js';
import type { CreditsService } from '../../credits/service.js';
import type { NewArtifact, RegistryService } from '../../registry/service.js';
import type { WebhooksService } from '../../webhooks/service.js';
import { appendEvents, type NewEvent } from '../events.js';
import { insertSample, sampleEventData, type NewSample } from '../samples.js';
import { publicJob } from '../shape.js';
import { JOB_ERROR_CODES, JOB_STATES, TRANSITIONS, type TransitionName } from '../states.js';
import type { Fence, JobError, JobRow, NewJob, StoredCheckpoint } from '../types.js';
import * as sql from './sql.js';

export type { Progress } from './sql.js';

export interface LifecycleDeps {
  credits: Pick<CreditsService, 'hold' | 'capture' | 'release'>;
  webhooks: Pick<WebhooksService, 'enqueueJobEvent'>;
  registry: Pick<RegistryService, 'register'>;
}

export interface TrainerResult {
  metrics: Record<string, number>;
  details?: Record<string, unknown>;
}

/** What the registry records about a new version beyond the job itself (from the catalog entry). */
export interface VersionInfo {
  primaryMetric: { name: string; goal: 'maximize' | 'minimize' };
  triggerWord: string | null;
}

/** Retries back off a little so a job that kills its worker does not spin through all attempts at once. */
export const retryBackoffSeconds = (attempt: number): number => Math.min(2 ** attempt, 60);

export class JobLifecycle {
  constructor(private readonly d: LifecycleDeps) {}

  /** The side effects TRANSITIONS declares for `name`, applied to the row it produced. */
  private async effects(
    tx: Queryable,
    name: TransitionName,
    row: JobRow,
    extra: { event?: Record<string, unknown>; webhook?: Record<string, unknown> } = {},
  ): Promise<JobRow> {
    const t = TRANSITIONS[name];
    // The ledger says what the credits were for; a generation is an inference job.
    const purpose = row.kind === 'inference' ? 'generation' : 'training';
    if (t.credits === 'hold') await this.d.credits.hold(tx, row.owner_id, row.id, row.cost, purpose);
    else if (t.credits === 'capture') await this.d.credits.capture(tx, row.id, purpose);
    else if (t.credits === 'release') await this.d.credits.release(tx, row.id, row.status === JOB_STATES.FAILED ? `failed: ${row.error?.code}` : row.status);
    await appendEvents(tx, row.id, [{ type: 'status', data: { status: t.to, ...extra.event } }]);
    if (t.webhook) await this.d.webhooks.enqueueJobEvent(tx, row, t.webhook, { job: publicJob(row), ...extra.webhook });
    if (t.wake === 'jobs') await notify(tx, 'jobs', row.id);
    else if (t.wake === 'cancel') await notify(tx, 'jobCancel', row.id);
    return row;
  }

  /** A new queued job and its hold (402 when the balance is short); null when its idempotency key exists. */
  async enqueue(tx: Queryable, job: NewJob): Promise<JobRow | null> {
    const row = await sql.insertJob(tx, job);
    return row && this.effects(tx, 'enqueue', row, { event: { cost: row.cost } });
  }

  /** The next job this worker can run, now running under its lease; null when there is none. */
  async claim(tx: Queryable, w: Parameters<typeof sql.claimNext>[1]): Promise<JobRow | null> {
    const row = await sql.claimNext(tx, w);
    return row && this.effects(tx, 'claim', row, { event: { attempt: row.attempt, worker: w.workerId } });
  }

  /** Renews the lease: the job's status, or null when the claim is gone. */
  heartbeat(db: Queryable, f: Fence, leaseSeconds: number) {
    return sql.renewLease(db, f, leaseSeconds);
  }

  /** A trainer's events (and latest progress), fenced; false when the claim is gone. */
  async record(tx: Queryable, f: Fence, events: NewEvent[], progress: sql.Progress | null): Promise<boolean> {
    if ((await appendEvents(tx, f.jobId, events, f)) === null) return false;
    return progress ? sql.setProgress(tx, f, progress) : true;
  }

  /**
   * A stored sample image, fenced: its number, the job's preview, a `sample` event and the
   * `job.sample` webhook, together. False when the claim is gone.
   */
  async recordSample(tx: Queryable, f: Fence, s: NewSample): Promise<boolean> {
    const r = await insertSample(tx, f, s);
    if (!r) return false;
    const sample = sampleEventData(r.sample);
    await appendEvents(tx, f.jobId, [{ type: 'sample', data: sample }], f);
    await this.d.webhooks.enqueueJobEvent(tx, r.job, 'job.sample', { job: publicJob(r.job), sample });
    return true;
  }

  saveCheckpoint(db: Queryable, f: Fence, cp: StoredCheckpoint): Promise<boolean> {
    return sql.setCheckpoint(db, f, cp);
  }

  /** A training job's success: the model version, the capture and the status, all or nothing. */
  async succeedTraining(tx: Queryable, f: Fence, r: TrainerResult, artifacts: NewArtifact[], info: VersionInfo): Promise<JobRow | null> {
    const job = await sql.lockClaim(tx, f);
    if (!job?.output) return null;
    const v = await this.d.registry.register(tx, {
      ownerId: job.owner_id,
      modelName: job.output.model_name,
      description: job.output.description ?? null,
      triggerWord: info.triggerWord,
      trainer: job.trainer,
      // The job's output.primary_metric (its goal settled at creation) names a new model's metric.
      primaryMetric: job.output.primary_metric ? { name: job.output.primary_metric, goal: job.output.metric_goal ?? 'maximize' } : info.primaryMetric,
      jobId: job.id,
      datasetId: job.dataset_id,
      baseModel: job.base_model,
      hyperparameters: job.hyperparameters,
      metrics: r.metrics,
      parentVersionId: job.from_model?.version_id ?? null,
      artifacts,
    });
    const done = await sql.markSucceeded(tx, f, { result: { metrics: r.metrics, ...(r.details ? { details: r.details } : {}) }, model_version_id: v.id });
    const model = { name: job.output.model_name, version: v.version };
    return done && this.effects(tx, 'succeed', done, { event: { model }, webhook: { model } });
  }

  /** An inference job's success: its outputs stay on the job (with storage keys) instead of becoming a version. */
  async succeedInference(tx: Queryable, f: Fence, r: TrainerResult, artifacts: NewArtifact[]): Promise<JobRow | null> {
    const outputs = artifacts.map((a) => ({ name: a.name, format: a.format, bytes: a.bytes, sha256: a.sha256, storage_key: a.storage_key }));
    const done = await sql.markSucceeded(tx, f, {
      result: { metrics: r.metrics, ...(r.details ? { details: r.details } : {}), outputs },
      model_version_id: null,
    });
    return done && this.effects(tx, 'succeed', done, { event: { outputs: outputs.map((o) => o.name) } });
  }

  async fail(tx: Queryable, f: Fence, raw: JobError): Promise<JobRow | null> {
    // The job's owner reads this message (and webhooks carry it): no server paths in it (issue #10).
    const error = { ...raw, message: redactServerPaths(raw.message) };
    const done = await sql.markEnded(tx, 'fail', f, error);
    return done && this.effects(tx, 'fail', done, { event: { error } });
  }

  async timeOut(tx: Queryable, f: Fence, maxRuntimeSeconds: number): Promise<JobRow | null> {
    const error = { code: JOB_ERROR_CODES.TIMEOUT, message: `the job ran longer than its limit of ${maxRuntimeSeconds} s` };
    const done = await sql.markEnded(tx, 'timeOut', f, error);
    return done && this.effects(tx, 'timeOut', done, { event: { error } });
  }

  /** The worker stopped the trainer of a job whose cancel was requested. */
  async cancelStopped(tx: Queryable, f: Fence): Promise<JobRow | null> {
    const error = { code: JOB_ERROR_CODES.CANCELLED, message: 'cancelled while running' };
    const done = await sql.markEnded(tx, 'cancelStopped', f, error);
    return done && this.effects(tx, 'cancelStopped', done, { event: { error } });
  }

  async cancelQueued(tx: Queryable, jobId: string): Promise<JobRow | null> {
    const done = await sql.markCancelQueued(tx, jobId, { code: JOB_ERROR_CODES.CANCELLED, message: 'cancelled before it started' });
    return done && this.effects(tx, 'cancelQueued', done, { event: { reason: 'cancelled by user' } });
  }

  /** Running → cancel_requested; the worker holding the lease hears of it at once (NOTIFY) and stops the trainer. */
  async requestCancel(tx: Queryable, jobId: string): Promise<JobRow | null> {
    const row = await sql.markCancelRequested(tx, jobId);
    return row && this.effects(tx, 'requestCancel', row);
  }

  /** A draining worker gives the job back to the queue, uncharged. */
  async handBack(tx: Queryable, f: Fence): Promise<JobRow | null> {
    const back = await sql.markHandedBack(tx, f);
    return back && this.effects(tx, 'handBack', back, { event: { reason: 'worker shutting down; handed back to the queue' } });
  }

  /** A lost claim with attempts left: queued again after a short backoff (the worker failed, not the job). */
  async requeueLost(tx: Queryable, j: JobRow): Promise<JobRow | null> {
    const back = await sql.markRequeued(tx, j.id, retryBackoffSeconds(j.attempt));
    const reason = `worker ${j.worker_id} lost; retrying (attempt ${j.attempt + 1} of ${j.max_attempts})`;
    return back && this.effects(tx, 'requeueLost', back, { event: { reason, resume_from_step: j.checkpoint?.step ?? null } });
  }

  /**
   * The executor lost the machine under the trainer: retried while attempts are left (resuming
   * from the last checkpoint), failed with INFRASTRUCTURE_FAILED after the last one.
   */
  async retryInfrastructure(tx: Queryable, f: Fence, j: Pick<JobRow, 'attempt' | 'max_attempts'>, message: string): Promise<JobRow | null> {
    if (j.attempt >= j.max_attempts) {
      return this.fail(tx, f, { code: JOB_ERROR_CODES.INFRASTRUCTURE_FAILED, message: `${message}; giving up after ${j.attempt} attempt(s)` });
    }
    const back = await sql.markRequeuedFenced(tx, f, retryBackoffSeconds(j.attempt));
    const reason = `${message}; retrying (attempt ${j.attempt + 1} of ${j.max_attempts})`;
    // The updated row's checkpoint: the caller's copy is from the claim, before this attempt saved any.
    return back && this.effects(tx, 'requeueInfrastructure', back, { event: { reason, resume_from_step: back.checkpoint?.step ?? null } });
  }

  async failLost(tx: Queryable, j: JobRow): Promise<JobRow | null> {
    const error = { code: JOB_ERROR_CODES.WORKER_LOST, message: `the worker running this job stopped answering, ${j.attempt} time(s); giving up` };
    const done = await sql.markLostEnded(tx, 'failLost', j.id, error);
    return done && this.effects(tx, 'failLost', done, { event: { error } });
  }

  async cancelLost(tx: Queryable, j: JobRow): Promise<JobRow | null> {
    const done = await sql.markLostEnded(tx, 'cancelLost', j.id, { code: JOB_ERROR_CODES.CANCELLED, message: 'cancelled (its worker stopped answering)' });
    return done && this.effects(tx, 'cancelLost', done, { event: { reason: 'worker lost while cancelling' } });
  }

  /**
   * A job whose lease expired: retried (the worker was lost: an infrastructure failure, not the
   * job's fault) or, with no attempts left, failed; one that was being cancelled is cancelled.
   */
  reapLost(tx: Queryable, j: JobRow): Promise<JobRow | null> {
    if (j.status === JOB_STATES.CANCEL_REQUESTED) return this.cancelLost(tx, j);
    return j.attempt < j.max_attempts ? this.requeueLost(tx, j) : this.failLost(tx, j);
  }

  /** Reaps up to `batch` expired leases; safe on every worker (SKIP LOCKED). Returns how many it saw. */
  async reapExpired(tx: Queryable, batch = 20): Promise<number> {
    const expired = await sql.expiredLeases(tx, batch);
    for (const j of expired) await this.reapLost(tx, j);
    return expired.length;
  }
}
