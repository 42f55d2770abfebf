import path from 'node:path';
import { FlowGate } from '../executors/flow-gate.js';
import type { Flow } from '../executors/local.js';
import type { OutputLine, TrainerEvent } from '../trainers/protocol.js';
import { jobFile } from '../worker/job-file.js';
import { AttemptApiError, type AttemptClient } from './client.js';

const MAX_BATCH = 500;
/** The API takes JSON bodies up to 1 MiB: a batch stops growing past this many bytes. */
const MAX_BATCH_BYTES = 512 * 1024;
/** Between two posts of one attempt, as the worker's EventSink does for database writes. */
const MIN_GAP_MS = 25;

export interface RemoteSinkContext {
  client: AttemptClient;
  outputDir: string;
  checkpointDir: string;
  /** The API refused a write as no longer this attempt's (ATTEMPT_FENCED): stop the trainer now. */
  onLost(): void;
  onCancel(): void;
  warn(message: string, err?: unknown): void;
}

type Wire = Record<string, unknown> & { type: string };

/**
 * The launcher's EventSink: the trainer's events go to the API in order, in batches, each event
 * numbered from 0 per attempt. An event stays here until the API acknowledged it (the reply's
 * next_seq), so a batch lost with a dropped connection is sent again and the API skips what it
 * already applied: nothing is lost or written twice. Checkpoint and sample files are uploaded
 * through signed URLs first, and their events name the stored key instead of a local path.
 */
export class RemoteSink implements Flow {
  /** Events not yet acknowledged; queue[0] has number `acked`. */
  private queue: Wire[] = [];
  private acked = 0;
  /** Files being uploaded, in order: an event behind them waits its turn. */
  private chain: Promise<void> = Promise.resolve();
  private sending: Promise<void> | null = null;
  private lastPostAt = 0;
  private readonly gate = new FlowGate(() => !this.lost && this.queue.length >= MAX_BATCH * 4);
  private samples = 0;
  lost = false;
  readonly artifacts: Array<{ name: string; path: string; format: string }> = [];
  result: { metrics: Record<string, number>; details?: Record<string, unknown> } | null = null;

  constructor(private readonly c: RemoteSinkContext) {}

  push(e: TrainerEvent | OutputLine): void {
    if (this.lost) return;
    if (e.type === 'artifact') this.artifacts.push({ name: e.name, path: e.path, format: e.format });
    if (e.type === 'result') this.result = { metrics: e.metrics, ...(e.details ? { details: e.details } : {}) };
    if (e.type === 'checkpoint')
      return this.after(() => this.uploaded('checkpoint', e.path, e.step, (key, name) => ({ type: 'checkpoint', step: e.step, key, name })));
    if (e.type === 'sample')
      return this.after(() =>
        this.uploaded('sample', e.path, e.step, (key) => ({ type: 'sample', step: e.step, prompt: e.prompt, key }), `sample-${++this.samples}`),
      );
    this.after(async () => this.enqueue(e as Wire));
  }

  private after(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err) => this.c.warn('event not sent', err));
  }

  private enqueue(w: Wire): void {
    this.queue.push(w);
    this.kick();
  }

  /** Uploads a file the trainer wrote inside its folders, then queues the event naming its key. */
  private async uploaded(kind: 'checkpoint' | 'sample', p: string, step: number, event: (key: string, name: string) => Wire, prefix?: string) {
    const dir = kind === 'checkpoint' ? this.c.checkpointDir : this.c.outputDir;
    // Symlinks are followed before the check, as the worker's sink does (src/worker/job-file.ts).
    const found = await jobFile(dir, p, [this.c.checkpointDir, this.c.outputDir]);
    if (!found) {
      this.enqueue({ type: 'log', level: 'warn', message: `${kind} ${p} at step ${step} is not a file in the job's folders; ignored` });
      return;
    }
    const base = path.basename(path.resolve(dir, p)).replace(/[^A-Za-z0-9._-]/g, '_');
    const name = prefix ? `${prefix}${path.extname(base)}` : base;
    const target = await this.c.client.uploadTarget(kind, name, found.bytes);
    await this.c.client.put(target, found.file);
    this.enqueue(event(target.key, name));
  }

  private kick(): void {
    if (this.sending || this.lost) return;
    this.sending = this.sendAll().finally(() => {
      this.sending = null;
      this.wake();
      if (this.queue.length > 0 && !this.lost) this.kick();
    });
  }

  private async sendAll(): Promise<void> {
    while (this.queue.length > 0 && !this.lost) {
      const wait = this.lastPostAt + MIN_GAP_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.lastPostAt = Date.now();
      const batch: Wire[] = [];
      let bytes = 0;
      for (const w of this.queue) {
        const size = JSON.stringify(w).length;
        if (batch.length > 0 && (batch.length >= MAX_BATCH || bytes + size > MAX_BATCH_BYTES)) break;
        batch.push(w);
        bytes += size;
      }
      let reply;
      try {
        reply = await this.c.client.events(this.acked, batch);
      } catch (err) {
        // Fenced: the claim is gone. Anything else outlived the client's retries or is a refusal
        // no resend can fix: an attempt that cannot report must not go on training unseen.
        if (!(err instanceof AttemptApiError && err.code === 'ATTEMPT_FENCED')) this.c.warn('the API took no events; stopping the trainer', err);
        return this.markLost();
      }
      const done = Math.max(0, Math.min(reply.next_seq - this.acked, this.queue.length));
      this.queue.splice(0, done);
      this.acked += done;
      this.wake();
      if (reply.cancel_requested) this.c.onCancel();
    }
  }

  private markLost(): void {
    this.lost = true;
    this.queue = [];
    this.wake();
    this.c.onLost();
  }

  busy(): boolean {
    return this.gate.busy();
  }

  drained(): Promise<void> {
    return this.gate.drained();
  }

  private wake(): void {
    this.gate.wake();
  }

  /** Sends everything still pending (uploads first); resolves once the API acknowledged it all. */
  async close(): Promise<void> {
    await this.chain;
    while (!this.lost && (this.queue.length > 0 || this.sending)) {
      this.kick();
      await this.sending;
    }
  }
}
