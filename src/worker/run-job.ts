import type { Logger } from 'pino';
import type { Queryable } from '../db/db.js';
import { versionAttributes } from '../domain/catalog/version-fields.js';
import { JOB_ERROR_CODES, JOB_STATES } from '../domain/jobs/states.js';
import type { Fence, JobError, JobRow } from '../domain/jobs/types.js';
import { AppError } from '../errors.js';
import type { AttemptOutcome, Executor, RunningAttempt } from '../executors/executor.js';
import type { ExitInfo } from '../executors/local.js';
import { LocalExecutor, type LocalExecutorDeps } from '../executors/local-executor.js';
import { withSamplePreview } from './samples.js';
import type { Tracking } from './integrations.js';
import { withEventsFile } from './tensorboard.js';

export type StopReason = 'cancel' | 'drain' | 'lost' | 'timeout';

/** What a run needs: the local executor's dependencies (its default executor) and the claim's settings. */
export interface RunContext extends LocalExecutorDeps {
  workerId: string;
  leaseSeconds: number;
  stopGraceMs: number;
  log: Logger;
  /** Where attempts run; absent: this machine (a LocalExecutor over the fields above). */
  executor?: Executor;
  /** Logs ended jobs to the experiment trackers they asked for (MLflow); absent: none are. */
  tracking?: Tracking;
}

/** Why a failed trainer failed, in one line a user can act on. */
function failureMessage(exit: ExitInfo): string {
  if (exit.lastError) return exit.lastError;
  const lines = exit.stderrTail.map((l) => l.trim()).filter((l) => l && !l.startsWith('at '));
  // An interpreter's last words are mostly stack frames; the line naming the error says more.
  const errorLine = [...lines].reverse().find((l) => /error|exception|traceback|fatal|killed/i.test(l));
  const tail = errorLine ?? lines.slice(-3).join(' | ');
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return tail ? `trainer ${how}: ${tail}` : `trainer ${how}`;
}

/**
 * One attempt of one job on this worker: stage → run the trainer → ingest its events while
 * heartbeating → finish. Every database write is fenced by (job, worker, attempt); when the
 * fence fails the claim is gone (reaped, or taken by another worker) and this run only stops
 * its trainer and cleans up, writing nothing.
 */
export class JobRun {
  private stopReason: StopReason | null = null;
  private attempt: RunningAttempt | null = null;
  readonly fence: Fence;

  /**
   * `releaseGpus` is called once the attempt is over (`done`: the trainer and its processes are
   * gone), before the artifacts are stored and the job concluded.
   */
  constructor(
    private readonly ctx: RunContext,
    readonly job: JobRow,
    readonly gpus: number[],
    private readonly releaseGpus: () => void = () => {},
  ) {
    this.fence = { jobId: job.id, workerId: ctx.workerId, attempt: job.attempt };
  }

  /**
   * Records why the attempt must stop (the first reason wins, except that a drain gives way to
   * a cancel, timeout or lost claim) and stops it: staging (a base model's download) is called
   * off, a running trainer gets SIGTERM, and one started later is stopped as soon as it starts.
   */
  requestStop(reason: StopReason): void {
    if (!this.stopReason || this.stopReason === 'drain') this.stopReason = reason;
    this.sendStop();
  }

  private sendStop(): void {
    if (!this.attempt || !this.stopReason) return;
    // A lost claim means another worker may already run this job: stop at once, no grace.
    this.attempt.stop(this.stopReason === 'lost' ? 0 : this.ctx.stopGraceMs);
  }

  async run(): Promise<void> {
    const { ctx, job } = this;
    const log = ctx.log.child({ job: job.id, attempt: job.attempt });
    let heartbeat: NodeJS.Timeout | null = null;
    let deadline: NodeJS.Timeout | null = null;
    let concluding = false;
    try {
      // Before staging: a base model's download can take minutes, far longer than one lease.
      // Until the end is committed: storing a large model's artifacts can take as long.
      heartbeat = setInterval(
        () => {
          ctx.lifecycle.heartbeat(ctx.db, this.fence, ctx.leaseSeconds).then(
            (status) => {
              // The attempt is over; only the fenced commit decides how it ends now.
              if (concluding) return;
              if (status === null) this.requestStop('lost');
              else if (status === JOB_STATES.CANCEL_REQUESTED) this.requestStop('cancel');
            },
            (err) => log.warn({ err }, 'heartbeat failed'),
          );
        },
        Math.max(100, (ctx.leaseSeconds * 1000) / 3),
      );
      const runtimeLeft = job.max_runtime_seconds * 1000 - (Date.now() - (job.attempt_started_at?.getTime() ?? Date.now()));
      deadline = setTimeout(() => this.requestStop('timeout'), Math.max(0, runtimeLeft));
      const executor = ctx.executor ?? new LocalExecutor(ctx);
      this.attempt = executor.start({ job, fence: this.fence, gpus: this.gpus, log, onLost: () => this.requestStop('lost') });
      // A stop asked for before the start (a drain, a cancel) reaches the attempt now.
      this.sendStop();
      const outcome = await this.attempt.done;
      this.releaseGpus();
      clearTimeout(deadline);
      // The lease is still renewed while the end is stored: with the heartbeat stopped here, an
      // upload longer than one lease (JOBS_LEASE_SECONDS) had the reaper hand the job to another
      // worker, this commit refused, and every attempt of a large model failed the same way.
      concluding = true;
      await this.conclude(outcome, log);
      clearInterval(heartbeat);
      // After the final state is committed, and without waiting: a tracker never holds up a job.
      if (job.integrations?.length) ctx.tracking?.afterJob(job.id);
    } catch (err) {
      log.error({ err }, 'job run crashed; the lease will expire and the reaper retries it');
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      if (deadline) clearTimeout(deadline);
      await this.attempt?.cleanUp();
    }
  }

