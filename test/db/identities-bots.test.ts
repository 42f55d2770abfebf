import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { waitForJob } from '../helpers/wait.js';

// Issue #12's canonical additions for bots: external identities, the bot principal acting for
// its provider's users (X-On-Behalf-Of), purchases recorded once per payment id, and ledger
// entries that carry their purpose and job.

const ADMIN = { username: 'root-op', password: 'correct horse battery staple' };
let t: TestApp;
let api: ReturnType<typeof client>;
let admin: string;
let dataDir: string;
const logs: Array<Record<string, unknown>> = [];

/** A call with a bot's key, acting for `user` when given. */
const asBot = (key: string, user: string | null, method: string, p: string, json?: unknown) =>
  api.call(method, p, { token: key, ...(json !== undefined ? { json } : {}), ...(user !== null ? { headers: { 'x-on-behalf-of': user } } : {}) });

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-bots-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({
    dataDir,
    logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
    env: { TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password, WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '100' },
  });
  api = client(t.url);
  admin = (await api.post('/v1/auth/login', ADMIN)).body.access_token;
});
afterAll(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function createBot(name: string, provider: string, signup_grant?: boolean) {
  const r = await api.post('/v1/admin/bots', { name, provider, ...(signup_grant === undefined ? {} : { signup_grant }) }, admin);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.bot.id as string, key: r.body.api_key.secret as string, body: r.body };
}

describe('bots', () => {
  it('an admin creates a bot for one provider; its key is shown once; it is a service account of role bot', async () => {
    const bot = await createBot('tg-bot', 'telegram');
    expect(bot.body.bot).toMatchObject({ username: 'tg-bot', provider: 'telegram', signup_grant: true });
    expect(bot.key).toMatch(/^ty_/);
    expect((await api.get('/v1/admin/bots', admin)).body.data.map((b: { username: string }) => b.username)).toContain('tg-bot');
    const keys = await api.get(`/v1/admin/service-accounts/${bot.id}/api-keys`, admin);
    expect(keys.body.data).toHaveLength(1);
    expect(JSON.stringify(keys.body)).not.toContain(bot.key);
    // A bot may ask who it is, and nothing else without naming a user.
    expect((await asBot(bot.key, null, 'GET', '/v1/me')).body).toMatchObject({ username: 'tg-bot', role: 'bot', service_account: true });
    const bare = await asBot(bot.key, null, 'GET', '/v1/credits/balance');
    expect(bare.status).toBe(403);
    expect(bare.body.error.code).toBe('BOT_NEEDS_USER');
    // Role checks are explicit: a bot is no admin.
    expect((await asBot(bot.key, null, 'GET', '/v1/admin/users')).status).toBe(403);
    expect((await api.post('/v1/auth/login', { username: 'tg-bot', password: '!' })).status).toBe(401);
  });

  it('only admins create bots, from a login session; bad providers and names are refused', async () => {
    const u = await api.user('bot-wannabe');
    expect((await api.post('/v1/admin/bots', { name: 'mine', provider: 'telegram' }, u.token)).status).toBe(403);
    const adminKey = (await api.post('/v1/api-keys', { name: 'admin-key' }, admin)).body.secret;
    expect((await api.post('/v1/admin/bots', { name: 'keyed', provider: 'telegram' }, adminKey)).body.error.code).toBe('SESSION_REQUIRED');
    expect((await api.post('/v1/admin/bots', { name: 'x1-bot', provider: 'Tele gram' }, admin)).status).toBe(400);
    expect((await api.post('/v1/admin/bots', { name: 'tg-bot', provider: 'telegram' }, admin)).body.error.code).toBe('USERNAME_TAKEN');
  });

  it('acts for a user of its provider, creating the account on first sight with the signup grant', async () => {
    const bot = await createBot('tg-bot-2', 'telegram');
    const me = await asBot(bot.key, '777001', 'GET', '/v1/me');
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body).toMatchObject({ username: 'telegram_777001', role: 'user', service_account: false });
    expect((await asBot(bot.key, '777001', 'GET', '/v1/credits/balance')).body.balance).toBe(100);
    // Seen again (by any bot of the provider): the same account, no second grant.
    const again = await asBot(bot.key, '777001', 'GET', '/v1/me');
    expect(again.body.id).toBe(me.body.id);
    const tx = await asBot(bot.key, '777001', 'GET', '/v1/credits/transactions?purpose=grant');
    expect(tx.body.data).toHaveLength(1);
    const ids = await asBot(bot.key, '777001', 'GET', '/v1/me/identities');
    expect(ids.body.data).toEqual([expect.objectContaining({ provider: 'telegram', external_id: '777001', user_id: me.body.id })]);
    // The account has no password: it cannot log in.
    expect((await api.post('/v1/auth/login', { username: 'telegram_777001', password: '!' })).status).toBe(401);
    // The request's log lines name the user and the bot acting for them.
    const done = logs.filter((l) => l.msg === 'request completed' && l.user_id === me.body.id);
    expect(done.length).toBeGreaterThan(0);
    expect(done[0]).toMatchObject({ via: 'bot', bot: 'tg-bot-2' });
    // A user acting through a bot is no login session: it mints no keys.
    expect((await asBot(bot.key, '777001', 'POST', '/v1/api-keys', { name: 'k' })).body.error.code).toBe('SESSION_REQUIRED');
  });

  it('concurrent first sights of one identity make one account', async () => {
    const bot = await createBot('tg-bot-race', 'telegram');
    const rs = await Promise.all(Array.from({ length: 5 }, () => asBot(bot.key, 'race-42', 'GET', '/v1/me')));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    expect((await asBot(bot.key, 'race-42', 'GET', '/v1/credits/balance')).body.total_granted).toBe(100);
  });

  it('a bot configured without the grant creates accounts with nothing; an admin can switch it', async () => {
    const bot = await createBot('vk-bot', 'vk', false);
    expect((await asBot(bot.key, 'v1', 'GET', '/v1/credits/balance')).body).toMatchObject({ balance: 0, total_granted: 0 });
    const patched = await api.call('PATCH', `/v1/admin/bots/vk-bot`, { token: admin, json: { signup_grant: true } });
    expect(patched.body).toMatchObject({ provider: 'vk', signup_grant: true });
    expect((await asBot(bot.key, 'v2', 'GET', '/v1/credits/balance')).body.balance).toBe(100);
    // Its provider's identities only: vk's "777001" is not telegram's.
    const vkMe = await asBot(bot.key, '777001', 'GET', '/v1/me');
    expect(vkMe.body.username).toBe('vk_777001');
  });

  it('refuses the header with any other key, bad external ids, and acting for an admin’s account', async () => {
    const u = await api.user('header-user');
    const r = await api.call('GET', '/v1/me', { token: u.token, headers: { 'x-on-behalf-of': '777001' } });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('NOT_A_BOT');
    const key = (await api.post('/v1/api-keys', { name: 'k' }, u.token)).body.secret;
    expect((await api.call('GET', '/v1/me', { token: key, headers: { 'x-on-behalf-of': '777001' } })).status).toBe(403);
    const bot = await createBot('tg-bot-3', 'telegram');
    const bad = await asBot(bot.key, 'has space', 'GET', '/v1/me');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_EXTERNAL_ID');
    // An admin linked a telegram id to an admin account: the bot still cannot become an admin.
    const root = (await api.get('/v1/me', admin)).body;
    expect((await api.post(`/v1/admin/users/${root.id}/identities`, { provider: 'telegram', external_id: 'boss' }, admin)).status).toBe(201);
    const esc = await asBot(bot.key, 'boss', 'GET', '/v1/admin/users');
    expect(esc.status).toBe(403);
    expect(esc.body.error.code).toBe('ON_BEHALF_NOT_ALLOWED');
  });
});

