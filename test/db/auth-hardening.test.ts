import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/storage/signing.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';

// Issue #10: login lockout follows the account, JWTs must expire, API keys cannot mint keys.

let t: TestApp;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  t = await startTestApp({ env: { LOGIN_MAX_FAILURES: '5', LOGIN_LOCK_SECONDS: '300' } });
  api = client(t.url);
});
afterAll(() => t.close());

const login = (username: string, password: string, ip?: string) =>
  api.call('POST', '/v1/auth/login', { json: { username, password }, ...(ip ? { headers: { 'x-forwarded-for': ip } } : {}) });

describe('login lockout', () => {
  it('locks the account, whichever spelling of it was typed', async () => {
    const carol = await api.user('carol');
    for (let i = 0; i < 5; i++) expect((await login('carol', 'wrong password here')).status).toBe(401);
    expect((await login('carol', carol.password)).status).toBe(429);
    for (const spelling of ['carol@example.com', 'CAROL', 'Carol@Example.COM', ' carol ']) {
      const r = await login(spelling, carol.password);
      expect(r.status, spelling).toBe(429);
      expect(r.body.error.code).toBe('TOO_MANY_LOGIN_ATTEMPTS');
      expect(r.body.access_token).toBeUndefined();
    }
  });

  it('counts failures across spellings toward one lock', async () => {
    const dave = await api.user('dave');
    for (const spelling of ['dave', 'DAVE', 'dave@example.com', 'Dave@example.com', 'dAvE'])
      expect((await login(spelling, 'not the password')).status).toBe(401);
    expect((await login('dave', dave.password)).status).toBe(429);
  });

  it('still locks a name that is no account (the address allowance is kept too)', async () => {
    for (let i = 0; i < 5; i++) expect((await login('nobody-here', 'whatever it is')).status).toBe(401);
    expect((await login('nobody-here', 'whatever it is')).status).toBe(429);
  });
});

describe('access tokens', () => {
  const key = () => deriveKey(t.rt.services.config.secret, 'jwt');

  it('refuses a correctly signed JWT without exp', async () => {
    const erin = await api.user('erin');
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(erin.id).setIssuer('trainyard').setIssuedAt().sign(key());
    const r = await api.get('/v1/me', token);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('INVALID_TOKEN');
    expect((await api.get('/v1/me', erin.token)).status).toBe(200);
  });

  it('refuses a correctly signed JWT that expires far beyond the configured lifetime', async () => {
    const fred = await api.user('fred');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(fred.id)
      .setIssuer('trainyard')
      .setIssuedAt()
      .setExpirationTime('3650d')
      .sign(key());
    expect((await api.get('/v1/me', token)).status).toBe(401);
  });
});

describe('API keys', () => {
  it('cannot create API keys (403 SESSION_REQUIRED); a login session can', async () => {
    const gina = await api.user('gina');
    const parent = await api.post('/v1/api-keys', { name: 'parent' }, gina.token);
    expect(parent.status).toBe(201);
    const child = await api.post('/v1/api-keys', { name: 'child' }, parent.body.secret);
    expect(child.status).toBe(403);
    expect(child.body.error.code).toBe('SESSION_REQUIRED');
    expect((await api.get('/v1/api-keys', gina.token)).body.data.map((k: { name: string }) => k.name)).toEqual(['parent']);
    // The parent still works for everything else.
    expect((await api.get('/v1/me', parent.body.secret)).status).toBe(200);
  });
});

describe('client addresses behind a proxy', () => {
  let p: TestApp;
  beforeAll(async () => {
    // TRUST_PROXY as any boolean setting is written (it was read only as the exact string "true").
    p = await startTestApp({ env: { TRUST_PROXY: '1', RATE_LIMIT_AUTH: '3/1m' } });
  });
  afterAll(() => p?.close());

  it('counts an IPv6 client by its /64: rotating addresses within it shares one budget', async () => {
    const from = (ip: string) =>
      client(p.url)
        .call('POST', '/v1/auth/login', { json: { username: 'nobody-v6', password: 'wrong password here' }, headers: { 'x-forwarded-for': ip } })
        .then((r) => r.status);
    const rotated = [];
    for (const host of ['a', 'b', 'c', 'd']) rotated.push(await from(`2001:db8:1:2::${host}`));
    expect(rotated).toEqual([401, 401, 401, 429]);
    // Another /64, and an IPv4 client, have budgets of their own.
    expect(await from('2001:db8:1:3::a')).toBe(401);
    expect(await from('198.51.100.7')).toBe(401);
  });
});
