import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { CHANNELS } from '../db/channels.js';
import type { Unlisten } from '../db/db.js';
import { wantsOptionalGpu } from '../domain/catalog/gpu.js';
import type { JobRow } from '../domain/jobs/types.js';
import { newId } from '../ids.js';
import type { Executor } from '../executors/executor.js';
import { LocalExecutor } from '../executors/local-executor.js';
import { JobRun, type RunContext } from './run-job.js';

export interface WorkerOptions {
  concurrency: number;
  gpus: number[];
  labels: string[];
  pollMs: number;
  maxRunningPerUser: number;
  /** How often this worker also reaps expired leases (any worker may). */
  reapMs?: number;
}

/**
 * A worker claims jobs while it has free slots, runs each as a JobRun, and wakes on NOTIFY
 * (a new job, a cancel) with polling as the fallback. Several workers — in the API process or
 * as `trainyard worker` on other machines — share one database and never run a job twice.
 */
export class Worker {
  readonly id: string;
  private readonly running = new Map<string, { run: JobRun; done: Promise<void> }>();
  private readonly freeGpus: Set<number>;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** A poke that came while the loop was busy claiming: it must not sleep through it. */
  private poked = false;
  private loopDone: Promise<void> | null = null;
  private unlisten: Unlisten[] = [];
  private reapTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private readonly executor: Executor;

  constructor(
    private readonly ctx: Omit<RunContext, 'workerId'>,
    private readonly o: WorkerOptions,
  ) {
    this.id = newId(
      `wkr_${
        hostname()
          .replace(/[^a-z0-9]/gi, '')
          .slice(0, 20)
          .toLowerCase() || 'host'
      }`,
      8,
    );
    this.freeGpus = new Set(o.gpus);
    this.log = ctx.log.child({ worker: this.id });
    this.executor = ctx.executor ?? new LocalExecutor(ctx);
  }

  get activeJobs(): string[] {
    return [...this.running.keys()];
  }

  async start(): Promise<void> {
    this.unlisten.push(await this.ctx.db.listen(CHANNELS.jobs, () => this.poke()));
    this.unlisten.push(
      await this.ctx.db.listen(CHANNELS.jobCancel, (jobId) => {
        this.running.get(jobId)?.run.requestStop('cancel');
      }),
    );
    this.reapTimer = setInterval(
      () => {
        this.ctx.db.transaction((tx) => this.ctx.lifecycle.reapExpired(tx)).catch((err) => this.log.warn({ err }, 'reaper failed'));
      },
      this.o.reapMs ?? Math.max(200, (this.ctx.leaseSeconds * 1000) / 2),
    );
    this.reapTimer.unref();
    this.loopDone = this.loop();
    this.log.info({ concurrency: this.o.concurrency, gpus: this.o.gpus, labels: this.o.labels }, 'worker started');
  }

  private poke() {
    this.poked = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let claimed = false;
      this.poked = false;
      if (this.running.size < this.o.concurrency) {
        try {
          const w = {
            workerId: this.id,
            freeGpus: this.freeGpus.size,
            labels: this.o.labels,
            leaseSeconds: this.ctx.leaseSeconds,
            maxRunningPerUser: this.o.maxRunningPerUser,
          };
          const job = await this.ctx.db.transaction((tx) => this.ctx.lifecycle.claim(tx, w));
          if (job) {
            claimed = true;
            this.launch(job);
          }
        } catch (err) {
          this.log.warn({ err }, 'claim failed');
        }
      }
      if (claimed || this.stopping) continue;
      if (this.poked) {
        // A NOTIFY arrived during the claim: its job may have missed that claim's snapshot.
        this.poked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private launch(job: JobRow) {
    // A trainer that can use a GPU but does not need one (gpu_optional, queued with gpus 0) gets
    // one when this worker has one free and the job's hyperparameters train on it (gpu_when),
    // and runs on CPU otherwise.
    const trainer = this.ctx.catalog.listTrainers().find((t) => t.id === job.trainer);
    const optional = trainer ? wantsOptionalGpu(trainer, job.hyperparameters) : false;
    const gpus = [...this.freeGpus].slice(0, job.gpus || (optional ? 1 : 0));
    for (const g of gpus) this.freeGpus.delete(g);
    // The GPUs come back as soon as the trainer is gone, before its artifacts are stored and the
    // job concluded (minutes for a large model on a slow store): a free slot can meanwhile start
    // the next GPU job. The slot itself is held until the run ends.
    let held = gpus;
    const releaseGpus = () => {
      if (!held.length) return;
      for (const g of held) this.freeGpus.add(g);
      held = [];
      this.poke();
    };
    const run = new JobRun({ ...this.ctx, workerId: this.id, executor: this.executor }, job, gpus, releaseGpus);
    this.log.info({ job: job.id, attempt: job.attempt, trainer: job.trainer, gpus }, 'job claimed');
    const done = run.run().finally(() => {
      this.running.delete(job.id);
      releaseGpus();
      this.poke();
    });
    this.running.set(job.id, { run, done });
  }

  /**
   * Stops claiming, lets running jobs finish for up to `drainMs`, then stops their trainers
   * (SIGTERM, grace, SIGKILL) and hands them back to the queue without charge.
   */
  async stop(drainMs = 0): Promise<void> {
    if (this.stopping) return this.loopDone ?? undefined;
    this.stopping = true;
    this.poke();
    await this.loopDone;
    if (this.reapTimer) clearInterval(this.reapTimer);
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    if (this.running.size > 0 && drainMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all(), new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
      clearTimeout(timer);
    }
    for (const r of this.running.values()) r.run.requestStop('drain');
    await all();
    // Tracker logging in flight ends (each request has a timeout) before the worker does.
    await this.ctx.tracking?.drain();
    // What the executor holds (the local one's warm spares) goes with the worker: no trainer process outlives its stop.
    await this.executor.close();
    for (const u of this.unlisten) await u().catch(() => {});
    this.unlisten = [];
    this.log.info('worker stopped');
  }
}
