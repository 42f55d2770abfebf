// Following a job's events (GET /v1/jobs/{id}/events as text/event-stream) until it finishes.
// The server ends a stream after a page of replay (`event: more`), and a connection can drop:
// either way the next connection sends Last-Event-ID, so no event is seen twice or missed.
import { ClientError, errorFrom, EXIT, seg, type Api, type Obj } from './http.js';

export interface JobEvent {
  seq: number;
  type: string;
  data: Obj;
  created_at: string;
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
export const isFinalEvent = (e: JobEvent) => e.type === 'status' && FINAL.has(String(e.data.status));

/** The error a `denied` frame carries ({status, error: {code, message}}), as a refused request's. */
function deniedError(data: string): ClientError {
  let d: { status?: number; error?: { code?: string; message?: string } } = {};
  try {
    d = JSON.parse(data) as typeof d;
  } catch {
    // Not JSON: the generic code below.
  }
  const message = `the event stream was ended: ${d.error?.message ?? 'access was withdrawn'}`;
  return new ClientError(
    d.error?.code ?? 'STREAM_DENIED',
    d.status === 401 ? `${message}; run \`trainyard login\` or set TRAINYARD_API_KEY` : message,
    EXIT.error,
    d.status ?? 401,
  );
}

/** Parses SSE frames from a byte stream, yielding complete events. */
async function* frames(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id?: string; event?: string; data: string }> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: { id?: string; event?: string; data: string } = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const k = line.indexOf(':');
        const field = k < 0 ? line : line.slice(0, k);
        const value = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
        if (field === 'id') f.id = value;
        else if (field === 'event') f.event = value;
        else if (field === 'data') f.data += (f.data ? '\n' : '') + value;
      }
      if (f.data || f.event) yield f;
    }
  }
}

/**
 * Calls onEvent for every event of the job from `after` on, until its final status event;
 * resolves with that status. Reconnects with Last-Event-ID when a stream ends early.
 */
export async function followJob(api: Api, jobId: string, onEvent: (e: JobEvent) => void, opts: { after?: number; signal?: AbortSignal } = {}): Promise<string> {
  let last = opts.after ?? 0;
  let failures = 0;
  for (;;) {
    let res: Response;
    try {
      res = await api.response('GET', `/v1/jobs/${seg(jobId)}/events`, {
        headers: { accept: 'text/event-stream', ...(last > 0 ? { 'last-event-id': String(last) } : {}) },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (++failures > 30) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * failures)));
      continue;
    }
    if (res.status === 204) return (await api.get<{ status: string }>(`/v1/jobs/${seg(jobId)}`)).status;
    if (!res.ok) {
      const err = await errorFrom(res);
      // Over the per-user stream limit, or a proxy's or a restarting server's 5xx (Fastify
      // answers 503 while it closes): wait and try again; a refusal (401, 404) is the caller's.
      if ((res.status !== 429 && res.status < 500) || ++failures > 30) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * failures)));
      continue;
    }
    let more = false;
    try {
      for await (const f of frames(res.body!)) {
        if (f.event === 'more') {
          more = true;
          break;
        }
        // Access lost while the stream was open (a revoked key, a disabled account): reconnecting
        // would only be refused.
        if (f.event === 'denied') throw deniedError(f.data);
        if (!f.id) continue;
        const e = JSON.parse(f.data) as JobEvent;
        last = Math.max(last, e.seq);
        failures = 0;
        onEvent(e);
        if (isFinalEvent(e)) {
          await res.body!.cancel().catch(() => undefined);
          return String(e.data.status);
        }
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' || err instanceof ClientError) throw err;
      // The connection dropped mid-stream: resume from the last event seen.
      if (++failures > 30) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * failures)));
      continue;
    }
    // A page of replay ended (`more`): the next page at once; a stream closed before the job
    // ended (a restarting server, a proxy's timeout): again after a pause, as EventSource would.
    if (!more) await new Promise((r) => setTimeout(r, 250));
  }
}
