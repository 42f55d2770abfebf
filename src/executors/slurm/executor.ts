/**
 * The Slurm executor: one batch job per attempt through slurmrestd, whose script is the
 * launcher (`trainyard run-attempt`). The worker keeps the claim and the lease; this only
 * submits, watches the job's state, and cancels it. The trainer's events reach the API from the
 * launcher, and how it ended comes from the launcher's report; Slurm's own state says what
 * happened when there is none (a lost node, a preemption, an out-of-memory kill: the machine,
 * not the job, so the worker retries the job from its last checkpoint).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { JOB_ERROR_CODES } from '../../domain/jobs/states.js';
import type { AttemptContext, AttemptOutcome, Executor, RunningAttempt } from '../executor.js';
import { attemptCredentials, launcherArgv, reportedOutcome, shellQuote, type RemoteConfig, type RemoteDeps } from '../remote.js';
import { SlurmError, type SlurmJobInfo, type SlurmRestClient } from './rest.js';

export interface SlurmExecutorConfig extends RemoteConfig {
  partition?: string;
  /** Extra minutes past the job's own limit before Slurm ends it: the worker's deadline comes first. */
  timeLimitSlackMinutes?: number;
}

/** Slurm's states that mean the machine failed, not the trainer. */
const INFRASTRUCTURE = new Set(['node_fail', 'preempted', 'out_of_memory']);

export class SlurmExecutor implements Executor {
  readonly kind = 'slurm';
  private client: Promise<SlurmRestClient> | null = null;

  constructor(
    private readonly connect: () => Promise<SlurmRestClient>,
    private readonly c: SlurmExecutorConfig,
    private readonly d: RemoteDeps,
  ) {}

  /** Connected on first use (the version probe needs slurmrestd up), again after a failure. */
  private rest(): Promise<SlurmRestClient> {
    this.client ??= this.connect().catch((err) => {
      this.client = null;
      throw err;
    });
    return this.client;
  }

  start(ctx: AttemptContext): RunningAttempt {
    const s = { slurmId: null as number | null, stopAsked: false, graceEnds: Infinity, wake: () => {} };
    const stop = (graceMs: number) => {
      s.stopAsked = true;
      s.graceEnds = Math.min(s.graceEnds, Date.now() + Math.max(0, graceMs));
      s.wake();
    };
    return { stop, done: this.run(ctx, s), cleanUp: async () => {} };
  }

