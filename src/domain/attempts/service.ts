/**
 * The API side of a remote attempt (issue #16): a launcher on a Kubernetes or Slurm node, with
 * no database access and no secrets but its attempt token, streams the trainer's events here,
 * asks for upload URLs, and reports the end. Every write is fenced by the claim the token
 * names, exactly as the worker's own writes are: once the claim is gone (reaped, taken over,
 * concluded) a launcher can change nothing. The worker keeps the lease and concludes the job;
 * it reads the launcher's report with readAttemptReport.
 */
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../../db/db.js';
import { ConflictError, ValidationError } from '../../errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { parseEvent } from '../../trainers/protocol.js';
import type { NewEvent } from '../jobs/events.js';
import type { JobLifecycle } from '../jobs/lifecycle/index.js';
import { MAX_SAMPLE_BYTES, sniffSampleImage, type NewSample } from '../jobs/samples.js';
import { JOB_STATES } from '../jobs/states.js';
import {
  DEFAULT_EVENT_CAPS,
  EventConverter,
  etaSeconds,
  jobProgress,
  progressEvent,
  type CapCounters,
  type EventCaps,
  type PlainEvent,
  type ProgressEvent,
} from '../jobs/trainer-events.js';
import type { Fence } from '../jobs/types.js';
import { attemptKey, attemptPrefix, parseAttemptKey, UPLOAD_NAME, type AttemptScope } from './keys.js';
import * as q from './queries.js';
import type { FinishReport, UploadRequest } from './schema.js';

type LauncherEvent =
  PlainEvent | ProgressEvent | { type: 'checkpoint'; step: number; key: string; name: string } | { type: 'sample'; step: number; prompt: string; key: string };

export interface AttemptsDeps {
  db: Db;
  store: BlobStore;
  lifecycle: Pick<JobLifecycle, 'record' | 'saveCheckpoint' | 'recordSample'>;
  maxArtifactBytes: number;
  signedUrlTtlSeconds: number;
  caps?: EventCaps;
}

const fenced = () => new ConflictError('ATTEMPT_FENCED', 'this attempt no longer holds the job (reaped, taken over or concluded): stop the trainer');
const countersOf = (r: q.AttemptRow): CapCounters => ({
  logLines: r.log_lines,
  droppedLogs: r.dropped_logs,
  metricsKept: r.metrics_kept,
  droppedMetrics: r.dropped_metrics,
});
const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** One event of a batch, as the protocol's parser accepts it; 400 EVENT_INVALID naming its index otherwise. */
export function parseLauncherEvent(o: Record<string, unknown>, index: number): LauncherEvent {
  const bad = (why: string) => new ValidationError('EVENT_INVALID', `events[${index}]: ${why}`, { index });
  switch (o.type) {
    case 'stdout':
    case 'stderr':
      if (typeof o.line !== 'string') throw bad('an output line needs a string `line`');
      return { type: o.type, line: o.line };
    case 'checkpoint':
      // A remote checkpoint names the object it uploaded, not a path on the launcher's disk.
      if (!num(o.step) || o.step < 0 || typeof o.key !== 'string' || typeof o.name !== 'string' || !UPLOAD_NAME.test(o.name))
        throw bad('a checkpoint is {type, step, key, name} with the key /uploads gave');
      return { type: 'checkpoint', step: o.step, key: o.key, name: o.name };
    case 'sample':
      if (!num(o.step) || o.step < 0 || typeof o.prompt !== 'string' || o.prompt.length === 0 || o.prompt.length > 2000 || typeof o.key !== 'string')
        throw bad('a sample is {type, step, prompt, key} with the key /uploads gave');
      return { type: 'sample', step: Math.floor(o.step), prompt: o.prompt, key: o.key };
    default: {
      const e = parseEvent(JSON.stringify(o));
      if (!e || e.type === 'checkpoint' || e.type === 'sample') throw bad(`not a valid "${String(o.type).slice(0, 40)}" event of the trainer protocol`);
      return e;
    }
  }
}

export class AttemptsService {
  private readonly caps: EventCaps;

  constructor(private readonly d: AttemptsDeps) {
    this.caps = d.caps ?? DEFAULT_EVENT_CAPS;
  }

  private async claim(db: Queryable, f: Fence): Promise<q.ClaimedJob> {
    const job = await q.claimedJob(db, f);
    if (!job) throw fenced();
    return job;
  }

