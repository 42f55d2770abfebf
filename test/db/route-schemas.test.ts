import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

// Route schemas compile on a route's first request (src/app/lazy-schemas.ts). This compiles every
// one of them, the five facades' included, so a schema that does not compile fails here rather
// than on a user's first request; and checks that validation answers the same when lazy.
describe('route schemas, compiled on first use', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { TRAINYARD_COMPAT: 'neurolab,training-service,lora-credits,selfi,qlora' } });
  });
  afterAll(async () => t?.close());

  it('validates a route on its first request as it did when compiled at start', async () => {
    const res = await fetch(`${t.url}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'lazyschemas', email: 'lazy@example.com', password: 'correct horse battery 9', role: 'admin' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('VALIDATION_ERROR');
    expect(body.error.message).toMatch(/additional propert/);
    // Query strings are still coerced and checked (the params compiler, not the body one).
    const signup = await fetch(`${t.url}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'lazyschemas', email: 'lazy@example.com', password: 'correct horse battery 9' }),
    });
    expect(signup.status).toBe(201);
    const login = await fetch(`${t.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'lazyschemas', password: 'correct horse battery 9' }),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    const bad = await fetch(`${t.url}/v1/jobs?limit=abc`, { headers: { authorization: `Bearer ${token}` } });
    expect(bad.status).toBe(400);
    const ok = await fetch(`${t.url}/v1/jobs?limit=2`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('every route schema of the server and its facades compiles', () => {
    const app = t.rt.app!;
    const compiled = app.compileRouteSchemas();
    // Hundreds: each route's validators and one serializer per documented answer.
    expect(compiled).toBeGreaterThan(500);
    expect(app.compileRouteSchemas()).toBe(0);
  });
});
