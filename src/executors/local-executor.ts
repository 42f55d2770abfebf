import { rm } from 'node:fs/promises';
import type { Db } from '../db/db.js';
import type { CatalogService } from '../domain/catalog/service.js';
import { DatasetIntegrityError } from '../domain/datasets/materialize.js';
import type { JobLifecycle } from '../domain/jobs/lifecycle/index.js';
import { JOB_ERROR_CODES } from '../domain/jobs/states.js';
import type { BlobStore } from '../storage/blob-store.js';
import { trainerCommand } from '../trainers/runtimes/index.js';
import { uploadArtifacts } from '../worker/artifacts.js';
import { EventSink } from '../worker/event-sink.js';
import type { BaseModelCache } from '../worker/model-cache.js';
import { attemptDir, stageJob, type StagedJob } from '../worker/stage.js';
import type { AttemptContext, AttemptOutcome, Executor, RunningAttempt } from './executor.js';
import { startTrainer, type RunningTrainer, type StartOptions } from './local.js';
import { limitsOf, type Confinement, type Sandbox } from './sandbox.js';
import type { WarmPool } from './warm-pool.js';

export interface LocalExecutorDeps {
  db: Db;
  store: BlobStore;
  catalog: CatalogService;
  /** Store-backed base models on this worker's disk. */
  models: BaseModelCache;
  lifecycle: JobLifecycle;
  maxArtifactBytes: number;
  workDir: string;
  /** The Python trainer environment's interpreter. */
  python: string;
  keepJobDirs?: boolean;
  /** Confines trainers (own user, limits, no network); absent: run them as this process's user. */
  sandbox?: Sandbox;
  /** Pre-started trainer processes (WARM_TRAINERS); absent: every trainer starts cold. */
  warm?: WarmPool;
}

/**
 * Runs an attempt on this machine: stages its inputs into a folder, starts the trainer as a
 * child process (warm when a spare is ready, confined by the sandbox), and turns its stdout
 * into fenced database writes through an EventSink.
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local';
  constructor(private readonly d: LocalExecutorDeps) {}

  start(ctx: AttemptContext): RunningAttempt {
    const abort = new AbortController();
    let trainer: RunningTrainer | null = null;
    // The latest stop request; a trainer started after it is stopped as soon as it starts.
    let stopGrace: number | null = null;
    const sendStop = () => {
      if (trainer && stopGrace !== null) trainer.stop(stopGrace).catch(() => {});
    };
    const stop = (graceMs: number) => {
      stopGrace = stopGrace === null ? graceMs : Math.min(stopGrace, graceMs);
      abort.abort(new Error('the attempt was stopped'));
      sendStop();
    };
    const started = (t: RunningTrainer) => {
      trainer = t;
      sendStop();
    };
    let dir: string | null = null;
    const done = this.run(ctx, abort.signal, started, (staged) => (dir = staged));
    const cleanUp = async () => {
      await done.catch(() => {});
      if (dir && !this.d.keepJobDirs) await rm(dir, { recursive: true, force: true }).catch(() => {});
    };
    return { stop, done, cleanUp };
  }

  private async run(ctx: AttemptContext, signal: AbortSignal, started: (t: RunningTrainer) => void, stagedAt: (dir: string) => void): Promise<AttemptOutcome> {
    const { d } = this;
    const { job, log } = ctx;
    let staged: StagedJob | undefined;
    let confined: Confinement | null = null;
    try {
      stagedAt(attemptDir(d.workDir, job));
      try {
        staged = await stageJob({ db: d.db, store: d.store, catalog: d.catalog, models: d.models, workDir: d.workDir }, job, signal);
      } catch (err) {
        if (signal.aborted) return { type: 'stopped' };
        if (err instanceof DatasetIntegrityError) {
          log.error(
            { dataset_id: err.datasetId, file_id: err.fileId, expected_sha256: err.expectedSha256, actual_sha256: err.actualSha256 },
            'dataset integrity error',
          );
          return { type: 'failed', error: { code: JOB_ERROR_CODES.DATASET_INTEGRITY_ERROR, message: err.message } };
        }
        log.error({ err }, 'staging failed');
        return { type: 'failed', error: { code: JOB_ERROR_CODES.STAGING_FAILED, message: `could not prepare the job's inputs: ${(err as Error).message}` } };
      }
      // A stop that came while staging finished (a drain lets staging end) stops before the trainer starts.
      if (signal.aborted) return { type: 'stopped' };
      const spec = staged.spec;
      const sink = new EventSink(d.db, d.lifecycle, d.store, ctx.fence, {
        ownerId: job.owner_id,
        outputDir: spec.output_dir,
        checkpointDir: spec.checkpoint_dir,
        onLost: () => ctx.onLost(),
        onError: (m, e) => log.error({ err: e }, m),
      });
      let exit;
      try {
        const def = d.catalog.trainer(job.trainer);
        const { argv, env, warm } = trainerCommand(def, { python: d.python });
        const base = spec.base_model?.path;
        const limits = { ...limitsOf(def.resources), readable: base ? [base] : [] };
        const start: StartOptions = {
          command: argv,
          env,
          specPath: staged.specPath,
          cwd: staged.dir,
          gpus: ctx.gpus,
          onEvent: (e) => sink.push(e),
          onOutput: (o) => sink.push(o),
          flow: sink,
        };
        // Warm: a process started before the job, confined the same way (warm-pool.ts); else cold.
        let t = warm && d.warm ? await d.warm.start(warm, env, limits, start) : null;
        if (!t) {
          confined = d.sandbox ? await d.sandbox.confine(argv, staged.dir, limits) : null;
          t = await startTrainer({ ...start, command: confined?.argv ?? argv });
        }
        started(t);
        exit = await t.done;
      } catch (err) {
        await sink.close();
        return { type: 'failed', error: { code: JOB_ERROR_CODES.TRAINER_UNAVAILABLE, message: `could not start the trainer: ${(err as Error).message}` } };
      }
      await sink.close();
      if (sink.lost) return { type: 'lost' };
      const outputDir = spec.output_dir;
      const announced = sink.artifacts;
      return { type: 'exited', exit, result: sink.result, artifacts: () => uploadArtifacts(d, job, outputDir, announced) };
    } finally {
      confined?.release();
      staged?.release();
    }
  }

  async close(): Promise<void> {
    // The spares die with the worker: no trainer process outlives its stop.
    await this.d.warm?.close();
  }
}
