import { TrainyardConnectionError, TrainyardError } from './errors.js';
import { seg, sleep, type Http } from './http.js';
import { cursorList, type Paginated } from './pages.js';
import { parseSse } from './sse.js';
import { FINAL_STATUSES, type Job, type JobCreate, type JobEvent, type JobMetrics, type JobsFilter, type LogLine } from './types.js';

/** The error a `denied` frame carries ({status, error: {code, message}}), as a refused request's. */
function deniedError(data: string): TrainyardError {
  let d: { status?: number; error?: { code?: string; message?: string } } = {};
  try {
    d = JSON.parse(data) as typeof d;
  } catch {
    // Not JSON: the generic code below.
  }
  return new TrainyardError(d.status ?? 401, d.error?.code ?? 'STREAM_DENIED', `the event stream was ended: ${d.error?.message ?? 'access was withdrawn'}`);
}

export interface EventsOptions {
  /** Start after this event (the `seq` of the last one already seen); default: from the first. */
  lastEventId?: number;
  signal?: AbortSignal;
}

const isFinal = (e: JobEvent) => e.type === 'status' && FINAL_STATUSES.includes(e.data.status as never);

export class Jobs {
  constructor(private readonly http: Http) {}

  /**
   * Starts a job (202, queued). Every create carries an Idempotency-Key — a fresh UUID unless
   * you give one — so a create whose answer was lost can be retried without a second job
   * (and its charge): the server answers the same job for the same key.
   */
  create(body: JobCreate, o: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<Job> {
    const key = o.idempotencyKey ?? globalThis.crypto.randomUUID();
    return this.http.post<Job>('/v1/jobs', body, { headers: { 'idempotency-key': key }, signal: o.signal });
  }

  /** Your jobs, newest first, page by page (`limit` is the page size). */
  list(filter: JobsFilter = {}): Paginated<Job> {
    return cursorList<Job>(this.http, '/v1/jobs', filter);
  }

  get(id: string): Promise<Job> {
    return this.http.get<Job>(`/v1/jobs/${seg(id)}`);
  }

  cancel(id: string): Promise<Job> {
    return this.http.post<Job>(`/v1/jobs/${seg(id)}/cancel`, {});
  }

  /** The newest log lines (trainer logs, stdout and stderr). */
  async logs(id: string, o: { tail?: number; since?: Date | string } = {}): Promise<LogLine[]> {
    const since = o.since instanceof Date ? o.since.toISOString() : o.since;
    return (await this.http.get<{ data?: LogLine[] }>(`/v1/jobs/${seg(id)}/logs`, { tail: o.tail, since })).data ?? [];
  }

  metrics(id: string): Promise<JobMetrics> {
    return this.http.get<JobMetrics>(`/v1/jobs/${seg(id)}/metrics`);
  }

  /**
   * The job's events, live, until its final status event (then the iterator ends). A dropped
   * connection is resumed with Last-Event-ID after a backoff, so nothing is lost and nothing
   * comes twice; a server that ends a page of replay (`event: more`) is reconnected at once.
   * Gives up with a TrainyardError after `maxRetries` attempts in a row that brought nothing.
   */
  async *events(id: string, o: EventsOptions = {}): AsyncGenerator<JobEvent> {
    let last = o.lastEventId;
    let failures = 0;
    for (;;) {
      let res: Response | null = null;
      try {
        res = await this.http.request('GET', `/v1/jobs/${seg(id)}/events`, {
          headers: { accept: 'text/event-stream', ...(last !== undefined ? { 'last-event-id': String(last) } : {}) },
          signal: o.signal,
        });
      } catch (err) {
        // Unreachable, or a proxy's or a restarting server's 5xx after the request's own retries:
        // counted below like a dropped stream, so an outage of a few seconds is ridden out.
        if (o.signal?.aborted || !(err instanceof TrainyardConnectionError || (err instanceof TrainyardError && err.status >= 500))) throw err;
      }
      // 204: the job has ended and nothing follows `last`.
      if (res && (res.status === 204 || !res.body)) return;
      let progressed = false;
      let more = false;
      try {
        for await (const msg of res ? parseSse(res.body!) : []) {
          if (msg.event === 'more') {
            more = true;
            continue;
          }
          // Access lost while the stream was open (a revoked key, a disabled account): reconnecting would only be refused.
          if (msg.event === 'denied') throw deniedError(msg.data);
          if (msg.id === null || !msg.data) continue;
          const seq = Number(msg.id);
          if (last !== undefined && seq <= last) continue;
          const event = JSON.parse(msg.data) as JobEvent;
          last = seq;
          progressed = true;
          yield event;
          if (isFinal(event)) return;
        }
      } catch (err) {
        if (o.signal?.aborted || (err instanceof TrainyardError && err.status > 0)) throw err;
        // The connection dropped mid-stream: resume below from the last event received.
      }
      failures = progressed || more ? 0 : failures + 1;
      if (failures > this.http.maxRetries) {
        throw new TrainyardError(0, 'EVENT_STREAM_FAILED', `the event stream of job ${id} kept ending without events`);
      }
      if (!more) await sleep(this.http.backoffMs(failures), o.signal);
    }
  }

  /** Waits for the job to end (over its event stream) and returns it as it ended. */
  async wait(id: string, o: { signal?: AbortSignal } = {}): Promise<Job> {
    for await (const e of this.events(id, o)) if (isFinal(e)) break;
    return this.get(id);
  }
}
