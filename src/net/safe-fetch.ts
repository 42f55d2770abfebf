/**
 * SSRF-safe HTTP(S) client for fetching user-supplied URLs (URL imports, later webhooks).
 *
 * - Only http: and https:, no credentials in the URL.
 * - Every hop (the first URL and each redirect target) is re-validated: scheme, then the host's
 *   addresses through the address guard. The connection is pinned to the validated address with a
 *   custom `lookup`, so DNS rebinding between check and connect is impossible; the Host header and
 *   TLS servername (SNI + certificate check) still use the original hostname.
 * - One deadline (`timeoutMs`) covers DNS, connect, redirects and the caller's consumption of the
 *   body; the body is capped at `maxBytes` (Content-Length up front and counted while streaming).
 * - No connection pooling (`agent: false`): every socket is closed when its response is done, so
 *   nothing is left behind after success, error or abort.
 *
 * Status codes: problems with the caller's input (bad URL, scheme, forbidden address, DNS failure)
 * are 400. Problems on the upstream side use the gateway family, because the request itself was
 * acceptable and our server acted as a gateway to a misbehaving upstream: 502 (bad gateway) for
 * connection failures, error statuses and redirect loops, 504 (gateway timeout) for the deadline.
 * An oversized body is 413.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { isAllowedAddress, resolveAllowed } from './address-guard.js';
import type { AddressPolicy, Resolver } from './address-guard.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT';

export interface SafeFetchOptions {
  policy: AddressPolicy;
  /** Injectable for tests (e.g. map 'evil.test' -> 127.0.0.1). Defaults to the OS resolver. */
  resolver?: Resolver;
  /** Whole request including the body, measured until the body has been consumed. */
  timeoutMs: number;
  /** Body cap in bytes. */
  maxBytes: number;
  /** Default 3. */
  maxRedirects?: number;
  method?: HttpMethod;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

export interface SafeFetchResponse {
  /** Final URL after redirects. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * The response body. Errors with FETCH_TOO_LARGE past `maxBytes`, FETCH_TIMEOUT at the deadline,
   * FETCH_ABORTED when the caller's signal fires and FETCH_FAILED when the connection breaks.
   * Destroy it if you stop reading early, so the socket is released at once.
   */
  body: Readable;
  /** Every URL that answered with a redirect, in order. */
  redirects: string[];
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers the caller may not set: we compute them, or they would defeat the address pinning. */
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);
/** Dropped when a redirect leaves the original origin (same rule as the Fetch standard). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

export async function safeFetch(url: string, opts: SafeFetchOptions): Promise<SafeFetchResponse> {
  if (!(opts.timeoutMs > 0)) throw new TypeError('safeFetch: timeoutMs must be > 0');
  if (!(opts.maxBytes >= 0)) throw new TypeError('safeFetch: maxBytes must be >= 0');
  const maxRedirects = opts.maxRedirects ?? 3;

  const lifetime = new Lifetime(opts.timeoutMs, opts.signal);
  try {
    let current = parseTarget(url);
    const origin = current.origin;
    let method: HttpMethod = opts.method ?? 'GET';
    let body = opts.body;
    let headers = prepareHeaders(opts.headers);
    const redirects: string[] = [];

    for (;;) {
      lifetime.throwIfAborted();
      const hostname = stripBrackets(current.hostname);
      const pinned = await lifetime.race(resolveAllowed(hostname, opts.policy, opts.resolver));
      const res = await requestOnce(current, hostname, pinned, method, headers, body, opts.policy, lifetime.signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;

      if (REDIRECT_STATUSES.has(status) && typeof location === 'string' && location !== '') {
        res.destroy();
        if (redirects.length >= maxRedirects) {
          throw new AppError('TOO_MANY_REDIRECTS', `More than ${maxRedirects} redirects`, {
            status: 502,
            details: { maxRedirects, redirects: [...redirects, current.href] },
          });
        }
        redirects.push(current.href);
        current = parseTarget(location, current);
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        if (current.origin !== origin) {
          headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.has(k)));
        }
        continue;
      }

      if (status < 200 || status > 299) {
        res.destroy();
        throw new AppError('UPSTREAM_STATUS', `Upstream answered HTTP ${status}`, { status: 502, details: { status } });
      }

      const length = res.headers['content-length'];
      if (length !== undefined && /^\d+$/.test(length) && Number(length) > opts.maxBytes) {
        res.destroy();
        throw tooLarge(opts.maxBytes, Number(length));
      }

      const bodyStream = capBody(res, current, opts.maxBytes, lifetime);
      return { url: current.href, status, headers: { ...res.headers }, body: bodyStream, redirects };
    }
  } catch (err) {
    lifetime.dispose();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

/** One deadline plus the caller's signal, folded into one internal AbortSignal. */
class Lifetime {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly external: AbortSignal | undefined;
  private readonly onExternalAbort = () => {
    this.controller.abort(new AppError('FETCH_ABORTED', 'The fetch was aborted', { status: 502, cause: this.external?.reason }));
  };

