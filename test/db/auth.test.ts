import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

let t: TestApp;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  t = await startTestApp({
    env: { TRAINYARD_ADMIN_USERNAME: 'root', TRAINYARD_ADMIN_PASSWORD: 'admin password 123', LOGIN_MAX_FAILURES: '3', LOGIN_LOCK_SECONDS: '60' },
  });
  api = client(t.url);
});
afterAll(() => t.close());

describe('signup', () => {
  it('creates a user (201) without ever returning the password or its hash', async () => {
    const r = await api.post('/v1/auth/signup', { username: 'alice', email: 'alice@example.com', password: 'wonderland 42!' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: 'alice', email: 'alice@example.com', role: 'user' });
    expect(r.body.id).toMatch(/^usr_[0-9a-z]{20}$/);
    expect(JSON.stringify(r.body)).not.toMatch(/password|argon/);
    const { rows } = await t.testDb.db.query<{ password_hash: string }>('select password_hash from users where id = $1', [r.body.id]);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
  });

  it.each([
    [{ username: 'alice', email: 'other@example.com', password: 'another pass 9' }, 'USERNAME_TAKEN'],
    [{ username: 'ALICE', email: 'other@example.com', password: 'another pass 9' }, 'USERNAME_TAKEN'],
    [{ username: 'bob', email: 'Alice@Example.com', password: 'another pass 9' }, 'EMAIL_TAKEN'],
    [{ username: 'bob', email: 'bob@example.com', password: 'short' }, 'WEAK_PASSWORD'],
    [{ username: 'bob', email: 'bob@example.com', password: 'aaaaaaaaaaaaaaa' }, 'WEAK_PASSWORD'],
    [{ username: 'bobby', email: 'bob@example.com', password: 'bobby is great 1' }, 'WEAK_PASSWORD'],
    [{ username: 'b', email: 'bob@example.com', password: 'another pass 9' }, 'INVALID_USERNAME'],
    [{ username: 'bob', email: 'not-an-email', password: 'another pass 9' }, 'INVALID_EMAIL'],
    [{ username: 'bob', email: 'bob@example.com' }, 'VALIDATION_ERROR'],
    [{ username: 'bob', email: 'bob@example.com', password: 'another pass 9', role: 'admin' }, 'VALIDATION_ERROR'],
  ])('refuses %j with 400 %s', async (body, code) => {
    const r = await api.post('/v1/auth/signup', body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message).toEqual(expect.any(String));
  });

  it('never lets a client choose its role', async () => {
    const r = await api.post('/v1/auth/signup', { username: 'mallory', email: 'm@example.com', password: 'sneaky pass 77', role: 'admin' });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].property).toBe('role');
    const { rows } = await t.testDb.db.query('select 1 from users where username = $1', ['mallory']);
    expect(rows).toHaveLength(0);
  });

  it('rejects malformed JSON with a clear code', async () => {
    const r = await api.call('POST', '/v1/auth/signup', { body: '{"username": ', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('INVALID_JSON');
  });
});

