/**
 * Real HTTP on loopback, no mocks of node:http. The upstream listens on 127.0.0.2 and the policy
 * allows exactly 127.0.0.2/32, so every test also proves the allowlist is narrow: 127.0.0.1 (where
 * a canary server counts connections) must stay unreachable.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { AddressPolicy, Resolver } from '../../src/net/address-guard.js';
import { safeFetch } from '../../src/net/safe-fetch.js';
import type { SafeFetchOptions } from '../../src/net/safe-fetch.js';
import { until, waitFor } from '../helpers/wait.js';

const UPSTREAM_HOST = '127.0.0.2';
const policy: AddressPolicy = { allow: ['127.0.0.2/32'] };
const payload = randomBytes(256 * 1024);

let upstream: http.Server;
let canary: http.Server;
let port = 0;
let canaryPort = 0;
let canaryConnections = 0;
const openSockets = new Set<Socket>();

const resolver: Resolver = async (host) => {
  switch (host) {
    case 'evil.test':
      return [{ address: '127.0.0.1', family: 4 }];
    case 'pinned.test':
    case 'alias.test':
      return [{ address: UPSTREAM_HOST, family: 4 }];
    case 'mixed.test':
      return [
        { address: UPSTREAM_HOST, family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
    default:
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  }
};

function base(): string {
  return `http://${UPSTREAM_HOST}:${port}`;
}

function options(extra: Partial<SafeFetchOptions> = {}): SafeFetchOptions {
  return { policy, resolver, timeoutMs: 5_000, maxBytes: 1024 * 1024, ...extra };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function appError(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname;
  const chain = /^\/chain\/(\d+)$/.exec(path);
  if (chain) {
    const n = Number(chain[1]);
    if (n === 0) res.end('done');
    else res.writeHead(302, { location: `/chain/${n - 1}` }).end();
    return;
  }
  switch (path) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': payload.length }).end(payload);
      return;
    case '/chunked-ok': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < payload.length; i += 10_000) res.write(payload.subarray(i, i + 10_000));
      res.end();
      return;
    }
    case '/echo': {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            host: req.headers.host,
            method: req.method,
            body: Buffer.concat(chunks).toString(),
            authorization: req.headers.authorization ?? null,
            custom: req.headers['x-custom'] ?? null,
          }),
        );
      });
      return;
    }
    case '/to-loopback':
      res.writeHead(302, { location: `http://127.0.0.1:${canaryPort}/` }).end();
      return;
    case '/to-loopback-decimal':
      res.writeHead(301, { location: `http://2130706433:${canaryPort}/` }).end();
      return;
    case '/to-evil':
      res.writeHead(307, { location: `http://evil.test:${canaryPort}/` }).end();
      return;
    case '/to-metadata':
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    case '/to-file':
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return;
    case '/to-credentials':
      res.writeHead(302, { location: `http://user:pass@${UPSTREAM_HOST}:${port}/ok` }).end();
      return;
    case '/to-alias':
      res.writeHead(307, { location: `http://alias.test:${port}/echo` }).end();
      return;
    case '/see-other':
      res.writeHead(303, { location: '/echo' }).end();
      return;
    case '/temporary':
      res.writeHead(307, { location: '/echo' }).end();
      return;
    case '/no-location':
      res.writeHead(302).end();
      return;
    case '/missing':
      res.writeHead(404, { 'content-type': 'text/plain' }).end('nope');
      return;
    case '/big-cl':
      res.writeHead(200, { 'content-length': 2000 }).end(Buffer.alloc(2000, 1));
      return;
    case '/big-chunked': {
      res.writeHead(200);
      let sent = 0;
      const tick = () => {
        if (res.destroyed) return;
        if (sent >= 10) {
          res.end();
          return;
        }
        sent++;
        res.write(Buffer.alloc(1000, 2), () => setImmediate(tick));
      };
      tick();
      return;
    }
    case '/hang':
      return; // never answers; the socket is closed by the client's timeout or by afterAll
    case '/slow-body':
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(10, 3)); // then stalls
      return;
    case '/truncated':
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(10, 3), () => res.destroy());
      return;
    default:
      res.writeHead(500).end();
  }
}

function listen(server: http.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

beforeAll(async () => {
  upstream = http.createServer(handler);
  upstream.on('connection', (socket: Socket) => {
    openSockets.add(socket);
    socket.once('close', () => openSockets.delete(socket));
  });
  canary = http.createServer((_req, res) => res.end('canary'));
  canary.on('connection', () => {
    canaryConnections++;
  });
  port = await listen(upstream, UPSTREAM_HOST);
  canaryPort = await listen(canary, '127.0.0.1');
});

afterEach(async () => {
  // No sockets left open by the client: the server sees every connection close promptly.
  await waitFor(
    () => openSockets.size,
    (n) => n === 0,
    { timeoutMs: 2_000, intervalMs: 10, message: 'the client to close its sockets' },
  );
  expect(canaryConnections).toBe(0);
});

afterAll(async () => {
  await Promise.all([close(upstream), close(canary)]);
});

describe('safeFetch: success', () => {
  it('downloads from the allowlisted server and the bytes match', async () => {
    const res = await safeFetch(`${base()}/ok`, options());
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${base()}/ok`);
    expect(res.redirects).toEqual([]);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect((await readAll(res.body)).equals(payload)).toBe(true);
  });

  it('downloads a chunked body with no Content-Length', async () => {
    const res = await safeFetch(`${base()}/chunked-ok`, options());
    expect((await readAll(res.body)).equals(payload)).toBe(true);
  });

  it('allows a body of exactly maxBytes', async () => {
    const res = await safeFetch(`${base()}/big-cl`, options({ maxBytes: 2000 }));
    expect((await readAll(res.body)).length).toBe(2000);
  });

  it('leaves no timers behind after success', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const res = await safeFetch(`${base()}/ok`, options({ timeoutMs: 60_000 }));
    expect(timers()).toBe(before + 1); // the deadline stays armed while the body is consumed
    await readAll(res.body);
    await new Promise((r) => setImmediate(r));
    expect(timers()).toBe(before);
  });

  it('pins the connection to the validated address and keeps the original Host header', async () => {
    let calls = 0;
    const counting: Resolver = async (h) => {
      calls++;
      // A rebinding resolver: first answer is allowed, later answers point at loopback.
      return calls === 1 ? resolver(h) : [{ address: '127.0.0.1', family: 4 }];
    };
    // 'pinned.test' does not exist in the system DNS, so success proves the pinned lookup was used.
    const res = await safeFetch(`http://pinned.test:${port}/echo`, options({ resolver: counting }));
    const echo = JSON.parse((await readAll(res.body)).toString()) as { host: string };
    expect(echo.host).toBe(`pinned.test:${port}`);
    expect(calls).toBe(1);
  });

  it('sends POST bodies and caller headers, but not a caller Host header', async () => {
    const res = await safeFetch(`${base()}/echo`, options({ method: 'POST', body: '{"a":1}', headers: { 'X-Custom': 'yes', Host: 'spoofed.example' } }));
    const echo = JSON.parse((await readAll(res.body)).toString()) as Record<string, unknown>;
    expect(echo).toMatchObject({ method: 'POST', body: '{"a":1}', custom: 'yes', host: `${UPSTREAM_HOST}:${port}` });
  });
});

describe('safeFetch: refused before any connection', () => {
  const literalTricks = [
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://127.0.0.1./',
  ];

  it.each(literalTricks)('%s is refused as loopback', async (url) => {
    const started = Date.now();
    const err = await appError(safeFetch(url.replace(/\/$/, `:${canaryPort}/`), options()));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(err.status).toBe(400);
    expect(err.details).toMatchObject({ class: 'loopback' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('refuses the allowlisted server when reached as 127.0.0.1', async () => {
    const err = await appError(safeFetch(`http://127.0.0.1:${port}/ok`, options()));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
  });

  it('refuses private addresses', async () => {
    const err = await appError(safeFetch('http://10.0.0.1/', options()));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(err.details).toEqual({ host: '10.0.0.1', address: '10.0.0.1', class: 'private' });
  });

  it('refuses the cloud metadata endpoint immediately (no connection attempt, no timeout wait)', async () => {
    const started = Date.now();
    const err = await appError(safeFetch('http://169.254.169.254/latest/meta-data', options({ timeoutMs: 30_000 })));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(err.details).toMatchObject({ class: 'metadata' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('refuses localhost through the system resolver', async () => {
    const { resolver: _ignored, ...withSystemResolver } = options();
    const err = await appError(safeFetch(`http://localhost:${canaryPort}/`, withSystemResolver));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(err.details).toMatchObject({ host: 'localhost', class: 'loopback' });
  });

  it('refuses a hostname that resolves to loopback (injected resolver)', async () => {
    const err = await appError(safeFetch(`http://evil.test:${canaryPort}/`, options()));
    expect(err.details).toEqual({ host: 'evil.test', address: '127.0.0.1', class: 'loopback' });
  });

  it('refuses mixed DNS answers even though one is allowlisted', async () => {
    const err = await appError(safeFetch(`http://mixed.test:${port}/ok`, options()));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(err.details).toMatchObject({ address: '127.0.0.1' });
  });

  it('reports unresolvable hosts as DNS_FAILED', async () => {
    const err = await appError(safeFetch('http://nx.test/', options()));
    expect(err.code).toBe('DNS_FAILED');
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/x', 'gopher://127.0.0.2:70/_x', 'data:text/plain,hi', 'javascript:alert(1)'])(
    '%s is refused with URL_SCHEME_NOT_ALLOWED',
    async (url) => {
      const err = await appError(safeFetch(url, options()));
      expect(err.code).toBe('URL_SCHEME_NOT_ALLOWED');
      expect(err.status).toBe(400);
    },
  );

  it.each(['not a url', '', 'http://', `http://user:pass@${UPSTREAM_HOST}/`, `http://user@${UPSTREAM_HOST}/`])(
    '%j is refused with URL_INVALID',
    async (url) => {
      const err = await appError(safeFetch(url, options()));
      expect(err.code).toBe('URL_INVALID');
      expect(err.status).toBe(400);
    },
  );
});

describe('safeFetch: redirects', () => {
  it('follows 3 redirects (the default maximum)', async () => {
    const res = await safeFetch(`${base()}/chain/3`, options());
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${base()}/chain/0`);
    expect(res.redirects).toEqual([`${base()}/chain/3`, `${base()}/chain/2`, `${base()}/chain/1`]);
    expect((await readAll(res.body)).toString()).toBe('done');
  });

  it('refuses a chain of 4 with TOO_MANY_REDIRECTS', async () => {
    const err = await appError(safeFetch(`${base()}/chain/4`, options()));
    expect(err.code).toBe('TOO_MANY_REDIRECTS');
    expect(err.status).toBe(502);
  });

  it('honours maxRedirects', async () => {
    expect((await appError(safeFetch(`${base()}/chain/1`, options({ maxRedirects: 0 })))).code).toBe('TOO_MANY_REDIRECTS');
    const res = await safeFetch(`${base()}/chain/5`, options({ maxRedirects: 5 }));
    expect((await readAll(res.body)).toString()).toBe('done');
  });

  it.each(['/to-loopback', '/to-loopback-decimal', '/to-evil', '/to-metadata'])(
    'refuses a redirect from the allowed server to a forbidden address (%s)',
    async (path) => {
      const err = await appError(safeFetch(`${base()}${path}`, options()));
      expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
      expect(err.status).toBe(400);
    },
  );

  it('refuses a redirect to a non-http scheme', async () => {
    const err = await appError(safeFetch(`${base()}/to-file`, options()));
    expect(err.code).toBe('URL_SCHEME_NOT_ALLOWED');
  });

  it('refuses a redirect to a URL with credentials', async () => {
    expect((await appError(safeFetch(`${base()}/to-credentials`, options()))).code).toBe('URL_INVALID');
  });

  it('turns POST into GET on 303 and keeps it on 307', async () => {
    const post = options({ method: 'POST', body: 'payload' });
    const seeOther = JSON.parse((await readAll((await safeFetch(`${base()}/see-other`, post)).body)).toString()) as Record<string, unknown>;
    expect(seeOther).toMatchObject({ method: 'GET', body: '' });
    const temporary = JSON.parse((await readAll((await safeFetch(`${base()}/temporary`, post)).body)).toString()) as Record<string, unknown>;
    expect(temporary).toMatchObject({ method: 'POST', body: 'payload' });
  });

  it('drops Authorization when a redirect changes origin', async () => {
    const res = await safeFetch(`${base()}/to-alias`, options({ headers: { authorization: 'Bearer secret', 'x-custom': 'kept' } }));
    const echo = JSON.parse((await readAll(res.body)).toString()) as Record<string, unknown>;
    expect(echo).toMatchObject({ authorization: null, custom: 'kept', host: `alias.test:${port}` });
  });

  it('treats a redirect status without Location as an upstream error', async () => {
    const err = await appError(safeFetch(`${base()}/no-location`, options()));
    expect(err.code).toBe('UPSTREAM_STATUS');
    expect(err.details).toEqual({ status: 302 });
  });
});

// Throwaway self-signed certificate for CN/SAN pinned.test (test-only key, never trusted anywhere).
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgscGvXnVOgMWMtlqJ
GyoPyaJCTQKKeOyIw4zxI1m3/xahRANCAARtDVY59Etic3iy24KBT3JmyfGGuAy/
ttcvPRDb1BtsSyHlfG6WmJANV1XFmfTLDh6a+C49dkYBxyP+d+K0/xYt
-----END PRIVATE KEY-----`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUNcrTfOjjYZy99F9bt0UmSkyANiwwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLcGlubmVkLnRlc3QwIBcNMjYxMTIxMjAxMzExWhgPMjEyNjEw
MjgyMDEzMTFaMBYxFDASBgNVBAMMC3Bpbm5lZC50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEbQ1WOfRLYnN4stuCgU9yZsnxhrgMv7bXLz0Q29QbbEsh5Xxu
lpiQDVdVxZn0yw4emvguPXZGAccj/nfitP8WLaNrMGkwHQYDVR0OBBYEFEqbZ15b
NRIegAk+g+p8FsMdLDtQMB8GA1UdIwQYMBaAFEqbZ15bNRIegAk+g+p8FsMdLDtQ
MA8GA1UdEwEB/wQFMAMBAf8wFgYDVR0RBA8wDYILcGlubmVkLnRlc3QwCgYIKoZI
zj0EAwIDSAAwRQIgFd5XKmncaMyFN8uutgtYLDwaFb4JEy5Jh3ODAuHSpkACIQDs
J9oReLKqYimtMMwlxjX9w3tOgnTmgRsQKbb/RavAUg==
-----END CERTIFICATE-----`;

describe('safeFetch: https', () => {
  it('pins https too, sends the original hostname as SNI and verifies the certificate', async () => {
    const servernames: string[] = [];
    const server = https.createServer({
      key: TEST_KEY,
      cert: TEST_CERT,
      SNICallback: (name, cb) => {
        servernames.push(name);
        cb(null);
      },
    });
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('secret'));
    server.on('tlsClientError', () => {});
    const tlsPort = await new Promise<number>((resolve) => server.listen(0, UPSTREAM_HOST, () => resolve((server.address() as AddressInfo).port)));
    try {
      // The certificate is self-signed, so verification must fail: certificate checks stay on.
      const err = await appError(safeFetch(`https://pinned.test:${tlsPort}/`, options()));
      expect(err.code).toBe('FETCH_FAILED');
      expect((err.cause as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|CERT/);
      expect(servernames).toEqual(['pinned.test']);
      // https to a forbidden address is refused like http.
      expect((await appError(safeFetch(`https://evil.test:${tlsPort}/`, options()))).code).toBe('ADDRESS_NOT_ALLOWED');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('safeFetch: upstream failures', () => {
  it('turns a 404 into UPSTREAM_STATUS', async () => {
    const err = await appError(safeFetch(`${base()}/missing`, options()));
    expect(err.code).toBe('UPSTREAM_STATUS');
    expect(err.status).toBe(502);
    expect(err.details).toEqual({ status: 404 });
  });

  it('refuses a body whose Content-Length exceeds maxBytes before reading it', async () => {
    const err = await appError(safeFetch(`${base()}/big-cl`, options({ maxBytes: 1000 })));
    expect(err.code).toBe('FETCH_TOO_LARGE');
    expect(err.status).toBe(413);
    expect(err.details).toEqual({ maxBytes: 1000, contentLength: 2000 });
  });

  it('errors the body stream when a body without Content-Length passes maxBytes', async () => {
    const res = await safeFetch(`${base()}/big-chunked`, options({ maxBytes: 5000 }));
    expect(res.headers['content-length']).toBeUndefined();
    const err = await appError(readAll(res.body));
    expect(err.code).toBe('FETCH_TOO_LARGE');
    expect(err.status).toBe(413);
  });

  it('times out when the server never answers', async () => {
    const started = Date.now();
    const err = await appError(safeFetch(`${base()}/hang`, options({ timeoutMs: 200 })));
    expect(err.code).toBe('FETCH_TIMEOUT');
    expect(err.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('times out while the caller is consuming a stalled body', async () => {
    const res = await safeFetch(`${base()}/slow-body`, options({ timeoutMs: 300 }));
    expect(res.status).toBe(200);
    const err = await appError(readAll(res.body));
    expect(err.code).toBe('FETCH_TIMEOUT');
  });

  it('times out a body nobody reads, without crashing', async () => {
    const res = await safeFetch(`${base()}/slow-body`, options({ timeoutMs: 100 }));
    await until(() => res.body.destroyed, { timeoutMs: 2_000, message: 'the unread body to be destroyed' });
    expect((res.body.errored as AppError | null)?.code).toBe('FETCH_TIMEOUT');
  });

  it('reports a truncated body as FETCH_FAILED', async () => {
    const res = await safeFetch(`${base()}/truncated`, options());
    const err = await appError(readAll(res.body));
    expect(err.code).toBe('FETCH_FAILED');
  });

  it('reports connection errors as FETCH_FAILED with the cause', async () => {
    // Grab a free port on the allowed address, then close it so the connection is refused.
    const tmp = http.createServer();
    const closedPort = await listen(tmp, UPSTREAM_HOST);
    await close(tmp);
    const err = await appError(safeFetch(`http://${UPSTREAM_HOST}:${closedPort}/`, options()));
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.status).toBe(502);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('stops when the caller aborts, before and during the request', async () => {
    const early = new AbortController();
    early.abort();
    expect((await appError(safeFetch(`${base()}/ok`, options({ signal: early.signal })))).code).toBe('FETCH_ABORTED');

    const ctl = new AbortController();
    // Not a wait: the abort is scheduled to land while the request hangs in flight.
    setTimeout(() => ctl.abort(), 50);
    expect((await appError(safeFetch(`${base()}/hang`, options({ signal: ctl.signal })))).code).toBe('FETCH_ABORTED');

    const mid = new AbortController();
    const res = await safeFetch(`${base()}/slow-body`, options({ signal: mid.signal }));
    // Likewise, mid-body: the response has arrived and the body is still trickling in.
    setTimeout(() => mid.abort(), 50);
    expect((await appError(readAll(res.body))).code).toBe('FETCH_ABORTED');
  });

  it('releases the connection when the caller destroys the body early', async () => {
    const res = await safeFetch(`${base()}/slow-body`, options());
    res.body.destroy();
    // afterEach asserts the server sees the socket close
  });
});