  /** One lifecycle transition in its own transaction, fenced on this run's claim. */
  private inTx<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.ctx.db.transaction(fn);
  }

  private fail(error: JobError) {
    return this.inTx((tx) => this.ctx.lifecycle.fail(tx, this.fence, error));
  }

  private async conclude(outcome: AttemptOutcome, log: Logger): Promise<void> {
    const { ctx, job } = this;
    // A cancel (or a lost claim) the heartbeat has not seen yet still decides how this ends: a
    // remote launcher hears of a cancel from the API and may stop its trainer first.
    if (!this.stopReason) {
      const status = await ctx.lifecycle.heartbeat(ctx.db, this.fence, ctx.leaseSeconds).catch(() => undefined);
      if (status === null) this.stopReason = 'lost';
      else if (status === JOB_STATES.CANCEL_REQUESTED) this.stopReason = 'cancel';
    }
    const reason = this.stopReason;
    if (outcome.type === 'lost' || reason === 'lost') return this.concludeStopped('lost', log);
    if (outcome.type === 'failed') return void (await this.fail(outcome.error));
    if (outcome.type === 'stopped') return this.concludeStopped(reason ?? 'drain', log);
    if (outcome.type === 'infrastructure') {
      // A cancel or timeout asked for meanwhile wins: the attempt is over either way.
      if (reason && reason !== 'drain') return this.concludeStopped(reason, log);
      log.warn({ message: outcome.message }, 'infrastructure failure; the job is retried');
      return void (await this.inTx((tx) => ctx.lifecycle.retryInfrastructure(tx, this.fence, job, outcome.message)));
    }
    const { exit } = outcome;
    if (exit.code === 0 && !exit.stopped && reason !== 'timeout') {
      const result = outcome.result ?? { metrics: {} };
      let artifacts;
      try {
        artifacts = await outcome.artifacts();
        if (job.kind === 'training') {
          artifacts = await withSamplePreview(ctx.db, ctx.store, job, artifacts);
          // Every training run can be opened in TensorBoard, whichever trainer made it.
          artifacts = await withEventsFile(ctx.db, ctx.store, job, artifacts, result.metrics);
        }
      } catch (err) {
        await this.fail({ code: err instanceof AppError ? err.code : JOB_ERROR_CODES.ARTIFACT_INVALID, message: (err as Error).message });
        return;
      }
      const trainer = ctx.catalog.trainer(job.trainer);
      const done = await this.inTx((tx) =>
        job.kind === 'inference'
          ? ctx.lifecycle.succeedInference(tx, this.fence, result, artifacts)
          : ctx.lifecycle.succeedTraining(tx, this.fence, result, artifacts, {
              primaryMetric: trainer.primary_metric,
              triggerWord: versionAttributes(trainer, job.hyperparameters).triggerWord,
            }),
      );
      if (!done) for (const a of artifacts) await ctx.store.delete(a.storage_key);
      return;
    }
    if (reason) await this.concludeStopped(reason, log);
    else await this.fail({ code: JOB_ERROR_CODES.TRAINER_FAILED, message: failureMessage(exit) });
  }

  /** The end of an attempt stopped for `reason`, whether its trainer ran or it was still staging. */
  private async concludeStopped(reason: StopReason, log: Logger): Promise<void> {
    const { ctx, job } = this;
    if (reason === 'lost') log.warn('claim lost; the job belongs to someone else now');
    else if (reason === 'drain') await this.inTx((tx) => ctx.lifecycle.handBack(tx, this.fence));
    else if (reason === 'cancel') await this.inTx((tx) => ctx.lifecycle.cancelStopped(tx, this.fence));
    else await this.inTx((tx) => ctx.lifecycle.timeOut(tx, this.fence, job.max_runtime_seconds));
  }
}
