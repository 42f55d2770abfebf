/**
 * The launcher's side of the attempt API: every call carries the attempt token, and the ones
 * that may be repeated safely (all of them: events carry their sequence numbers, uploads are
 * whole-object PUTs, the report is idempotent) are retried with backoff across network drops,
 * 5xx and 429 until `retryForMs` has passed. Nothing here needs the database or a server secret.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { StagedSpec } from '../trainers/protocol.js';
import type { TrainerDef } from '../domain/catalog/types.js';

export class AttemptApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AttemptApiError';
  }
}

/** What GET …/spec answers: the spec with paths relative to the attempt folder, and where its files are. */
export interface AttemptSpec {
  spec: StagedSpec;
  downloads: Array<{ path: string; url: string; bytes: number; sha256?: string }>;
  /** The base model's files, under base_model/ in the attempt folder; null without one. */
  base_model: { id: string; files: Array<{ path: string; url: string; bytes: number }> } | null;
  trainer: TrainerDef;
  stop_grace_ms: number;
  max_artifact_bytes: number;
}

export interface EventsReply {
  next_seq: number;
  cancel_requested: boolean;
}

export interface UploadTarget {
  key: string;
  url: string;
  method: 'PUT';
  expires_at: string;
}

export interface FinishReport {
  exit_code: number | null;
  signal: string | null;
  stopped: boolean;
  killed: boolean;
  stderr_tail: string[];
  last_error: string | null;
  result: { metrics: Record<string, number>; details?: Record<string, unknown> } | null;
  artifacts: Array<{ name: string; format: string; key: string }>;
}

export interface ClientOptions {
  /** Give up on a call after this long of failed tries (network, 5xx, 429). */
  retryForMs?: number;
  onRetry?: (what: string, err: unknown, waitMs: number) => void;
  fetch?: typeof fetch;
}

const retriable = (err: unknown) => !(err instanceof AttemptApiError) || err.status >= 500 || err.status === 429;

export class AttemptClient {
  private readonly retryForMs: number;
  private readonly f: typeof fetch;

  constructor(
    readonly url: string,
    private readonly token: string,
    private readonly o: ClientOptions = {},
  ) {
    this.url = url.replace(/\/+$/, '');
    this.retryForMs = o.retryForMs ?? 10 * 60_000;
    this.f = o.fetch ?? fetch;
  }

  /** Retries `call` with capped exponential backoff while the failure is one that can pass. */
  private async retrying<T>(what: string, call: () => Promise<T>): Promise<T> {
    const until = Date.now() + this.retryForMs;
    for (let i = 0; ; i++) {
      try {
        return await call();
      } catch (err) {
        const wait = Math.min(200 * 2 ** i, 5000);
        if (!retriable(err) || Date.now() + wait > until) throw err;
        this.o.onRetry?.(what, err, wait);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return this.retrying(`${method} ${path}`, async () => {
      const res = await this.f(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      if (!res.ok) {
        const e = (parsed.error ?? {}) as { code?: string; message?: string; details?: unknown };
        throw new AttemptApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? text.slice(0, 200), e.details);
      }
      return parsed as T;
    });
  }

  spec(): Promise<AttemptSpec> {
    return this.json('GET', '/spec');
  }

  events(seq: number, events: unknown[]): Promise<EventsReply> {
    return this.json('POST', '/events', { seq, events });
  }

  uploadTarget(kind: 'checkpoint' | 'artifact' | 'sample', name: string, bytes: number): Promise<UploadTarget> {
    return this.json('POST', '/uploads', { kind, name, bytes });
  }

  finish(report: FinishReport): Promise<unknown> {
    return this.json('POST', '/finish', report);
  }

  /** PUTs a file to a signed URL (a fresh stream per try). */
  async put(target: UploadTarget, file: string): Promise<void> {
    const { size } = await stat(file);
    await this.retrying(`PUT ${target.key}`, async () => {
      const res = await this.f(target.url, {
        method: 'PUT',
        headers: { 'content-length': String(size), 'content-type': 'application/octet-stream' },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      if (!res.ok) throw new AttemptApiError(res.status, `UPLOAD_FAILED`, `PUT ${target.key}: ${res.status} ${(await res.text()).slice(0, 200)}`);
      await res.arrayBuffer();
    });
  }

  /** GETs a signed URL into a web stream (the caller writes and checks it; one try per call). */
  async get(url: string): Promise<ReadableStream<Uint8Array>> {
    return this.retrying(`GET ${new URL(url).pathname}`, async () => {
      const res = await this.f(url, { signal: AbortSignal.timeout(10 * 60_000) });
      if (!res.ok || !res.body) throw new AttemptApiError(res.status, 'DOWNLOAD_FAILED', `GET ${new URL(url).pathname}: ${res.status}`);
      return res.body;
    });
  }
}
