import path from 'node:path';
import type { Db } from '../db/db.js';
import type { NewEvent } from '../domain/jobs/events.js';
import type { JobLifecycle } from '../domain/jobs/lifecycle/index.js';
import type { Fence } from '../domain/jobs/types.js';
import type { BlobStore } from '../storage/blob-store.js';
import { FlowGate } from '../executors/flow-gate.js';
import type { Flow } from '../executors/local.js';
import type { OutputLine, TrainerEvent } from '../trainers/protocol.js';
import { DEFAULT_EVENT_CAPS, EventConverter, etaSeconds, jobProgress, progressEvent } from '../domain/jobs/trainer-events.js';
import { openJobFile } from './job-file.js';
import { uploadSample } from './samples.js';

const MIN_GAP_MS = 25;

export interface SinkOptions {
  /** Fallback flush interval (ms); writes normally start as soon as events arrive. */
  flushMs?: number;
  maxBatch?: number;
  /** Log lines kept per attempt; the rest are counted and reported once. */
  maxLogLines?: number;
  maxLogChars?: number;
  /** Metrics events kept per attempt; the rest are counted and reported once. */
  maxMetrics?: number;
}

/**
 * Turns a trainer's event stream into database writes without letting a chatty trainer drive
 * the database: events are batched (one fenced transaction per write, and only one write in
 * flight), consecutive progress events are coalesced to the latest, and log volume is capped. A flush that finds the claim
 * gone reports `lost` so the worker stops the trainer.
 */
export class EventSink implements Flow {
  private buffer: NewEvent[] = [];
  private progress: Extract<TrainerEvent, { type: 'progress' }> | null = null;
  private firstProgress: { at: number; step: number } | null = null;
  /** The caps and their counters (shared with the attempts API: src/domain/jobs/trainer-events.ts). */
  private readonly convert: EventConverter;
  private readonly gate = new FlowGate(() => !this.closed && !this.lost && this.buffer.length >= this.o.maxBatch);
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private writing = false;
  private again = false;
  private lastWriteAt = 0;
  private gapTimer: NodeJS.Timeout | null = null;
  private samples = 0;
  readonly artifacts: Array<{ name: string; path: string; format: string }> = [];
  result: { metrics: Record<string, number>; details?: Record<string, unknown> } | null = null;
  lost = false;
  private readonly o: Required<SinkOptions>;

  constructor(
    private readonly db: Db,
    private readonly lifecycle: JobLifecycle,
    private readonly store: BlobStore,
    private readonly fence: Fence,
    private readonly ctx: { ownerId: string; outputDir: string; checkpointDir: string; onLost: () => void; onError: (m: string, e: unknown) => void },
    options: SinkOptions = {},
  ) {
    this.o = { flushMs: 200, maxBatch: 500, ...DEFAULT_EVENT_CAPS, ...options };
    this.convert = new EventConverter({ maxLogLines: this.o.maxLogLines, maxLogChars: this.o.maxLogChars, maxMetrics: this.o.maxMetrics });
    this.timer = setInterval(() => this.flush(), this.o.flushMs);
    this.timer.unref();
  }

  private log(level: string, message: string, stream?: string) {
    const e = this.convert.log(level, message, stream);
    if (e) this.buffer.push(e);
  }

  push(e: TrainerEvent | OutputLine): void {
    if (this.closed) return;
    switch (e.type) {
      case 'progress':
        this.progress = e;
        this.firstProgress ??= { at: Date.now(), step: e.step };
        return; // written at flush time, latest only
      case 'checkpoint':
        this.chain = this.chain.then(() => this.saveCheckpoint(e.step, e.path));
        this.buffer.push({ type: 'checkpoint', data: { step: e.step } });
        break;
      case 'sample':
        // Everything announced before the sample is written first, so the stream keeps its order.
        void this.flush();
        this.chain = this.chain.then(() => this.saveSample(e));
        return;
      default: {
        if (e.type === 'artifact') this.artifacts.push({ name: e.name, path: e.path, format: e.format });
        if (e.type === 'result') this.result = { metrics: e.metrics, ...(e.details ? { details: e.details } : {}) };
        const event = this.convert.convert(e);
        if (!event) return; // dropped by a cap: nothing to write
        this.buffer.push(event);
      }
    }
    this.kick();
  }

