import type { FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Paths the dashboard never answers, whatever their method: the API, the facades, the docs and
 * the operations routes keep their own 404s (JSON in their envelope), so a typo in an API call
 * is never answered with a web page.
 */
export const RESERVED_PREFIXES = ['/v1', '/compat', '/docs', '/openapi.json', '/metrics', '/healthz', '/readyz', '/blobs'] as const;

const reserved = (url: string) => RESERVED_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));

// The page is the app's own code and styles; images and uploads may live on the S3 store's origin
// (pre-signed URLs), so img-src and connect-src allow other origins, scripts never do.
const HTML_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; connect-src 'self' https: http:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trainyard</title></head><body>
<main><h1>Trainyard</h1><p>The dashboard is not built. Run <code>npm run build</code> (or <code>npm start</code>), then reload.</p>
<p>The API is at <a href="/docs">/docs</a>, its OpenAPI document at <a href="/openapi.json">/openapi.json</a>.</p></main></body></html>`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.js', '.css', '.svg', '.json', '.txt']);

interface Built {
  body: Buffer;
  gz: Buffer | null;
  type: string;
}

/**
 * The dashboard: the files Vite built into web/dist, answered by the server's not-found handler
 * (src/app/plugins/errors.ts), so it never competes with a route: every /v1, facade, docs and
 * ops path, unknown or too long, keeps exactly the answer it had without it. Hashed files under
 * /assets are cached by browsers for a year (a new build has new names) and compressed once;
 * index.html is revalidated every time and answers every other extension-less GET path (the app
 * routes itself). Returns whether it answered; null when the dashboard is off (DASHBOARD=off).
 */
export function dashboardFallback(dir: string | null): ((req: FastifyRequest, reply: FastifyReply) => boolean) | null {
  if (!dir) return null;
  const built = existsSync(path.join(dir, 'index.html'));
  const rootFiles = new Set(
    built
      ? readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isFile() && e.name !== 'index.html')
          .map((e) => e.name)
      : [],
  );
  const assets = new Set(built && existsSync(path.join(dir, 'assets')) ? readdirSync(path.join(dir, 'assets')) : []);
  const cache = new Map<string, Built>();
  const file = (rel: string): Built => {
    let f = cache.get(rel);
    if (!f) {
      const body = readFileSync(path.join(dir, rel));
      const ext = path.extname(rel);
      f = { body, gz: COMPRESSIBLE.has(ext) ? gzipSync(body, { level: 9 }) : null, type: TYPES[ext] ?? 'application/octet-stream' };
      cache.set(rel, f);
    }
    return f;
  };
  const send = (req: FastifyRequest, reply: FastifyReply, f: Built) => {
    reply.header('vary', 'accept-encoding').header('x-content-type-options', 'nosniff').type(f.type);
    if (f.gz && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(f.gz);
    return reply.send(f.body);
  };

  return (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url.split('?')[0]!;
    if (reserved(url)) return false;
    const name = url.slice(1);
    if (name.startsWith('assets/') && assets.has(name.slice('assets/'.length))) {
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      void send(req, reply, file(name));
      return true;
    }
    if (rootFiles.has(name)) {
      reply.header('cache-control', 'public, max-age=3600');
      void send(req, reply, file(name));
      return true;
    }
    if (path.posix.extname(url)) return false;
    reply.status(200).headers(HTML_HEADERS);
    if (built) void send(req, reply, file('index.html'));
    else void reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    return true;
  };
}