  constructor(timeoutMs: number, external?: AbortSignal) {
    this.external = external;
    this.timer = setTimeout(() => {
      this.controller.abort(
        new AppError('FETCH_TIMEOUT', `The fetch did not complete within ${timeoutMs} ms`, {
          status: 504,
          details: { timeoutMs },
        }),
      );
    }, timeoutMs);
    if (external?.aborted) this.onExternalAbort();
    else external?.addEventListener('abort', this.onExternalAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  throwIfAborted(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** Settles with `p`, or rejects with the abort reason as soon as the lifetime ends. */
  race<T>(p: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal.aborted) {
      p.catch(() => {});
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e as Error);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.external?.removeEventListener('abort', this.onExternalAbort);
  }
}

function parseTarget(input: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch {
    throw new AppError('URL_INVALID', 'Not a valid URL', { status: 400, details: { url: input } });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('URL_SCHEME_NOT_ALLOWED', `Only http and https URLs can be fetched, not ${url.protocol}`, {
      status: 400,
      details: { scheme: url.protocol.replace(/:$/, '') },
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new AppError('URL_INVALID', 'URLs with credentials are not allowed', { status: 400 });
  }
  if (url.hostname === '') {
    throw new AppError('URL_INVALID', 'URL has no host', { status: 400 });
  }
  url.hash = '';
  return url;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function prepareHeaders(input: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = { 'user-agent': 'Trainyard-Fetch/1', 'accept-encoding': 'identity' };
  for (const [name, value] of Object.entries(input ?? {})) {
    const key = name.toLowerCase();
    if (!FORBIDDEN_HEADERS.has(key)) out[key] = value;
  }
  return out;
}

function fetchFailed(url: URL, cause: unknown): AppError {
  const code = (cause as { code?: unknown } | null)?.code;
  return new AppError('FETCH_FAILED', `Could not fetch ${url.host}: ${(cause as Error)?.message ?? String(cause)}`, {
    status: 502,
    details: { host: url.host, ...(typeof code === 'string' ? { code } : {}) },
    cause,
  });
}

function tooLarge(maxBytes: number, size?: number): AppError {
  return new AppError('FETCH_TOO_LARGE', `The response body exceeds ${maxBytes} bytes`, {
    status: 413,
    details: size === undefined ? { maxBytes } : { maxBytes, contentLength: size },
  });
}

/** A lookup that ignores DNS and answers with the address the guard already validated. */
function pinnedLookup(expectedHost: string, pinned: { address: string; family: 4 | 6 }): LookupFunction {
  return (hostname, options, callback) => {
    if (hostname !== expectedHost) {
      callback(Object.assign(new Error(`Unexpected lookup for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    } else if (options.all) {
      callback(null, [{ address: pinned.address, family: pinned.family }]);
    } else {
      callback(null, pinned.address, pinned.family);
    }
  };
}

function requestOnce(
  url: URL,
  hostname: string,
  pinned: { address: string; family: 4 | 6 },
  method: HttpMethod,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
  policy: AddressPolicy,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const isHttps = url.protocol === 'https:';
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    const reqHeaders: Record<string, string> = { ...headers, host: url.host };
    if (payload !== undefined || method !== 'GET') reqHeaders['content-length'] = String(payload?.length ?? 0);

    // An IP-literal host is connected to in the guard's canonical spelling (Node skips `lookup`
    // for literals); a name goes through the pinned lookup.
    const connectHost = isIP(hostname) ? pinned.address : hostname;
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname: connectHost,
      port: url.port === '' ? (isHttps ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method,
      headers: reqHeaders,
      agent: false,
      lookup: pinnedLookup(connectHost, pinned),
      family: pinned.family,
    };
    // SNI must be a DNS name, never an IP literal (RFC 6066); the certificate is still checked
    // against the original hostname either way.
    if (isHttps && !isIP(hostname)) options.servername = hostname;

    const req = (isHttps ? https : http).request(options);
    const onAbort = () => req.destroy(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });

    // Defence in depth: whatever path the socket took, the peer must be an allowed address.
    req.once('socket', (socket) => {
      socket.once('connect', () => {
        const peer = socket.remoteAddress;
        if (peer === undefined || !isAllowedAddress(peer, policy)) {
          req.destroy(
            new AppError('ADDRESS_NOT_ALLOWED', `Refusing to talk to ${peer ?? 'unknown peer'}`, {
              status: 400,
              details: { host: url.hostname, address: peer },
            }),
          );
        }
      });
    });
    req.once('response', (res) => {
      signal.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err instanceof AppError ? err : fetchFailed(url, err));
    });
    req.end(payload);
  });
}

/**
 * Wraps the final response in a byte-counting stream. The lifetime (deadline, caller's signal)
 * stays armed until that stream closes, and tearing down either side tears down the other.
 */
function capBody(res: IncomingMessage, url: URL, maxBytes: number, lifetime: Lifetime): Readable {
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      received += chunk.length;
      if (received > maxBytes) callback(tooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
  // Keep an error listener so a deadline firing on a body nobody is reading cannot crash the
  // process; readers still see the error (stream.errored, 'error' listeners, async iteration).
  counter.on('error', () => {});

  const onAbort = () => counter.destroy(lifetime.signal.reason as Error);
  res.on('error', (err) => counter.destroy(err instanceof AppError ? err : fetchFailed(url, err)));
  res.on('close', () => {
    if (!res.complete) counter.destroy(fetchFailed(url, new Error('connection closed before the body was complete')));
  });
  counter.once('close', () => {
    lifetime.signal.removeEventListener('abort', onAbort);
    lifetime.dispose();
    res.destroy();
  });
  if (lifetime.signal.aborted) onAbort();
  else lifetime.signal.addEventListener('abort', onAbort, { once: true });
  res.pipe(counter);
  return counter;
}
