/**
 * How a trainer's output becomes job events: the one conversion both ingest paths share, the
 * worker's EventSink (a local child's stdout) and the attempts API (a remote launcher's
 * batches, src/domain/attempts). Pure: the caps' counters are state the caller keeps — in
 * memory for the sink, in the attempt's row for the API, so a cap holds across batches and
 * API replicas.
 */
import { storable, type OutputLine, type TrainerEvent } from '../../trainers/protocol.js';
import type { NewEvent } from './events.js';
import type { Progress } from './lifecycle/sql.js';

export interface EventCaps {
  /** Log lines kept per attempt; the rest are counted and reported once. */
  maxLogLines: number;
  maxLogChars: number;
  /** Metrics events kept per attempt; the rest are counted and reported once. */
  maxMetrics: number;
}

export const DEFAULT_EVENT_CAPS: EventCaps = { maxLogLines: 10_000, maxLogChars: 4000, maxMetrics: 100_000 };

export interface CapCounters {
  logLines: number;
  droppedLogs: number;
  metricsKept: number;
  droppedMetrics: number;
}

export const zeroCounters = (): CapCounters => ({ logLines: 0, droppedLogs: 0, metricsKept: 0, droppedMetrics: 0 });

/** The events that become plain job events, one for one (progress, checkpoints and samples need more). */
export type PlainEvent = OutputLine | Extract<TrainerEvent, { type: 'log' | 'metrics' | 'artifact' | 'result' }>;

/**
 * Applies the caps to one attempt's events. `counters` is updated in place: the caller reads
 * it back to persist it.
 */
export class EventConverter {
  constructor(
    readonly caps: EventCaps,
    readonly counters: CapCounters = zeroCounters(),
  ) {}

  /** A log line, capped and cut to length; the first dropped line yields the notice instead (once). */
  log(level: string, message: string, stream?: string): NewEvent | null {
    const c = this.counters;
    if (c.logLines >= this.caps.maxLogLines) {
      // Told at once, so a user watching the logs knows the silence is ours; counted at the end.
      if (c.droppedLogs++ === 0)
        return { type: 'log', data: { level: 'warn', message: `log limit reached (${this.caps.maxLogLines} lines per attempt): further lines are dropped` } };
      return null;
    }
    c.logLines++;
    const max = this.caps.maxLogChars;
    // Never between the two halves of a pair (an emoji): a lone half is text Postgres refuses.
    const cut = max > 0 && /[\uD800-\uDBFF]/.test(message.charAt(max - 1)) ? max - 1 : max;
    const msg = storable(message.length > max ? `${message.slice(0, cut)}…[${message.length - cut} more characters]` : message);
    return { type: 'log', data: { level, message: msg, ...(stream ? { stream } : {}) } };
  }

  /** The job event for `e`, or null when a cap dropped it. */
  convert(e: PlainEvent): NewEvent | null {
    switch (e.type) {
      case 'stdout':
      case 'stderr':
        return this.log(e.type === 'stderr' ? 'warn' : 'info', e.line, e.type);
      case 'log':
        return this.log(e.level, e.message);
      case 'artifact':
        return { type: 'artifact', data: { name: e.name, format: e.format } };
      case 'result':
        return { type: 'result', data: { metrics: e.metrics } };
      case 'metrics':
        if (this.counters.metricsKept >= this.caps.maxMetrics) {
          this.counters.droppedMetrics++;
          return null;
        }
        this.counters.metricsKept++;
        return { type: 'metrics', data: { step: e.step, ...(e.epoch !== undefined ? { epoch: e.epoch } : {}), values: e.values } };
    }
  }

  /** What the end of an attempt reports about the caps: how much was dropped (not itself capped). */
  closingNotices(): NewEvent[] {
    const { droppedLogs, droppedMetrics } = this.counters;
    const out: NewEvent[] = [];
    const notice = (message: string): NewEvent => ({ type: 'log', data: { level: 'warn', message } });
    if (droppedLogs > 0) out.push(notice(`${droppedLogs} log lines were dropped (limit ${this.caps.maxLogLines} per attempt)`));
    if (droppedMetrics > 0) out.push(notice(`${droppedMetrics} metrics events were dropped (limit ${this.caps.maxMetrics} per attempt)`));
    return out;
  }
}

export type ProgressEvent = Extract<TrainerEvent, { type: 'progress' }>;

/** The progress event as stored (the latest of a batch; earlier ones are coalesced away). */
export function progressEvent(p: ProgressEvent): NewEvent {
  const { type: _type, ...data } = p;
  return { type: 'progress', data };
}

/** Seconds left at the rate seen since the attempt's first progress event; null before there is a rate. */
export function etaSeconds(first: { at: number; step: number } | null, p: { step: number; total_steps: number }, now = Date.now()): number | null {
  if (!first || p.step <= first.step) return null;
  const rate = (p.step - first.step) / ((now - first.at) / 1000);
  return rate > 0 ? Math.max(0, (p.total_steps - p.step) / rate) : null;
}

/** The job row's progress columns for the latest progress event. */
export function jobProgress(p: ProgressEvent, eta: number | null): Progress {
  return {
    progress: Math.min(1, p.step / p.total_steps),
    step: p.step,
    total_steps: p.total_steps,
    epoch: p.epoch ?? null,
    eta_seconds: eta,
  };
}