describe('identities (admin)', () => {
  it('lists, links and unlinks an account’s identities; one identity names one account', async () => {
    const a = await api.user('ident-a');
    const b = await api.user('ident-b');
    const add = await api.post('/v1/admin/users/ident-a/identities', { provider: 'telegram', external_id: '5550' }, admin);
    expect(add.status, JSON.stringify(add.body)).toBe(201);
    expect(add.body).toMatchObject({ provider: 'telegram', external_id: '5550', user_id: a.id });
    const dup = await api.post(`/v1/admin/users/${b.id}/identities`, { provider: 'telegram', external_id: '5550' }, admin);
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('IDENTITY_TAKEN');
    expect((await api.post(`/v1/admin/users/${b.id}/identities`, { provider: 'github', external_id: '5550' }, admin)).status).toBe(201);
    expect((await api.get('/v1/me/identities', a.token)).body.data.map((i: { provider: string }) => i.provider)).toEqual(['telegram']);
    expect((await api.get(`/v1/admin/users/${b.id}/identities`, admin)).body.data.map((i: { provider: string }) => i.provider)).toEqual(['github']);
    // A bot of the provider now acts as the linked, existing account.
    const bot = await createBot('tg-bot-4', 'telegram');
    expect((await asBot(bot.key, '5550', 'GET', '/v1/me')).body.id).toBe(a.id);
    expect((await api.get('/v1/admin/users/ident-a/identities', a.token)).status).toBe(403);
    expect((await api.del('/v1/admin/users/ident-a/identities/telegram/5550', admin)).status).toBe(204);
    expect((await api.del('/v1/admin/users/ident-a/identities/telegram/5550', admin)).status).toBe(404);
    expect((await api.get('/v1/admin/users/nobody-here/identities', admin)).status).toBe(404);
  });
});

