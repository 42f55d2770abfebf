import { authFetch } from '../api/client';
import type { JobEvent } from '../api/types';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface LiveOptions {
  /** Resume after this event number (0: from the start). */
  after?: number;
  onEvents: (events: JobEvent[]) => void;
  onState?: (s: LiveState, detail?: string) => void;
}

const MAX_BACKOFF_MS = 10_000;

/** Splits a text/event-stream body into frames; returns the parsed events and what is left over. */
export function parseSse(buffer: string): { frames: { id?: string; event?: string; data: string }[]; rest: string } {
  const frames: { id?: string; event?: string; data: string }[] = [];
  const parts = buffer.split(/\r?\n\r?\n/);
  const rest = parts.pop() ?? '';
  for (const part of parts) {
    const f: { id?: string; event?: string; data: string } = { data: '' };
    for (const line of part.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') f.id = value;
      else if (field === 'event') f.event = value;
      else if (field === 'data') f.data += (f.data ? '\n' : '') + value;
    }
    if (f.data || f.event) frames.push(f);
  }
  return { frames, rest };
}

/**
 * Follows a job's event stream (SSE over fetch, since EventSource cannot send the bearer
 * token) and keeps following it: a dropped connection or a restarted server reconnects with
 * Last-Event-ID after a growing pause, so no event is lost or seen twice. Ends by itself after
 * the job's final status (the server closes the stream, or answers 204). Returns a stop function.
 */
export function followJob(jobId: string, o: LiveOptions): () => void {
  let last = o.after ?? 0;
  let stopped = false;
  let ctrl: AbortController | null = null;
  let backoff = 500;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const run = async (): Promise<void> => {
    if (stopped) return;
    ctrl = new AbortController();
    let ended = false;
    try {
      const res = await authFetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
        headers: { accept: 'text/event-stream', ...(last > 0 ? { 'last-event-id': String(last) } : {}) },
        signal: ctrl.signal,
      });
      if (res.status === 204) {
        ended = true;
      } else if (!res.ok || !res.body) {
        // 401/403/404 will not mend by retrying.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          o.onState?.('ended', `HTTP ${res.status}`);
          return;
        }
        throw new Error(`HTTP ${res.status}`);
      } else {
        o.onState?.('live');
        backoff = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          const { frames, rest } = parseSse(buf);
          buf = rest;
          const events: JobEvent[] = [];
          for (const f of frames) {
            if (f.event === 'more' || !f.id) continue;
            const e = JSON.parse(f.data) as JobEvent;
            if (e.seq <= last) continue;
            last = e.seq;
            events.push(e);
            if (e.type === 'status' && ['succeeded', 'failed', 'cancelled'].includes(String(e.data.status))) ended = true;
          }
          if (events.length) o.onEvents(events);
        }
      }
    } catch (err) {
      if (stopped) return;
      o.onState?.('reconnecting', err instanceof Error ? err.message : String(err));
    }
    if (stopped) return;
    if (ended) {
      o.onState?.('ended');
      return;
    }
    // The stream closed before the final status (a page of history, a restart, a proxy): go on.
    o.onState?.('reconnecting');
    timer = setTimeout(() => void run(), backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  };

  o.onState?.('connecting');
  void run();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    ctrl?.abort();
  };
}
