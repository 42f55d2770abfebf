import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../db/db.js';
import type { CatalogService } from '../domain/catalog/service.js';
import { versionAttributes } from '../domain/catalog/version-fields.js';
import { DatasetIntegrityError } from '../domain/datasets/materialize.js';
import type { JobLifecycle } from '../domain/jobs/lifecycle/index.js';
import { JOB_ERROR_CODES, JOB_STATES } from '../domain/jobs/states.js';
import type { Fence, JobError, JobRow } from '../domain/jobs/types.js';
import { AppError } from '../errors.js';
import { limitsOf, type Confinement, type Sandbox } from '../executors/sandbox.js';
import { startTrainer, type ExitInfo, type RunningTrainer, type StartOptions } from '../executors/local.js';
import type { WarmPool } from '../executors/warm-pool.js';
import type { BlobStore } from '../storage/blob-store.js';
import { uploadArtifacts } from './artifacts.js';
import { EventSink } from './event-sink.js';
import { withSamplePreview } from './samples.js';
import type { BaseModelCache } from './model-cache.js';
import { stageJob, type StagedJob } from './stage.js';
import { trainerCommand } from '../trainers/runtimes/index.js';

export type StopReason = 'cancel' | 'drain' | 'lost' | 'timeout';

export interface RunContext {
  db: Db;
  store: BlobStore;
  catalog: CatalogService;
  /** Store-backed base models on this worker's disk. */
  models: BaseModelCache;
  lifecycle: JobLifecycle;
  maxArtifactBytes: number;
  workerId: string;
  workDir: string;
  /** The Python trainer environment's interpreter. */
  python: string;
  leaseSeconds: number;
  stopGraceMs: number;
  log: Logger;
  keepJobDirs?: boolean;
  /** Confines trainers (own user, limits, no network); absent: run them as this process's user. */
  sandbox?: Sandbox;
  /** Pre-started trainer processes (WARM_TRAINERS); absent: every trainer starts cold. */
  warm?: WarmPool;
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
  private trainer: RunningTrainer | null = null;
  /** Fires on cancel, lost claim or timeout: stops staging (a base model's download). */
  private readonly abort = new AbortController();
  readonly fence: Fence;

  constructor(
    private readonly ctx: RunContext,
    readonly job: JobRow,
    readonly gpus: number[],
  ) {
    this.fence = { jobId: job.id, workerId: ctx.workerId, attempt: job.attempt };
  }

  /**
   * Records why the trainer must stop (the first reason wins, except that a drain gives way to
   * a cancel, timeout or lost claim) and stops it if it is running; a trainer started later is
   * stopped as soon as it starts.
   */
  requestStop(reason: StopReason): void {
    if (!this.stopReason || this.stopReason === 'drain') this.stopReason = reason;
    // A drain lets staging finish: the trainer is then stopped at once and the job handed back.
    if (this.stopReason !== 'drain') this.abort.abort(new Error(`the attempt was stopped (${this.stopReason})`));
    this.sendStop();
  }

  private sendStop(): void {
    if (!this.trainer || !this.stopReason) return;
    // A lost claim means another worker may already run this job: stop at once, no grace.
    this.trainer.stop(this.stopReason === 'lost' ? 0 : this.ctx.stopGraceMs).catch(() => {});
  }

