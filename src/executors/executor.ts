/**
 * The executor interface: where one attempt of one job runs. The worker keeps what makes an
 * attempt safe (the claim, the lease and its heartbeat, the fence on every write, the deadline
 * and the final transition); an executor only runs the trainer somewhere and says how that
 * went. The local executor (local-executor.ts) stages into a folder and runs the trainer as a
 * child process; a cluster executor (Slurm, Kubernetes) hands the attempt to that cluster's
 * scheduler, where `trainyard run-attempt` fetches the inputs, runs the trainer and streams its
 * events to the API with an attempt token.
 */
import type { Logger } from 'pino';
import type { JobError, Fence, JobRow } from '../domain/jobs/types.js';
import type { TrainerResult } from '../domain/jobs/lifecycle/index.js';
import type { NewArtifact } from '../domain/registry/service.js';
import type { ExitInfo } from './local.js';

export interface AttemptContext {
  job: JobRow;
  fence: Fence;
  /** GPU indices this worker assigned (local); a cluster executor asks its scheduler for job.gpus. */
  gpus: number[];
  log: Logger;
  /** The worker's writes for this attempt found the claim gone: the executor stops at once. */
  onLost(): void;
}

/**
 * How an attempt ended, as the worker needs it to pick the job's transition:
 * - `exited`: the trainer ran and exited; `artifacts()` stores (or, remotely, checks) what it
 *   announced and is called only for a success.
 * - `failed`: the attempt could not start for a reason that is the job's (bad inputs, a trainer
 *   that cannot start): the job fails with `error`.
 * - `lost`: a fenced write found the claim gone; nothing more may be written.
 * - `infrastructure`: the machine under the trainer failed (node failure, preemption, eviction,
 *   OOM-killed container, never scheduled): not the job's fault, so it is retried, resuming
 *   from its last checkpoint.
 * - `stopped`: the attempt was stopped before its trainer started (staging was called off).
 */
export type AttemptOutcome =
  | { type: 'exited'; exit: ExitInfo; result: TrainerResult | null; artifacts(): Promise<NewArtifact[]> }
  | { type: 'failed'; error: JobError }
  | { type: 'lost' }
  | { type: 'infrastructure'; message: string }
  | { type: 'stopped' };

export interface RunningAttempt {
  /** Settles once the attempt is over and its resources are released (folders, processes, cluster jobs). */
  readonly done: Promise<AttemptOutcome>;
  /**
   * Asks the attempt to stop: SIGTERM (or the cluster's equivalent), then a forced stop after
   * `graceMs`. Before the trainer started it calls staging off. Safe to call more than once
   * and after the end; `done` reports the outcome.
   */
  stop(graceMs: number): void;
  /**
   * Removes what the attempt left (its folder, a finished cluster job's records) once the worker
   * has concluded: a success's artifacts are read before this runs.
   */
  cleanUp(): Promise<void>;
}

export interface Executor {
  /** 'local', 'slurm', 'kubernetes': shown in logs and in the job's attempt record. */
  readonly kind: string;
  /** Begins an attempt and returns at once: staging, submission and the run happen under `done`. */
  start(ctx: AttemptContext): RunningAttempt;
  /** Releases what the executor holds (pre-started processes, watches); running attempts are stopped by the worker first. */
  close(): Promise<void>;
}
