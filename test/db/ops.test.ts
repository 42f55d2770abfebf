import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, loadMigrations } from '../../src/db/migrate.js';
import { openPg } from '../../src/db/pg.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { TEST_STORE } from '../helpers/s3-server.js';

let t: TestApp;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_DEFAULT: '5/1m', RATE_LIMIT_AUTH: '3/1m' } });
  api = client(t.url);
});
afterAll(() => t.close());

describe('operations endpoints', () => {
  it('/healthz and /readyz report the database and applied migrations', async () => {
    expect((await api.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await api.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', database: TEST_DB === 'postgres' ? 'pg' : 'pglite', pending_migrations: 0, storage: TEST_STORE });
  });

  it('/metrics speaks Prometheus and counts requests by route pattern', async () => {
    await api.get('/v1/files/file_abc');
    const m = await api.get('/metrics');
    expect(m.headers.get('content-type')).toMatch(/text\/plain/);
    expect(m.body).toMatch(/trainyard_http_request_duration_seconds_count\{method="GET",route="\/v1\/files\/:id",status="401"\} 1/);
    expect(m.body).toMatch(/trainyard_process_cpu_seconds_total/);
  });

  it('/openapi.json is OpenAPI 3.1 built from the route schemas, and /docs serves the browser', async () => {
    const spec = await api.get('/openapi.json');
    expect(spec.body.openapi).toBe('3.1.0');
    for (const p of [
      '/v1/auth/signup',
      '/v1/auth/login',
      '/v1/me',
      '/v1/api-keys',
      '/v1/files',
      '/v1/uploads',
      '/v1/uploads/{id}/complete',
      '/v1/files/import',
      '/v1/datasets',
      '/v1/datasets/{id}',
      '/v1/trainers',
      '/v1/base-models',
      '/v1/base-models/{id}',
    ]) {
      expect(spec.body.paths, p).toHaveProperty([p]);
    }
    expect(spec.body.paths['/v1/datasets'].post.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
    const docs = await api.get('/docs/');
    expect(docs.status).toBe(200);
    expect(docs.body).toMatch(/swagger/i);
  });

  it('echoes or assigns a request id', async () => {
    const given = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    expect((await api.get('/healthz')).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('unknown routes get a 404 in the standard error shape', async () => {
    const r = await api.get('/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('rejects a JSON body over the limit with 413', async () => {
    const r = await api.call('POST', '/v1/auth/login', {
      body: JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024), password: 'y' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('rate limits', () => {
  it('limits per caller, not per address: one user hitting the limit leaves another untouched', async () => {
    const admin = t.rt.services.accounts;
    await admin.signup({ username: 'ratey', email: 'r@example.com', password: 'rate limited 1' });
    await admin.signup({ username: 'other', email: 'o@example.com', password: 'second person 1' });
    // Straight through the service so the auth limit (3/min) is not what we measure.
    const a = (await admin.login('ratey', 'rate limited 1', '10.9.9.9')).access_token;
    const b = (await admin.login('other', 'second person 1', '10.9.9.9')).access_token;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await api.get('/v1/me', a)).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const limited = await api.get('/v1/me', a);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api.get('/v1/me', b)).status).toBe(200);
    // Health checks are never limited.
    for (let i = 0; i < 10; i++) expect((await api.get('/healthz')).status).toBe(200);
  });

  it('applies the tighter auth limit to login by address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await api.post('/v1/auth/login', { username: 'nobody', password: 'whatever 123' })).status);
    expect(codes).toEqual([401, 401, 401, 429]);
  });
});

describe('migrations', () => {
  it('are numbered, and two processes migrating at once apply each exactly once', async () => {
    const all = await loadMigrations();
    expect(all.map((m) => m.id)).toEqual(all.map((_, i) => i + 1));
    if (TEST_DB !== 'postgres' || !t.testDb.url) {
      // PGlite is one process: concurrent calls serialise on its backend.
      const results = await Promise.all([migrate(t.testDb.db), migrate(t.testDb.db)]);
      expect(results).toEqual([[], []]);
      return;
    }
    // A brand-new database, two independent pools racing to migrate it.
    const { createTestDatabase } = await import('../helpers/db.js');
    const fresh = await createTestDatabase();
    const second = await openPg(fresh.url!);
    try {
      const results = await Promise.all([migrate(fresh.db), migrate(second)]);
      expect(results.map((r) => r.length).sort()).toEqual([0, all.length]);
      const { rows } = await fresh.db.query<{ n: number }>('select count(*)::int as n from trainyard_migrations');
      expect(rows[0]!.n).toBe(all.length);
    } finally {
      await second.close();
      await fresh.drop();
    }
  });
});
