import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Paths the dashboard never answers, whatever their method: the API, the facades, the docs and
 * the operations routes keep their own 404s (JSON in the error envelope), so a typo in an API
 * call is never answered with a web page.
 */
export const RESERVED_PREFIXES = ['/v1', '/compat', '/docs', '/openapi.json', '/metrics', '/healthz', '/readyz', '/blobs'] as const;

const reserved = (url: string) => RESERVED_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));

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

/**
 * The dashboard at /: the files Vite built into web/dist. Hashed files under /assets are cached
 * for a year (a new build has new names); index.html is revalidated every time, and every path
 * that is not a file, not reserved and has no file extension answers it (the app routes itself).
 */
export default async function dashboardRoutes(app: FastifyInstance, o: { dir: string | null }): Promise<void> {
  if (!o.dir) return;
  const dir = o.dir;
  const built = existsSync(path.join(dir, 'index.html'));
  const rootFiles = new Set(
    built
      ? readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isFile() && e.name !== 'index.html')
          .map((e) => e.name)
      : [],
  );
  const config = { auth: 'public' as const, rateLimit: false as const };
  // Built files never change under the same name: each is compressed once, on first request.
  const gzCache = new Map<string, Buffer>();
  const gzipped = (rel: string): Buffer => {
    let b = gzCache.get(rel);
    if (!b) gzCache.set(rel, (b = gzipSync(readFileSync(path.join(dir, 'assets', rel)), { level: 9 })));
    return b;
  };
  await app.register(async (scope) => {
    if (built) await scope.register(fastifyStatic, { root: dir, serve: false, cacheControl: false });

    const page = (reply: FastifyReply) => {
      reply.headers(HTML_HEADERS).type('text/html; charset=utf-8');
      return built ? reply.sendFile('index.html') : reply.send(NOT_BUILT);
    };

    scope.route<{ Params: { '*': string } }>({
      method: ['GET', 'HEAD'],
      url: '/assets/*',
      config,
      schema: { hide: true },
      handler: (req, reply) => {
        const rel = req.params['*'];
        if (!built || !rel || rel.includes('..') || !existsSync(path.join(dir, 'assets', rel))) return reply.callNotFound();
        reply.header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff').header('vary', 'accept-encoding');
        const gz = /\.(js|css|svg|json)$/.test(rel) && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? gzipped(rel) : null;
        if (gz)
          return reply
            .header('content-encoding', 'gzip')
            .type(rel.endsWith('.css') ? 'text/css; charset=utf-8' : rel.endsWith('.svg') ? 'image/svg+xml' : 'application/javascript; charset=utf-8')
            .send(gz);
        return reply.sendFile(path.posix.join('assets', rel));
      },
    });

    scope.route({ method: ['GET', 'HEAD'], url: '/', config, schema: { hide: true }, handler: (_req, reply) => page(reply) });

    // The SPA fallback: lowest priority in the router (a wildcard), and it steps aside for reserved paths.
    scope.route({
      method: ['GET', 'HEAD'],
      url: '/*',
      config,
      schema: { hide: true },
      handler: (req, reply) => {
        const url = req.url.split('?')[0]!;
        if (reserved(url)) return reply.callNotFound();
        const name = url.slice(1);
        if (rootFiles.has(name)) {
          reply.header('cache-control', 'public, max-age=3600');
          return reply.sendFile(name);
        }
        if (path.posix.extname(url)) return reply.callNotFound();
        return page(reply);
      },
    });
  });
}
