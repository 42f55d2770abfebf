import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';

// PATCH /v1/admin/users/{id} (issue #14, the dashboard's admin page): an admin promotes or
// demotes an account and disables or enables it; the change holds from the account's next
// request on, because every API process drops its cached principals when an account changes (NOTIFY).

const ADMIN = { username: 'root-admin', password: 'correct horse battery staple' };
let t: TestApp;
let api: ReturnType<typeof client>;
let admin: string;
let adminId: string;

const patch = (id: string, json: unknown, token?: string) =>
  api.call('PATCH', `/v1/admin/users/${encodeURIComponent(id)}`, { json, ...(token ? { token } : {}) });

beforeAll(async () => {
  t = await startTestApp({ env: { TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password } });
  api = client(t.url);
  admin = (await api.post('/v1/auth/login', ADMIN)).body.access_token;
  adminId = (await api.get('/v1/me', admin)).body.id;
});
afterAll(async () => {
  await t?.close();
});

describe('PATCH /v1/admin/users/{id}', () => {
  it('promotes a user to admin and back; the new role holds on the next request', async () => {
    const u = await api.user('promoted');
    expect((await api.get('/v1/admin/users', u.token)).status).toBe(403);
    const up = await patch(u.id, { role: 'admin' }, admin);
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toMatchObject({ id: u.id, username: 'promoted', role: 'admin', disabled: false, disabled_at: null, service_account: false });
    // The same token, now an admin's.
    expect((await api.get('/v1/admin/users', u.token)).status).toBe(200);
    // By username too, like the other admin routes.
    const down = await patch('promoted', { role: 'user' }, admin);
    expect(down.body.role).toBe('user');
    const refused = await api.get('/v1/admin/users', u.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('ADMIN_ONLY');
  });

  it('disables an account: its session token and its API key are refused on the next request; enabling lets both in again', async () => {
    const u = await api.user('to-disable');
    const key = (await api.post('/v1/api-keys', { name: 'k' }, u.token)).body.secret as string;
    expect((await api.get('/v1/me', u.token)).status).toBe(200);
    expect((await api.get('/v1/me', key)).status).toBe(200);

    const off = await patch(u.id, { disabled: true }, admin);
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.disabled).toBe(true);
    expect(Date.parse(off.body.disabled_at)).not.toBeNaN();

    const jwt = await api.get('/v1/me', u.token);
    expect([jwt.status, jwt.body.error.code]).toEqual([401, 'INVALID_TOKEN']);
    const byKey = await api.get('/v1/me', key);
    expect([byKey.status, byKey.body.error.code]).toEqual([401, 'INVALID_API_KEY']);
    const login = await api.post('/v1/auth/login', { username: 'to-disable', password: u.password });
    expect([login.status, login.body.error.code]).toEqual([401, 'INVALID_CREDENTIALS']);

    // Disabling again keeps the first stamp; the list says so.
    const again = await patch(u.id, { disabled: true }, admin);
    expect(again.body.disabled_at).toBe(off.body.disabled_at);
    const listed = (await api.get('/v1/admin/users?limit=200', admin)).body.data.find((x: { id: string }) => x.id === u.id);
    expect(listed).toMatchObject({ disabled: true, disabled_at: off.body.disabled_at });

    const on = await patch(u.id, { disabled: false }, admin);
    expect(on.body).toMatchObject({ disabled: false, disabled_at: null });
    expect((await api.get('/v1/me', u.token)).status).toBe(200);
    expect((await api.get('/v1/me', key)).status).toBe(200);
    expect((await api.post('/v1/auth/login', { username: 'to-disable', password: u.password })).status).toBe(200);
    const relisted = (await api.get('/v1/admin/users?limit=200', admin)).body.data.find((x: { id: string }) => x.id === u.id);
    expect(relisted).toMatchObject({ disabled: false, disabled_at: null });
  });

  it('role and disabled in one request', async () => {
    const u = await api.user('both-at-once');
    const r = await patch(u.id, { role: 'admin', disabled: true }, admin);
    expect(r.body).toMatchObject({ role: 'admin', disabled: true });
    expect((await api.get('/v1/me', u.token)).status).toBe(401);
  });

  it('an admin cannot demote or disable themself (409 CANNOT_CHANGE_SELF); a no-op on themself is fine', async () => {
    for (const body of [{ role: 'user' }, { disabled: true }, { role: 'admin', disabled: true }]) {
      const r = await patch(adminId, body, admin);
      expect([r.status, r.body.error.code]).toEqual([409, 'CANNOT_CHANGE_SELF']);
    }
    expect((await patch(ADMIN.username, { role: 'user' }, admin)).status).toBe(409);
    const same = await patch(adminId, { role: 'admin', disabled: false }, admin);
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ role: 'admin', disabled: false });
    expect((await api.get('/v1/me', admin)).body.role).toBe('admin');
  });

  it('another admin can demote or disable an admin', async () => {
    const other = await api.user('second-admin');
    await patch(other.id, { role: 'admin' }, admin);
    const r = await patch(adminId, { disabled: true }, other.token);
    expect(r.status).toBe(200);
    expect((await api.get('/v1/me', admin)).status).toBe(401);
    // The second admin enables the first again (and is then demoted by it).
    expect((await patch(adminId, { disabled: false }, other.token)).status).toBe(200);
    expect((await api.get('/v1/me', admin)).status).toBe(200);
    expect((await patch(other.id, { role: 'user' }, admin)).body.role).toBe('user');
  });

  it('a service account or a bot never becomes an admin (409 ROLE_NOT_ALLOWED); both can be disabled', async () => {
    const sa = await api.post('/v1/admin/service-accounts', { username: 'ci-runner' }, admin);
    expect(sa.status).toBe(201);
    const r = await patch(sa.body.id, { role: 'admin' }, admin);
    expect([r.status, r.body.error.code]).toEqual([409, 'ROLE_NOT_ALLOWED']);
    // user → user is no change: allowed.
    expect((await patch(sa.body.id, { role: 'user' }, admin)).status).toBe(200);

    const bot = await api.post('/v1/admin/bots', { provider: 'telegram', name: 'tg-bot' }, admin);
    expect(bot.status, JSON.stringify(bot.body)).toBe(201);
    for (const role of ['admin', 'user']) {
      const b = await patch(bot.body.bot.id, { role }, admin);
      expect([b.status, b.body.error.code]).toEqual([409, 'ROLE_NOT_ALLOWED']);
    }
    const botKey = bot.body.api_key.secret as string;
    expect((await api.call('GET', '/v1/me', { token: botKey, headers: { 'x-on-behalf-of': 'u-1' } })).status).toBe(200);
    const off = await patch(bot.body.bot.id, { disabled: true }, admin);
    expect(off.body).toMatchObject({ role: 'bot', disabled: true });
    const refused = await api.call('GET', '/v1/me', { token: botKey, headers: { 'x-on-behalf-of': 'u-1' } });
    expect([refused.status, refused.body.error.code]).toEqual([401, 'INVALID_API_KEY']);
  });

  it('404 for an unknown account, 403 for a non-admin, 401 without credentials', async () => {
    const missing = await patch('usr_nobody', { disabled: true }, admin);
    expect([missing.status, missing.body.error.code]).toEqual([404, 'USER_NOT_FOUND']);
    const u = await api.user('plain-one');
    const victim = await api.user('victim-one');
    const forbidden = await patch(victim.id, { disabled: true }, u.token);
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'ADMIN_ONLY']);
    // Not even on themself.
    expect((await patch(u.id, { role: 'admin' }, u.token)).status).toBe(403);
    expect((await patch(victim.id, { disabled: true })).status).toBe(401);
    expect((await api.get('/v1/me', victim.token)).status).toBe(200);
  });

  it('400 for a body that is empty, has unknown fields or wrong types, or a role that is not user or admin', async () => {
    const u = await api.user('body-checks');
    for (const body of [{}, { role: 'bot' }, { role: 'root' }, { disabled: 'yes' }, { disabled: true, extra: 1 }, { role: null }, [], 'x', null]) {
      const r = await patch(u.id, body, admin);
      expect([JSON.stringify(body), r.status, r.body.error.code]).toEqual([JSON.stringify(body), 400, expect.any(String)]);
    }
    const raw = await api.call('PATCH', `/v1/admin/users/${u.id}`, { token: admin, body: 'not json', headers: { 'content-type': 'application/json' } });
    expect(raw.status).toBe(400);
    // Nothing changed.
    const me = await api.get('/v1/me', u.token);
    expect(me.body.role).toBe('user');
  });

  it('is documented in /openapi.json with its body and the admin user shape', async () => {
    const doc = (await api.get('/openapi.json')).body;
    const op = doc.paths['/v1/admin/users/{id}'].patch;
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409']));
    const body = op.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({ additionalProperties: false, minProperties: 1 });
    expect(body.properties.role.enum).toEqual(['user', 'admin']);
    const list = doc.paths['/v1/admin/users'].get.responses['200'].content['application/json'].schema;
    expect(list.properties.data.items.properties).toHaveProperty('disabled');
  });
});