describe('login, me, tokens', () => {
  it('logs in by username or email and returns a bearer token that /v1/me accepts', async () => {
    for (const login of ['alice', 'alice@example.com', 'Alice']) {
      const r = await api.post('/v1/auth/login', { username: login, password: 'wonderland 42!' });
      expect(r.status).toBe(200);
      expect(r.body.token_type).toBe('bearer');
      const me = await api.get('/v1/me', r.body.access_token);
      expect(me.status).toBe(200);
      expect(me.body.username).toBe('alice');
    }
  });

  it('answers 401 for wrong credentials, missing, malformed or forged tokens', async () => {
    expect((await api.post('/v1/auth/login', { username: 'alice', password: 'wrong password!' })).status).toBe(401);
    expect((await api.post('/v1/auth/login', { username: 'nobody', password: 'wrong password!' })).body.error.code).toBe('INVALID_CREDENTIALS');
    expect((await api.get('/v1/me')).status).toBe(401);
    expect((await api.call('GET', '/v1/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfeCIsImlzcyI6InRyYWlueWFyZCJ9.c2lnbmF0dXJl';
    const r = await api.get('/v1/me', forged);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('INVALID_TOKEN');
  });

  it('throttles repeated failures per account with 429 and Retry-After, even with the right password', async () => {
    const carol = await api.user('carol', 'her secret 99');
    for (let i = 0; i < 3; i++) expect((await api.post('/v1/auth/login', { username: 'carol', password: 'guess ' + i })).status).toBe(401);
    const locked = await api.post('/v1/auth/login', { username: 'carol', password: 'her secret 99' });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('TOO_MANY_LOGIN_ATTEMPTS');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // The lock is shared state in the database, not per process memory.
    // Keyed by the account it resolved to, so other spellings of it share the count.
    const { rows } = await t.testDb.db.query<{ failures: number }>('select failures from login_failures where key = $1', [`account:${carol.id}`]);
    expect(rows[0]!.failures).toBe(3);
  });
});

describe('API keys', () => {
  it('shows the secret once, stores only a hash, authenticates, lists with last use, and revokes', async () => {
    const alice = await api.post('/v1/auth/login', { username: 'alice', password: 'wonderland 42!' });
    const token = alice.body.access_token as string;
    const created = await api.post('/v1/api-keys', { name: 'ci' }, token);
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^ty_/);
    const { rows } = await t.testDb.db.query<{ secret_hash: string }>('select secret_hash from api_keys where id = $1', [created.body.id]);
    expect(rows[0]!.secret_hash).not.toContain(secret);
    expect(rows[0]!.secret_hash).toMatch(/^[0-9a-f]{64}$/);

    const me = await api.get('/v1/me', secret);
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('alice');

    const list = await api.get('/v1/api-keys', token);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id: created.body.id, name: 'ci', prefix: secret.slice(0, 11) });
    expect(list.body.data[0].last_used_at).not.toBeNull();
    expect(list.body.data[0].secret).toBeUndefined();

    expect((await api.del(`/v1/api-keys/${created.body.id}`, token)).status).toBe(204);
    const after = await api.get('/v1/me', secret);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('INVALID_API_KEY');
    expect((await api.get('/v1/api-keys', token)).body.data).toHaveLength(0);
  });

  it("cannot revoke another user's key (404, key keeps working)", async () => {
    const dave = await api.user('dave');
    const eve = await api.user('eve');
    const key = await api.post('/v1/api-keys', { name: 'dave key' }, dave.token);
    expect((await api.del(`/v1/api-keys/${key.body.id}`, eve.token)).status).toBe(404);
    expect((await api.get('/v1/me', key.body.secret)).status).toBe(200);
  });
});

describe('roles', () => {
  it('bootstraps the admin from the environment; admins reach admin routes, users get 403', async () => {
    const admin = await api.post('/v1/auth/login', { username: 'root', password: 'admin password 123' });
    expect(admin.status).toBe(200);
    const me = await api.get('/v1/me', admin.body.access_token);
    expect(me.body.role).toBe('admin');
    const users = await api.get('/v1/admin/users?limit=2', admin.body.access_token);
    expect(users.status).toBe(200);
    expect(users.body.data).toHaveLength(2);
    const next = await api.get(`/v1/admin/users?limit=2&cursor=${users.body.next_cursor}`, admin.body.access_token);
    expect(next.body.data.map((u: { id: string }) => u.id)).not.toContain(users.body.data[0].id);

    const alice = await api.post('/v1/auth/login', { username: 'alice', password: 'wonderland 42!' });
    const denied = await api.get('/v1/admin/users', alice.body.access_token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('ADMIN_ONLY');
    expect((await api.get('/v1/admin/users')).status).toBe(401);
  });

  it('a promotion made in SQL, outside the API, reaches the cached principal: the same token becomes an admin’s', async () => {
    const frank = await api.user('frank');
    expect((await api.get('/v1/admin/users', frank.token)).status).toBe(403);
    await t.testDb.db.query("update users set role = 'admin' where id = $1", [frank.id]);
    // The trigger's NOTIFY travels on its own connection: effective once it arrives (the API's own changes wait for it).
    await waitFor(
      () => api.get('/v1/admin/users', frank.token),
      (r) => r.status === 200,
      { message: 'the promotion to reach the principal cache' },
    );
  });
});

describe('closed signup', () => {
  it('refuses signups with 403 SIGNUP_CLOSED when the policy is closed', async () => {
    const closed = await startTestApp({ env: { SIGNUP_POLICY: 'closed' } });
    try {
      const r = await client(closed.url).post('/v1/auth/signup', { username: 'zed', email: 'z@example.com', password: 'zed password 1' });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('SIGNUP_CLOSED');
    } finally {
      await closed.close();
    }
  });
});