  async run(): Promise<void> {
    const { ctx, job } = this;
    const log = ctx.log.child({ job: job.id, attempt: job.attempt });
    let dir: string | null = null;
    let heartbeat: NodeJS.Timeout | null = null;
    let deadline: NodeJS.Timeout | null = null;
    let confined: Confinement | null = null;
    let staged: StagedJob | undefined;
    try {
      // Before staging: a base model's download can take minutes, far longer than one lease.
      heartbeat = setInterval(
        () => {
          ctx.lifecycle.heartbeat(ctx.db, this.fence, ctx.leaseSeconds).then(
            (status) => {
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
      try {
        staged = await stageJob({ db: ctx.db, store: ctx.store, catalog: ctx.catalog, models: ctx.models, workDir: ctx.workDir }, job, this.abort.signal);
      } catch (err) {
        if (this.abort.signal.aborted && this.stopReason) {
          log.info({ reason: this.stopReason }, 'stopped while staging');
          await this.concludeStopped(this.stopReason, log);
          return;
        }
        if (err instanceof DatasetIntegrityError) {
          log.error(
            { dataset_id: err.datasetId, file_id: err.fileId, expected_sha256: err.expectedSha256, actual_sha256: err.actualSha256 },
            'dataset integrity error',
          );
          await this.fail({ code: JOB_ERROR_CODES.DATASET_INTEGRITY_ERROR, message: err.message });
          return;
        }
        log.error({ err }, 'staging failed');
        await this.fail({ code: JOB_ERROR_CODES.STAGING_FAILED, message: `could not prepare the job's inputs: ${(err as Error).message}` });
        return;
      }
      dir = staged.dir;
      const sink = new EventSink(ctx.db, ctx.lifecycle, ctx.store, this.fence, {
        ownerId: job.owner_id,
        outputDir: staged.spec.output_dir,
        checkpointDir: staged.spec.checkpoint_dir,
        onLost: () => this.requestStop('lost'),
        onError: (m, e) => log.error({ err: e }, m),
      });

      let exit: ExitInfo;
      try {
        const def = ctx.catalog.trainer(job.trainer);
        const { argv, env, warm } = trainerCommand(def, { python: ctx.python });
        const base = staged.spec.base_model?.path;
        const limits = { ...limitsOf(def.resources), readable: base ? [base] : [] };
        const start: StartOptions = {
          command: argv,
          env,
          specPath: staged.specPath,
          cwd: staged.dir,
          gpus: this.gpus,
          onEvent: (e) => sink.push(e),
          onOutput: (o) => sink.push(o),
          flow: sink,
        };
        // Warm: a process started before the job, confined the same way (warm-pool.ts); else cold.
        this.trainer = warm && ctx.warm ? await ctx.warm.start(warm, env, limits, start) : null;
        if (!this.trainer) {
          confined = ctx.sandbox ? await ctx.sandbox.confine(argv, staged.dir, limits) : null;
          this.trainer = await startTrainer({ ...start, command: confined?.argv ?? argv });
        }
        this.sendStop();
        exit = await this.trainer.done;
      } catch (err) {
        await sink.close();
        await this.fail({ code: JOB_ERROR_CODES.TRAINER_UNAVAILABLE, message: `could not start the trainer: ${(err as Error).message}` });
        return;
      }
      clearInterval(heartbeat);
      clearTimeout(deadline);
      await sink.close();
      await this.conclude(exit, sink, staged.spec.output_dir, log);
    } catch (err) {
      log.error({ err }, 'job run crashed; the lease will expire and the reaper retries it');
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      if (deadline) clearTimeout(deadline);
      confined?.release();
      staged?.release();
      if (dir && !ctx.keepJobDirs) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** One lifecycle transition in its own transaction, fenced on this run's claim. */
  private inTx<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.ctx.db.transaction(fn);
  }

  private fail(error: JobError) {
    return this.inTx((tx) => this.ctx.lifecycle.fail(tx, this.fence, error));
  }

  private async conclude(exit: ExitInfo, sink: EventSink, outputDir: string, log: Logger): Promise<void> {
    const { ctx, job } = this;
    const reason = sink.lost ? 'lost' : this.stopReason;
    if (reason === 'lost') return this.concludeStopped(reason, log);
    if (exit.code === 0 && !exit.stopped && reason !== 'timeout') {
      let artifacts;
      try {
        artifacts = await uploadArtifacts(ctx, job, outputDir, sink.artifacts);
        if (job.kind === 'training') artifacts = await withSamplePreview(ctx.db, ctx.store, job, artifacts);
      } catch (err) {
        await this.fail({ code: err instanceof AppError ? err.code : JOB_ERROR_CODES.ARTIFACT_INVALID, message: (err as Error).message });
        return;
      }
      const result = sink.result ?? { metrics: {} };
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
