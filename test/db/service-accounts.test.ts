import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob } from '../helpers/wait.js';

// Two canonical additions of issue #11: service accounts (an admin-made principal with no
// password that acts through API keys an admin creates) and GET /v1/jobs?model_name=.

const ADMIN = { username: 'root-op', password: 'correct horse battery staple' };
let t: TestApp;
let api: ReturnType<typeof client>;
let admin: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-sa-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({
    dataDir,
    env: { TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password, WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '100' },
  });
  api = client(t.url);
  admin = (await api.post('/v1/auth/login', ADMIN)).body.access_token;
});
afterAll(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('service accounts', () => {
  it('an admin creates one; it has no password, cannot log in, and is listed as a service account', async () => {
    const created = await api.post('/v1/admin/service-accounts', { username: 'ci-bot' }, admin);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ username: 'ci-bot', role: 'user', service_account: true });
    const list = await api.get('/v1/admin/service-accounts', admin);
    expect(list.body.data.map((u: { username: string }) => u.username)).toContain('ci-bot');
    // No password verifies, not even the empty one or the marker stored in its place.
    for (const password of ['!', 'x', 'correct horse battery staple']) {
      const login = await api.post('/v1/auth/login', { username: 'ci-bot', password });
      expect(login.status).toBe(401);
      expect(login.body.error.code).toBe('INVALID_CREDENTIALS');
    }
    expect((await api.post('/v1/admin/service-accounts', { username: 'ci-bot' }, admin)).body.error.code).toBe('USERNAME_TAKEN');
    expect((await api.post('/v1/admin/service-accounts', { username: '-x' }, admin)).body.error.code).toBe('INVALID_USERNAME');
  });

  it('only admins manage them: a user gets 403, an anonymous caller 401', async () => {
    const u = await api.user('plain-user');
    expect((await api.post('/v1/admin/service-accounts', { username: 'mine' }, u.token)).status).toBe(403);
    expect((await api.get('/v1/admin/service-accounts', u.token)).status).toBe(403);
    expect((await api.post('/v1/admin/service-accounts/ci-bot/api-keys', { name: 'k' }, u.token)).status).toBe(403);
    expect((await api.get('/v1/admin/service-accounts')).status).toBe(401);
  });

  it('an admin session mints its API keys; the key acts as the account, which pays for its jobs with granted credits', async () => {
    const key = await api.post('/v1/admin/service-accounts/ci-bot/api-keys', { name: 'pipeline' }, admin);
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    const secret = key.body.secret as string;
    const me = await api.get('/v1/me', secret);
    expect(me.body).toMatchObject({ username: 'ci-bot', service_account: true, role: 'user' });
    // A service account starts with nothing: it gets no signup grant.
    expect((await api.get('/v1/credits/balance', secret)).body.balance).toBe(0);
    const grant = await api.post('/v1/admin/credits/grants', { username: 'ci-bot', credits: 50 }, admin);
    expect(grant.status).toBe(201);
    expect((await api.get('/v1/credits/balance', secret)).body.balance).toBe(50);
    // Its key cannot mint keys (no session), for itself or through the admin route.
    expect((await api.post('/v1/api-keys', { name: 'more' }, secret)).body.error.code).toBe('SESSION_REQUIRED');
    const listed = await api.get('/v1/admin/service-accounts/ci-bot/api-keys', admin);
    expect(listed.body.data.map((k: { name: string }) => k.name)).toEqual(['pipeline']);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const revoke = await api.del(`/v1/admin/service-accounts/ci-bot/api-keys/${key.body.id}`, admin);
    expect(revoke.status).toBe(204);
    expect((await api.get('/v1/me', secret)).status).toBe(401);
  });

  it('an admin acting with an API key cannot mint keys for one; a person’s account is not a service account (404)', async () => {
    const adminKey = (await api.post('/v1/api-keys', { name: 'admin-key' }, admin)).body.secret;
    const r = await api.post('/v1/admin/service-accounts/ci-bot/api-keys', { name: 'k' }, adminKey);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('SESSION_REQUIRED');
    const person = await api.post('/v1/admin/service-accounts/plain-user/api-keys', { name: 'k' }, admin);
    expect(person.status).toBe(404);
    expect(person.body.error.code).toBe('SERVICE_ACCOUNT_NOT_FOUND');
    expect((await api.get('/v1/admin/service-accounts/nobody/api-keys', admin)).status).toBe(404);
  });

  it('ensureServiceAccount creates once, then finds it; it never takes over a person’s account', async () => {
    const a = await t.rt.services.accounts.ensureServiceAccount('facade-bot');
    const b = await t.rt.services.accounts.ensureServiceAccount('facade-bot');
    expect(a.created).toBe(true);
    expect(b).toMatchObject({ id: a.id, created: false, service_account: true });
    await expect(t.rt.services.accounts.ensureServiceAccount('plain-user')).rejects.toMatchObject({ code: 'NOT_A_SERVICE_ACCOUNT' });
  });
});

describe('GET /v1/jobs?model_name=', () => {
  it('lists the caller’s jobs whose output model has that name, and only the caller’s', async () => {
    const u = await api.user('model-filter');
    const other = await api.user('model-filter-2');
    const ds = await csvDataset(api, u.token, 'mf');
    const ds2 = await csvDataset(api, other.token, 'mf');
    const start = async (token: string, dataset: string, model: string) => {
      const r = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: dataset, hyperparameters: { steps: 1 }, output: { model_name: model } }, token);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return r.body.id as string;
    };
    const a1 = await start(u.token, ds, 'alpha');
    const b1 = await start(u.token, ds, 'beta');
    const a2 = await start(u.token, ds, 'alpha');
    await start(other.token, ds2, 'alpha');
    for (const id of [a1, b1, a2]) await waitForJob(api, u.token, id);
    const alpha = await api.get('/v1/jobs?model_name=alpha', u.token);
    expect(alpha.status).toBe(200);
    expect(alpha.body.data.map((j: { id: string }) => j.id)).toEqual([a2, a1]);
    expect((await api.get('/v1/jobs?model_name=beta&limit=1', u.token)).body.data.map((j: { id: string }) => j.id)).toEqual([b1]);
    expect((await api.get('/v1/jobs?model_name=nothing', u.token)).body.data).toEqual([]);
    expect((await api.get('/v1/jobs?model_name=', u.token)).status).toBe(400);
    const doc = (await api.get('/openapi.json')).body;
    expect(doc.paths['/v1/jobs'].get.parameters.map((p: { name: string }) => p.name)).toContain('model_name');
  });
});