  /**
   * Writes as soon as events arrive when no write is in flight, and batches whatever arrives
   * during a write into the next one: latency stays at one write (~20 ms) while the number of
   * writes is bounded by the database's speed and MIN_GAP_MS, not the trainer's event rate.
   * A fixed 200 ms timer (the first design) put p99 SSE delivery at 215 ms; writing on
   * arrival measured ~37 ms (bench/README.md).
   */
  private kick(): void {
    if (this.writing || this.gapTimer) {
      this.again = true;
      return;
    }
    // At least MIN_GAP_MS between one job's writes: a trainer emitting 10,000 events/s would
    // otherwise cause ~10× more transactions for no visible gain (bench/README.md).
    const wait = this.lastWriteAt + MIN_GAP_MS - Date.now();
    if (wait > 0) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        this.kick();
      }, wait);
      return;
    }
    this.writing = true;
    this.lastWriteAt = Date.now();
    this.flush().finally(() => {
      this.writing = false;
      if (this.again && !this.closed) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Flow: the executor stops reading the trainer's pipes while a full batch waits for the database. */
  busy(): boolean {
    return this.gate.busy();
  }

  drained(): Promise<void> {
    return this.gate.drained();
  }

  private wake(): void {
    this.gate.wake();
  }

  /**
   * Uploads the checkpoint file so a retry on any worker can resume from it. A checkpoint that
   * cannot be stored (the store or the database failing, the file gone meanwhile) is reported in
   * the job's log and the run goes on: the previous checkpoint stays the one a retry resumes from.
   * It never rejects: this runs on the sink's write chain, which every later flush waits on.
   */
  private async saveCheckpoint(step: number, p: string) {
    try {
      const found = await openJobFile(this.ctx.checkpointDir, p, [this.ctx.checkpointDir, this.ctx.outputDir]);
      if (!found) {
        this.log('warn', `checkpoint ${p} is not a file inside the job's folders; only file checkpoints there can be resumed on another worker`);
        return;
      }
      // Named as the trainer named it (a `latest` link keeps its name), read where it really is.
      const name = path.basename(path.resolve(this.ctx.checkpointDir, p)).replace(/[^A-Za-z0-9._-]/g, '_');
      const key = `checkpoints/${this.ctx.ownerId}/${this.fence.jobId}/${name}`;
      try {
        await this.store.put(key, found.handle.createReadStream());
      } finally {
        // The stream closes it when read to the end; a store that failed first may never read it.
        await found.handle.close().catch(() => {});
      }
      if (!(await this.lifecycle.saveCheckpoint(this.db, this.fence, { step, key, name }))) this.markLost();
    } catch (err) {
      this.log('warn', `checkpoint ${p} at step ${step} was not saved: ${(err as Error).message}`);
      this.ctx.onError(`job ${this.fence.jobId}: saving a checkpoint failed`, err);
    }
  }

  /** Stores a sample image and records it (event, webhook, the job's preview); a bad one is only logged. */
  private async saveSample(e: Extract<TrainerEvent, { type: 'sample' }>) {
    if (this.lost) return;
    let sample;
    try {
      const ctx = { ...this.ctx, jobId: this.fence.jobId, attempt: this.fence.attempt };
      sample = await uploadSample(this.store, ctx, e, ++this.samples);
    } catch (err) {
      this.log('warn', `sample ignored: ${(err as Error).message}`);
      this.kick();
      return;
    }
    try {
      if (!(await this.db.transaction((tx) => this.lifecycle.recordSample(tx, this.fence, sample)))) this.markLost();
    } catch (err) {
      this.ctx.onError(`job ${this.fence.jobId}: recording a sample failed`, err);
    }
  }

  private markLost() {
    if (this.lost) return;
    this.lost = true;
    this.wake();
    this.ctx.onLost();
  }

  private take(): { events: NewEvent[]; progress: Extract<TrainerEvent, { type: 'progress' }> | null } {
    const events = this.buffer;
    this.buffer = [];
    const progress = this.progress;
    this.progress = null;
    if (progress) events.push(progressEvent(progress));
    return { events, progress };
  }

  /** Queues a write of everything buffered; writes never overlap and keep their order. */
  flush(): Promise<void> {
    const { events, progress } = this.take();
    if (events.length === 0 || this.lost) {
      this.wake();
      return this.chain;
    }
    // The reader resumes once this write is done, not when it is queued: at most a batch
    // being written and one being gathered are held.
    const written = this.chain.then(async () => {
      if (this.lost) return;
      try {
        const ok = await this.db.transaction((tx) =>
          this.lifecycle.record(tx, this.fence, events, progress && jobProgress(progress, etaSeconds(this.firstProgress, progress))),
        );
        if (!ok) this.markLost();
      } catch (err) {
        this.ctx.onError(`job ${this.fence.jobId}: writing events failed`, err);
      }
    });
    this.chain = written.then(() => this.wake());
    return this.chain;
  }

  /** Final flush; reports dropped log lines once. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    this.buffer.push(...this.convert.closingNotices());
    await this.flush();
    this.closed = true;
    this.wake();
    await this.chain;
  }
}