  private async run(ctx: AttemptContext, s: { slurmId: number | null; stopAsked: boolean; graceEnds: number; wake: () => void }): Promise<AttemptOutcome> {
    const { job, fence, log } = ctx;
    const startedAt = Date.now();
    const { url, token } = attemptCredentials(this.d, this.c, job, fence);
    let rest: SlurmRestClient;
    try {
      rest = await this.rest();
      if (s.stopAsked) return { type: 'stopped' };
      const submitted = await rest.submit({
        name: `trainyard-${job.id}-a${job.attempt}`,
        script: `#!/bin/sh\n# Trainyard job ${job.id}, attempt ${job.attempt}\nexec ${launcherArgv(this.c, url).map(shellQuote).join(' ')}\n`,
        workingDirectory: this.c.workDir,
        environment: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: this.c.workDir, TRAINYARD_ATTEMPT_TOKEN: token },
        gpus: job.gpus,
        timeLimitMinutes: Math.ceil(job.max_runtime_seconds / 60) + (this.c.timeLimitSlackMinutes ?? 2),
        stdout: `${this.c.workDir}/trainyard-${job.id}-a${job.attempt}-%j.out`,
        ...(this.c.partition ? { partition: this.c.partition } : {}),
      });
      s.slurmId = submitted.jobId;
    } catch (err) {
      if (s.stopAsked) return { type: 'stopped' };
      if (err instanceof SlurmError && err.code !== 'SLURM_UNAVAILABLE') {
        return { type: 'failed', error: { code: JOB_ERROR_CODES.TRAINER_UNAVAILABLE, message: `Slurm refused the job: ${err.message}` } };
      }
      return { type: 'infrastructure', message: `Slurm could not be reached: ${(err as Error).message}` };
    }
    const id = s.slurmId;
    log.info({ slurm_job: id }, 'submitted to Slurm');
    let info: SlurmJobInfo | null = null;
    let seen: SlurmJobInfo | null = null;
    let signalled = false;
    let cancelled = false;
    // True when Slurm took the request or refused it for good (a job that already ended): only
    // an unreachable slurmrestd leaves it to be asked again.
    const askOnce = (call: () => Promise<void>, what: string): Promise<boolean> =>
      call().then(
        () => true,
        (err: unknown) => {
          log.warn({ err, slurm_job: id }, `${what} the Slurm job failed`);
          return err instanceof SlurmError && err.code !== 'SLURM_UNAVAILABLE';
        },
      );
    for (;;) {
      const now = Date.now();
      // A stop: SIGTERM to the launcher (which passes it to the trainer), then scancel after the
      // grace. Each is asked again on the next round when Slurm could not be reached, and apart
      // from the poll, so a refusal (a job that already ended) never keeps the poll from running.
      if (s.stopAsked && !signalled && s.graceEnds > now) signalled = await askOnce(() => rest.signal(id, 'SIGTERM'), 'signalling');
      if (s.stopAsked && !cancelled && s.graceEnds <= now) cancelled = await askOnce(() => rest.cancel(id), 'cancelling');
      let polled: SlurmJobInfo | null | undefined;
      try {
        polled = await rest.job(id);
      } catch (err) {
        log.warn({ err, slurm_job: id }, 'reading the Slurm job failed; trying again');
      }
      // Slurm answered that it no longer knows the job: it ended and was purged (MinJobAge) before
      // a poll saw it end, seen before or not (slurmrestd may have been unreachable all along).
      if (polled === null) info = { ...(seen ?? goneUnseen(id)), status: 'unknown', final: true };
      else if (polled) info = polled;
      seen = info ?? seen;
      if (info?.final) break;
      if (info && info.restarts > 0) {
        // Requeued by Slurm itself (JobRequeue=1) after a node failure: Trainyard retries, one attempt at a time.
        await rest.cancel(id).catch(() => {});
        return { type: 'infrastructure', message: `Slurm job ${id} lost its node and was requeued by Slurm (${info.reason ?? 'no reason given'})` };
      }
      await Promise.race([sleep(Math.min(this.c.pollMs, Math.max(10, s.graceEnds - Date.now()))), new Promise<void>((r) => (s.wake = r))]);
    }
    const reported = await reportedOutcome(this.d, fence, startedAt, s.stopAsked);
    if (reported) return reported;
    const how = `Slurm job ${id} ended ${info.status.toUpperCase()}${info.reason && info.reason !== 'None' ? ` (${info.reason})` : ''} without a report from the launcher`;
    // JobLaunchFailure: the node could not start the batch script (slurmstepd failed) — the machine's fault too.
    if (INFRASTRUCTURE.has(info.status) || info.reason === 'JobLaunchFailure') return { type: 'infrastructure', message: how };
    if (info.status === 'cancelled') return s.stopAsked ? { type: 'stopped' } : { type: 'infrastructure', message: `${how}; cancelled outside Trainyard` };
    if (info.status === 'timeout') return { type: 'failed', error: { code: JOB_ERROR_CODES.TIMEOUT, message: how } };
    const output = `trainyard-${job.id}-a${job.attempt}-${id}.out`;
    return { type: 'failed', error: { code: JOB_ERROR_CODES.TRAINER_FAILED, message: `${how}; its output is in ${output} in EXECUTOR_WORK_DIR on the node` } };
  }

  async close(): Promise<void> {}
}

/** What is known of a job Slurm purged before any poll saw it: its id. */
function goneUnseen(id: number): SlurmJobInfo {
  return {
    jobId: id,
    state: 'UNKNOWN',
    stateFlags: [],
    reason: 'None',
    exitCode: null,
    signal: null,
    nodes: null,
    restarts: 0,
    status: 'unknown',
    final: true,
    raw: {},
  };
}