  /**
   * Applies a batch exactly once. Events before the attempt's next_seq were applied by an
   * earlier post of the same batch (a retry after a lost reply) and are skipped; a batch that
   * starts past next_seq would leave a hole: 409 EVENT_SEQ_GAP. The rest, the fenced writes and
   * the new next_seq commit together, under the attempt row's lock.
   */
  async ingest(f: Fence, seq: number, raw: Array<Record<string, unknown>>): Promise<{ next_seq: number; cancel_requested: boolean }> {
    const events = raw.map((o, i) => parseLauncherEvent(o, i));
    const job = await this.claim(this.d.db, f);
    const scope = { ownerId: job.owner_id, jobId: f.jobId, attempt: f.attempt };
    // The uploaded objects are checked before the transaction (store I/O holds no row lock),
    // only for events not yet applied: next_seq only grows, so that set can only shrink.
    const from = Math.max(0, (await q.peekNextSeq(this.d.db, f)) - seq);
    const checked = new Map<number, NewSample | null>();
    for (let i = from; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === 'checkpoint') await this.checkCheckpoint(scope, e, i);
      else if (e.type === 'sample') checked.set(i, await this.checkSample(scope, e, i));
    }
    return this.d.db.transaction(async (tx) => {
      const live = await this.claim(tx, f);
      const row = await q.lockAttempt(tx, f);
      if (seq > row.next_seq)
        throw new ConflictError('EVENT_SEQ_GAP', `this batch starts at event ${seq}, but the next event expected is ${row.next_seq}`, {
          next_seq: row.next_seq,
        });
      const cancel_requested = live.status === JOB_STATES.CANCEL_REQUESTED;
      const skip = row.next_seq - seq;
      if (skip >= events.length) return { next_seq: row.next_seq, cancel_requested };
      const convert = new EventConverter(this.caps, countersOf(row));
      let first = row.first_progress_at ? { at: row.first_progress_at.getTime(), step: Number(row.first_progress_step) } : null;
      let progress: ProgressEvent | null = null;
      let pending: NewEvent[] = [];
      const write = async (p: ProgressEvent | null) => {
        if (pending.length === 0) return;
        if (!(await this.d.lifecycle.record(tx, f, pending, p && jobProgress(p, etaSeconds(first, p))))) throw fenced();
        pending = [];
      };
      for (let i = skip; i < events.length; i++) {
        const e = events[i]!;
        switch (e.type) {
          case 'progress':
            progress = e; // coalesced: the batch's latest is written at the end
            first ??= { at: Date.now(), step: e.step };
            break;
          case 'checkpoint':
            if (!(await this.d.lifecycle.saveCheckpoint(tx, f, { step: e.step, key: e.key, name: e.name }))) throw fenced();
            pending.push({ type: 'checkpoint', data: { step: e.step } });
            break;
          case 'sample': {
            const sample = checked.get(i);
            // Not checked before the transaction: another post applied it meanwhile, which next_seq rules out here.
            if (!sample) throw new Error(`sample event ${seq + i} was not checked`);
            await write(null); // what came before the sample is written first, as EventSink keeps the order
            if (!(await this.d.lifecycle.recordSample(tx, f, sample))) throw fenced();
            break;
          }
          default: {
            const event = convert.convert(e);
            if (event) pending.push(event);
          }
        }
      }
      if (progress) pending.push(progressEvent(progress));
      await write(progress);
      const next = seq + events.length;
      await q.saveIngest(tx, f, next, convert.counters, first);
      return { next_seq: next, cancel_requested };
    });
  }

  private async stat(key: string, max: number, index: number) {
    const s = await this.d.store.stat(key);
    if (!s) throw new ValidationError('UPLOAD_MISSING', `events[${index}]: nothing was uploaded to ${key}`, { index, key });
    if (s.bytes > max) throw new ValidationError('UPLOAD_TOO_LARGE', `events[${index}]: ${key} is larger than ${max} bytes`, { index, key });
    return s;
  }

  /** A checkpoint names the key /uploads handed out for it, for this attempt, and the object is there. */
  private async checkCheckpoint(s: AttemptScope, e: { key: string; name: string }, index: number): Promise<void> {
    if (e.key !== attemptKey('checkpoint', s, e.name))
      throw new ValidationError('CHECKPOINT_KEY_INVALID', `events[${index}]: a checkpoint's key is the one /uploads gave for its name in this attempt`, {
        index,
      });
    await this.stat(e.key, this.d.maxArtifactBytes, index);
  }

  /** A sample names an object of this attempt that is an image (as the worker checks its own): sniffed and hashed from the store. */
  private async checkSample(s: AttemptScope, e: { step: number; prompt: string; key: string }, index: number): Promise<NewSample> {
    const parsed = parseAttemptKey(e.key);
    if (!parsed || parsed.kind !== 'sample' || e.key !== attemptKey('sample', s, parsed.name))
      throw new ValidationError('SAMPLE_KEY_INVALID', `events[${index}]: a sample's key is one /uploads gave for this attempt`, { index });
    const st = await this.stat(e.key, MAX_SAMPLE_BYTES, index);
    const kind = sniffSampleImage(await this.d.store.head(e.key, 12));
    if (!kind) throw new ValidationError('SAMPLE_INVALID', `events[${index}]: a sample is a PNG, JPEG or WebP image`, { index });
    const hash = createHash('sha256');
    for await (const chunk of await this.d.store.get(e.key)) hash.update(chunk as Buffer);
    return { step: e.step, prompt: e.prompt, storage_key: e.key, format: kind.format, bytes: st.bytes, sha256: hash.digest('hex') };
  }

  /** A pre-signed PUT for one of this attempt's objects (S3: exactly `bytes` bytes; the filesystem store: at most). */
  async upload(f: Fence, r: UploadRequest, baseUrl: string): Promise<{ key: string; url: string; method: 'PUT'; expires_at: string }> {
    const max = r.kind === 'sample' ? MAX_SAMPLE_BYTES : this.d.maxArtifactBytes;
    if (r.bytes > max) throw new ValidationError('UPLOAD_TOO_LARGE', `a ${r.kind} is at most ${max} bytes`, { max_bytes: max });
    if (!UPLOAD_NAME.test(r.name)) throw new ValidationError('UPLOAD_NAME_INVALID', 'a name is one plain file name: letters, digits, _ . -');
    const job = await this.claim(this.d.db, f);
    const key = attemptKey(r.kind, { ownerId: job.owner_id, jobId: f.jobId, attempt: f.attempt }, r.name);
    const signed = await this.d.store.signedUrl(key, { method: 'PUT', expiresInSeconds: this.d.signedUrlTtlSeconds, maxBytes: r.bytes, baseUrl });
    return { key, url: signed.url, method: 'PUT', expires_at: signed.expiresAt.toISOString() };
  }

  /**
   * Stores the launcher's final report, once: the same report again is a success (a retry after
   * a lost reply), a different one 409 ATTEMPT_ALREADY_FINISHED. Only while the claim stands.
   * The caps' closing notices (how many lines were dropped) are written with it.
   */
  async finish(f: Fence, report: FinishReport): Promise<{ finished: true; reported_at: string }> {
    // A retry after the worker concluded the job finds its report, though the claim is gone.
    const earlier = await this.reported(this.d.db, f, report);
    if (earlier) return earlier;
    const job = await this.claim(this.d.db, f);
    const prefix = attemptPrefix('artifact', { ownerId: job.owner_id, jobId: f.jobId, attempt: f.attempt });
    const names = new Set<string>();
    for (const [i, a] of report.artifacts.entries()) {
      if (!a.key.startsWith(prefix) || parseAttemptKey(a.key)?.kind !== 'artifact')
        throw new ValidationError('ARTIFACT_KEY_INVALID', `artifacts[${i}]: the key is not one of this attempt's (${prefix}…)`, { index: i });
      if (names.has(a.name)) throw new ValidationError('ARTIFACT_INVALID', `artifacts[${i}]: the name "${a.name}" is repeated`, { index: i });
      names.add(a.name);
      if (!(await this.d.store.stat(a.key))) throw new ValidationError('ARTIFACT_MISSING', `artifacts[${i}]: nothing was uploaded to ${a.key}`, { index: i });
    }
    return this.d.db.transaction(async (tx) => {
      const row = await q.lockAttempt(tx, f);
      const raced = await this.reported(tx, f, report);
      if (raced) return raced;
      await this.claim(tx, f);
      const notices = new EventConverter(this.caps, countersOf(row)).closingNotices();
      if (notices.length > 0 && !(await this.d.lifecycle.record(tx, f, notices, null))) throw fenced();
      const at = await q.saveReport(tx, f, report);
      return { finished: true as const, reported_at: at.toISOString() };
    });
  }

  /** The stored report's answer when there is one: the same report is a success, another a conflict. */
  private async reported(db: Queryable, f: Fence, report: FinishReport): Promise<{ finished: true; reported_at: string } | null> {
    const r = await q.reportState(db, f, report);
    if (!r) return null;
    if (!r.same) throw new ConflictError('ATTEMPT_ALREADY_FINISHED', 'this attempt already reported a different end');
    return { finished: true, reported_at: r.reported_at.toISOString() };
  }

  /** The blob route's gate for a signed PUT of an attempt's key (src/app/routes/blobs.ts). */
  async assertUploadOpen(key: string): Promise<void> {
    const s = parseAttemptKey(key);
    if (!s || !(await q.attemptUploadOpen(this.d.db, s)))
      throw new ConflictError('UPLOAD_CLOSED', 'this attempt no longer holds its job, or has reported its end: its upload URLs take no more bytes');
  }
}

/** The launcher's final report for the worker's claim, or null while it has not reported. */
export function readAttemptReport(db: Queryable, f: Fence): Promise<FinishReport | null> {
  return q.reportOf(db, f) as Promise<FinishReport | null>;
}
