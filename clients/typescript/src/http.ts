import { TrainyardConnectionError, TrainyardError } from './errors.js';

export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key (`ty_…`, from `client.apiKeys.create` or the dashboard). */
  apiKey?: string;
  /** Or a login token (`Trainyard.login`). */
  token?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Retries of one request after 429, 503 or a failed connection (default 3). */
  maxRetries?: number;
  /** The first backoff delay; each retry doubles it, with jitter (default 500 ms). */
  retryBaseMs?: number;
  /** No single wait is longer: a Retry-After beyond it ends the retries (default 60 s). */
  maxRetryDelayMs?: number;
  /** Sent as User-Agent. */
  userAgent?: string;
}

/** What fetch takes as a body (a Uint8Array, FormData, Blob, string or ReadableStream). */
export type BodyInit = NonNullable<RequestInit['body']>;

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query | undefined;
  /** A JSON body. */
  json?: unknown;
  /** Any other body; a function makes a fresh one per attempt (a file stream). */
  body?: BodyInit | (() => BodyInit) | undefined;
  headers?: Record<string, string> | undefined;
  /**
   * Safe to send twice: a failed connection is retried. GET, PUT and DELETE are; a POST is
   * when it carries an Idempotency-Key. 429 and 503 are retried for every request, as the
   * server answers them before doing anything.
   */
  idempotent?: boolean | undefined;
  /** Send the credentials (default true; false for pre-signed URLs). */
  auth?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export const VERSION = '0.1.0';

/** Waits `ms`, or rejects at once when `signal` aborts; leaves no timer behind either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The transport every resource goes through: base URL, credentials, JSON, the API's errors
 * as TrainyardError, and retries with exponential backoff and jitter that honour Retry-After.
 */
export class Http {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly headers: Record<string, string>;

  constructor(o: ClientOptions) {
    if (!o.url) throw new TypeError('Trainyard: `url` is required');
    if (o.apiKey && o.token) throw new TypeError('Trainyard: give `apiKey` or `token`, not both');
    this.baseUrl = o.url.replace(/\/+$/, '');
    this.fetchFn = o.fetch ?? globalThis.fetch;
    this.maxRetries = o.maxRetries ?? 3;
    this.retryBaseMs = o.retryBaseMs ?? 500;
    this.maxRetryDelayMs = o.maxRetryDelayMs ?? 60_000;
    const secret = o.apiKey ?? o.token;
    this.headers = {
      'user-agent': o.userAgent ?? `trainyard-client-ts/${VERSION}`,
      ...(secret ? { authorization: `Bearer ${secret}` } : {}),
    };
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so clients spread out. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.maxRetryDelayMs, this.retryBaseMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  url(path: string, query?: Query): URL {
    const u = /^https?:\/\//.test(path) ? new URL(path) : new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    return u;
  }

  /** Sends one request (with its retries) and returns a 2xx answer; anything else throws. */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { ...(o.auth === false ? { 'user-agent': this.headers['user-agent']! } : this.headers) };
    if (o.json !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, o.headers);
    const idempotent = o.idempotent ?? (['GET', 'HEAD', 'PUT', 'DELETE'].includes(method) || 'idempotency-key' in headers);
    for (let attempt = 0; ; attempt++) {
      const body = o.json !== undefined ? JSON.stringify(o.json) : typeof o.body === 'function' ? o.body() : o.body;
      let res: Response;
      try {
        res = await this.fetchFn(url, { method, headers, body: body ?? null, signal: o.signal ?? null, duplex: 'half' } as RequestInit);
      } catch (err) {
        if (o.signal?.aborted) throw err;
        if (!idempotent || attempt >= this.maxRetries) {
          throw new TrainyardConnectionError(`${method} ${url.pathname}: ${(err as Error).message}`, err);
        }
        await sleep(this.backoffMs(attempt), o.signal);
        continue;
      }
      if (res.ok) return res;
      if ((res.status === 429 || res.status === 503) && attempt < this.maxRetries) {
        const wait = retryAfterMs(res.headers.get('retry-after')) ?? this.backoffMs(attempt);
        // Retrying before the server said it would accept the request only earns another 429.
        if (wait <= this.maxRetryDelayMs) {
          await res.body?.cancel().catch(() => undefined);
          await sleep(wait, o.signal);
          continue;
        }
      }
      throw await TrainyardError.fromResponse(res);
    }
  }

  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, o);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.json<T>('GET', path, { query, signal });
  }

  post<T>(path: string, json: unknown, o: Omit<RequestOptions, 'json'> = {}): Promise<T> {
    return this.json<T>('POST', path, { ...o, json });
  }
}

/** Path segments are user data (model names, ids): always encoded. */
export const seg = (s: string | number) => encodeURIComponent(String(s));