describe('purchases', () => {
  it('a bot records a purchase for its user exactly once per payment id; another amount is a conflict', async () => {
    const bot = await createBot('pay-bot', 'telegram', false);
    const first = await asBot(bot.key, 'buyer-1', 'POST', '/v1/credits/purchases', { credits: 50, payment_id: 'tg_charge_001', note: '50 stars' });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({
      replayed: false,
      transaction: { type: 'purchase', purpose: 'purchase', amount: 50, credits: 50, payment_id: 'tg_charge_001', job_id: null },
      balance: { balance: 50, total_bought: 50 },
    });
    // Retried, also concurrently: the same entry, counted once.
    const retries = await Promise.all(
      [1, 2, 3].map(() => asBot(bot.key, 'buyer-1', 'POST', '/v1/credits/purchases', { credits: 50, payment_id: 'tg_charge_001' })),
    );
    for (const r of retries) expect(r.status).toBe(200);
    expect(retries.map((r) => r.body.transaction.id)).toEqual([first.body.transaction.id, first.body.transaction.id, first.body.transaction.id]);
    const conflict = await asBot(bot.key, 'buyer-1', 'POST', '/v1/credits/purchases', { credits: 60, payment_id: 'tg_charge_001' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('PAYMENT_ID_REUSED');
    // The id is the user's payment: another user may have a payment of the same id.
    expect((await asBot(bot.key, 'buyer-2', 'POST', '/v1/credits/purchases', { credits: 5, payment_id: 'tg_charge_001' })).status).toBe(201);
    const balance = await asBot(bot.key, 'buyer-1', 'GET', '/v1/credits/balance');
    expect(balance.body).toMatchObject({ balance: 50, total_bought: 50, total_granted: 0 });
    const list = await asBot(bot.key, 'buyer-1', 'GET', '/v1/credits/transactions?purpose=purchase');
    expect(list.body.data).toHaveLength(1);
    // The ledger still sums to the balance.
    const buyer = (await asBot(bot.key, 'buyer-1', 'GET', '/v1/me')).body.id as string;
    expect(await t.rt.services.credits.ledgerSum(buyer)).toBe(50);
  });

  it('only a bot acting for a user records purchases', async () => {
    const u = await api.user('self-buyer');
    const r = await api.post('/v1/credits/purchases', { credits: 1000, payment_id: 'fake' }, u.token);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('BOT_ONLY');
    expect((await api.post('/v1/credits/purchases', { credits: 1000, payment_id: 'fake' }, admin)).status).toBe(403);
    expect((await api.get('/v1/credits/balance', u.token)).body.total_bought).toBe(0);
  });
});

describe('ledger purposes', () => {
  it('every entry says what it was for and which job or generation; histories filter by purpose and job', async () => {
    const u = await api.user('purpose-user');
    const ds = await csvDataset(api, u.token, 'pp');
    const train = await api.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 1 }, output: { model_name: 'pp' } }, u.token);
    const crash = await api.post('/v1/jobs', { trainer: 'crash', dataset_id: ds, hyperparameters: { steps: 1 }, output: { model_name: 'pc' } }, u.token);
    expect(train.status, JSON.stringify(train.body)).toBe(202);
    // A generation is an inference job (the generations endpoint needs the diffusion pack): placed the way it
    // places one, on the echo trainer, which needs no base model ('' stages none).
    const s = t.rt.services;
    const gen = await s.db.transaction((tx) =>
      s.jobs.insertInference(tx, u.id, { trainer: s.catalog.trainer('echo'), hyperparameters: { steps: 1 }, baseModel: '', fromModel: null, cost: 3 }),
    );
    for (const id of [train.body.id, crash.body.id, gen!.id]) await waitForJob(api, u.token, id);
    const gj = (await api.get(`/v1/jobs/${gen!.id}`, u.token)).body;
    expect(gj.status, JSON.stringify(gj.error)).toBe('succeeded');
    const all = await api.get('/v1/credits/transactions?limit=50', u.token);
    const entries = all.body.data as Array<{ type: string; purpose: string; job_id: string | null; generation_id: string | null }>;
    const summary = (xs: typeof entries) => xs.map((e) => `${e.type}:${e.purpose}:${e.job_id ?? '-'}:${e.generation_id ?? '-'}`).sort();
    expect(summary(entries)).toEqual(
      [
        'grant:grant:-:-',
        `hold:training:${train.body.id}:-`,
        `capture:training:${train.body.id}:-`,
        `hold:training:${crash.body.id}:-`,
        `release:refund:${crash.body.id}:-`,
        `hold:generation:${gen!.id}:${gen!.id}`,
        `capture:generation:${gen!.id}:${gen!.id}`,
      ].sort(),
    );
    const byPurpose = async (p: string) => summary((await api.get(`/v1/credits/transactions?purpose=${p}`, u.token)).body.data);
    expect(await byPurpose('generation')).toEqual([`capture:generation:${gen!.id}:${gen!.id}`, `hold:generation:${gen!.id}:${gen!.id}`]);
    expect(await byPurpose('refund')).toEqual([`release:refund:${crash.body.id}:-`]);
    expect(await byPurpose('training')).toHaveLength(3);
    expect(summary((await api.get(`/v1/credits/transactions?job_id=${crash.body.id}`, u.token)).body.data)).toHaveLength(2);
    expect((await api.get('/v1/credits/transactions?purpose=bogus', u.token)).status).toBe(400);
    // Another user's job filters to nothing, not to their entries.
    const other = await api.user('purpose-other');
    expect((await api.get(`/v1/credits/transactions?job_id=${train.body.id}`, other.token)).body.data).toEqual([]);
  });
});
