import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startPeer, startTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

// The principal cache (issue #15): every API process reuses authenticated principals, and a
// change to what one may do holds on the next request on EVERY process. Two API instances
// share one database: on Postgres the second opens its own pool and LISTEN connection (as a
// second process would); on PGlite, which one process owns, two runtimes share it.
//
// What "at once" means: the process that made the change answers it waiting until its own
// cache has heard the change's NOTIFY, so there the very next request sees it. Another
// process hears the same NOTIFY on its own connection a moment later (milliseconds; on a
// loaded machine a request can overtake it on Postgres), so the test waits for that state.

const SECRET = 'principal-cache-test-secret-0123456789abcdef';
const ADMIN = { username: 'cache-admin', password: 'correct horse battery staple' };
const ENV = { TRAINYARD_SECRET: SECRET, TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password, AUTH_CACHE_MS: '60000' };

let a: TestApp;
let b: Awaited<ReturnType<typeof startPeer>>;
let A: ReturnType<typeof client>;
let B: ReturnType<typeof client>;
let admin: string;

beforeAll(async () => {
  a = await startTestApp({ env: { ...ENV, STORAGE: 'fs' } });
  b = await startPeer(a, ENV);
  A = client(a.url);
  B = client(b.rt.url);
  admin = (await A.post('/v1/auth/login', ADMIN)).body.access_token;
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const both = () => [A, B] as const;
const me = async (api: ReturnType<typeof client>, token: string) => {
  const r = await api.get('/v1/me', token);
  return [r.status, r.status === 200 ? r.body.id : r.body.error.code];
};
type Api = ReturnType<typeof client>;
/** `look` on the process that made a change gives `want` at once, and on the other one as soon as the NOTIFY reaches it. */
async function everywhere(changer: Api, look: (api: Api) => Promise<unknown>, want: unknown, what: string): Promise<void> {
  expect(await look(changer)).toEqual(want);
  await waitFor(
    () => look(changer === A ? B : A),
    (v) => isDeepStrictEqual(v, want),
    { message: `${what} on the other process` },
  );
}
const cacheSizes = () => [a.rt.services.accounts.principals.size, b.rt.services.accounts.principals.size];

describe('principal cache across two API processes', () => {
  it('a revoked key fails on the next request on the process that revoked it, and on the other one once NOTIFY reaches it', async () => {
    const u = await A.user('revokee');
    const key = (await A.post('/v1/api-keys', { name: 'k' }, u.token)).body;
    for (const api of both()) expect(await me(api, key.secret)).toEqual([200, u.id]);
    // Both processes now serve this key from their cache, not the database.
    for (const n of cacheSizes()) expect(n).toBeGreaterThan(0);

    expect((await A.del(`/v1/api-keys/${key.id}`, u.token)).status).toBe(204);
    await everywhere(A, (api) => me(api, key.secret), [401, 'INVALID_API_KEY'], 'the revoked key refused');
    // The session that revoked it is untouched.
    for (const api of both()) expect(await me(api, u.token)).toEqual([200, u.id]);
  });

  it('a key created a moment ago works at once on both, even right after an unknown key was refused', async () => {
    const u = await B.user('fresh-key');
    for (const api of both()) expect((await me(api, 'ty_unknown0_nosuchkey'))[0]).toBe(401);
    const key = (await B.post('/v1/api-keys', { name: 'new' }, u.token)).body.secret as string;
    for (const api of both()) expect(await me(api, key)).toEqual([200, u.id]);
  });

  it('disabling an account refuses its session and its key on both processes; enabling lets them in again', async () => {
    const u = await A.user('disablee');
    const key = (await A.post('/v1/api-keys', { name: 'k' }, u.token)).body.secret as string;
    for (const api of both()) for (const t of [u.token, key]) expect(await me(api, t)).toEqual([200, u.id]);

    // Disabled through B: A, whose cache has the principal too, must refuse as well.
    expect((await B.call('PATCH', `/v1/admin/users/${u.id}`, { token: admin, json: { disabled: true } })).status).toBe(200);
    await everywhere(
      B,
      async (api) => [await me(api, u.token), await me(api, key)],
      [
        [401, 'INVALID_TOKEN'],
        [401, 'INVALID_API_KEY'],
      ],
      'the disabled account refused',
    );
    expect((await A.call('PATCH', `/v1/admin/users/${u.id}`, { token: admin, json: { disabled: false } })).status).toBe(200);
    await everywhere(
      A,
      async (api) => [await me(api, u.token), await me(api, key)],
      [
        [200, u.id],
        [200, u.id],
      ],
      'the enabled account let in',
    );
  });

  it('a demoted admin loses the admin routes on both processes', async () => {
    const u = await A.user('demotee');
    expect((await A.call('PATCH', `/v1/admin/users/${u.id}`, { token: admin, json: { role: 'admin' } })).status).toBe(200);
    const adminRoute = async (api: Api) => {
      const r = await api.get('/v1/admin/users', u.token);
      return [r.status, r.body.error?.code ?? null];
    };
    await everywhere(A, adminRoute, [200, null], 'the promotion');

    expect((await B.call('PATCH', `/v1/admin/users/${u.id}`, { token: admin, json: { role: 'user' } })).status).toBe(200);
    await everywhere(B, adminRoute, [403, 'ADMIN_ONLY'], 'the demotion');
  });

  it('never hands one user’s principal to another', async () => {
    const users = [await A.user('leak-one'), await A.user('leak-two')];
    const keys = await Promise.all(users.map(async (u) => (await A.post('/v1/api-keys', { name: 'k' }, u.token)).body.secret as string));
    // Interleaved and concurrent, so both tokens of both users sit in both caches at once.
    for (let round = 0; round < 3; round++) {
      const seen = await Promise.all(both().flatMap((api) => users.flatMap((u, i) => [u.token, keys[i]!].map((t) => me(api, t)))));
      expect(seen).toEqual(
        [...Array(2)].flatMap(() =>
          users.flatMap((u) => [
            [200, u.id],
            [200, u.id],
          ]),
        ),
      );
    }
    const who = await A.get('/v1/me', keys[1]);
    expect(who.body.username).toBe('leak-two');
  });
});

describe('AUTH_CACHE_MS=0', () => {
  let off: TestApp;
  beforeAll(async () => {
    off = await startTestApp({ env: { AUTH_CACHE_MS: '0' } });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('switches the cache off: every request resolves the principal in the database', async () => {
    const api = client(off.url);
    const u = await api.user('uncached');
    for (let i = 0; i < 3; i++) expect((await api.get('/v1/me', u.token)).status).toBe(200);
    expect(off.rt.services.accounts.principals.size).toBe(0);
  });
});
