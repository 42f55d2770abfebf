/**
 * The webhook outbox end to end over real HTTP: receivers listen on 127.0.0.2 and the policy
 * allows exactly 127.0.0.2/32, so 127.0.0.1 stays a forbidden (loopback) address throughout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer } from '../../src/app/server.js';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/services.js';
import type { Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { openPg } from '../../src/db/pg.js';
import { defaultBackoff, WebhookDeliverer, type DelivererDeps } from '../../src/domain/webhooks/deliverer.js';
import { WebhooksService } from '../../src/domain/webhooks/service.js';
import { verify } from '../../src/domain/webhooks/signing.js';
import { newId } from '../../src/ids.js';
import type { AddressPolicy, Resolver } from '../../src/net/address-guard.js';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/wait.js';

const POLICY: AddressPolicy = { allow: ['127.0.0.2/32'] };

let tdb: TestDatabase;
let db: Db;
let svc: WebhooksService;
const servers: Server[] = [];
const sockets = new Set<Socket>();
const deliverers: WebhookDeliverer[] = [];
const errors: unknown[] = [];

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
interface Receiver {
  base: string;
  url(path?: string): string;
  received: Received[];
}

type Answer = number | { status: number; headers: Record<string, string> };

/** A real HTTP receiver on 127.0.0.2; `respond` picks the status (and may take its time). */
async function receiver(respond: (req: Received, n: number) => Answer | Promise<Answer> = () => 200, host = '127.0.0.2'): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      void Promise.resolve(respond(r, received.length)).then((a) => {
        const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end('ok');
      });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  servers.push(server);
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return { base, url: (p = '/hook') => `${base}${p}`, received };
}

async function newUser(): Promise<string> {
  const id = newId('user');
  await db.query(`insert into users (id, username, email, password_hash) values ($1, $2, $3, 'x')`, [id, id, `${id}@example.com`]);
  return id;
}

const job = (ownerId: string, webhookUrl: string | null = null) => ({ id: newId('job'), owner_id: ownerId, webhook_url: webhookUrl });

function deliverer(over: Partial<DelivererDeps> = {}): WebhookDeliverer {
  const d = new WebhookDeliverer({ db, policy: POLICY, timeoutMs: 5000, backoff: () => 0, onError: (_m, e) => errors.push(e), ...over });
  deliverers.push(d);
  return d;
}

async function enqueue(
  j: ReturnType<typeof job>,
  type: 'job.started' | 'job.succeeded' | 'job.failed' | 'job.cancelled',
  data: Record<string, unknown> = {},
  s = svc,
) {
  await db.transaction((tx) => s.enqueueJobEvent(tx, j, type, data));
}

async function deliveriesOf(jobId: string) {
  const { rows } = await db.query<any>('select * from webhook_deliveries where job_id = $1 order by created_at, id', [jobId]);
  return rows;
}

async function attemptsOf(deliveryId: string) {
  const { rows } = await db.query<any>('select * from webhook_attempts where delivery_id = $1 order by attempt', [deliveryId]);
  return rows;
}

/** runOnce until it finds something due (backoffs in these tests are tiny). */
async function nextRound(d: WebhookDeliverer): Promise<number> {
  let n = 0;
  await until(async () => (n = await d.runOnce()) > 0);
  return n;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  await migrate(db);
  svc = new WebhooksService({ db, policy: POLICY });
});

afterEach(async () => {
  await Promise.all(deliverers.splice(0).map((d) => d.stop()));
  // Each test starts with an empty queue: leftovers would be claimed by the next test's deliverer.
  await db.query(`update webhook_deliveries set status = 'failed' where status = 'pending'`);
  expect(errors.splice(0)).toEqual([]);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await tdb.drop();
});

describe('enqueueJobEvent (the outbox)', () => {
  it('writes nothing when the transaction rolls back; after a commit delivers once, signed, in the Standard Webhooks envelope', async () => {
    const owner = await newUser();
    const r = await receiver();
    const j = job(owner, r.url());
    const data = { job: { id: j.id, status: 'succeeded', metrics: { accuracy: 0.93 } } };

    await expect(
      db.transaction(async (tx) => {
        await svc.enqueueJobEvent(tx, j, 'job.succeeded', data);
        throw new Error('job change failed');
      }),
    ).rejects.toThrow('job change failed');
    expect(await deliveriesOf(j.id)).toEqual([]);
    const { rows } = await db.query<{ webhook_secret: string | null }>('select webhook_secret from users where id = $1', [owner]);
    expect(rows[0]!.webhook_secret).toBeNull();

    await enqueue(j, 'job.succeeded', data);
    const d = deliverer();
    expect(await d.runOnce()).toBe(1);
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    const secret = await svc.userSecret(owner);
    expect(secret).toMatch(/^whsec_/);
    expect(verify(secret, got.headers, got.body)).toBe(true);
    const [row] = await deliveriesOf(j.id);
    expect(got.headers).toMatchObject({ 'content-type': 'application/json', 'user-agent': 'Trainyard-Webhooks/1', 'webhook-id': row.id });
    expect(row.id).toMatch(/^msg_/);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    const body = JSON.parse(got.body);
    expect(Object.keys(body)).toEqual(['type', 'timestamp', 'data']);
    expect(body).toEqual({ type: 'job.succeeded', timestamp: expect.any(String), data });
    expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(10_000);

    expect(row).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200, last_error: null, locked_until: null });
    expect(row.delivered_at).toBeInstanceOf(Date);
    expect(await attemptsOf(row.id)).toMatchObject([{ attempt: 1, status_code: 200, error: null }]);

    expect(await d.runOnce()).toBe(0);
    expect(r.received).toHaveLength(1);

    const page = await svc.listDeliveries(owner, 10);
    expect(page.data).toMatchObject([{ id: row.id, job_id: j.id, status: 'delivered', attempt_count: 1, attempts: [{ attempt: 1, status_code: 200 }] }]);
    expect(JSON.stringify(page)).not.toContain(secret.slice(6));
  });

  it('a job without webhook_url and without endpoints queues nothing', async () => {
    const j = job(await newUser());
    await enqueue(j, 'job.started');
    expect(await deliveriesOf(j.id)).toEqual([]);
  });
});

describe('WebhookDeliverer retries', () => {
  it('backs off 5 s · 4^(n-1) by default, ±20 % jitter, at most 6 h', () => {
    expect([1, 2, 3, 4].map((n) => defaultBackoff(n, () => 0.5))).toEqual([5_000, 20_000, 80_000, 320_000]);
    expect(defaultBackoff(3, () => 0)).toBe(64_000);
    expect(defaultBackoff(3, () => 0.999999)).toBe(96_000);
    expect(defaultBackoff(9, () => 0.5)).toBe(6 * 3_600_000);
    expect(defaultBackoff(40, () => 0.999999)).toBe(6 * 3_600_000);
  });

  it('500, 500, then 200: delivered on attempt 3 with one id, fresh signatures and growing next_attempt_at', async () => {
    const r = await receiver((_req, n) => (n <= 2 ? 500 : 200));
    const owner = await newUser();
    const j = job(owner, r.url());
    await enqueue(j, 'job.failed', { job: { id: j.id } });
    const asked: number[] = [];
    const d = deliverer({ backoff: (n) => (asked.push(n), 250) });

    const [initial] = await deliveriesOf(j.id);
    const nexts: number[] = [initial.next_attempt_at.getTime()];
    for (let round = 1; round <= 3; round++) {
      expect(await nextRound(d)).toBe(1);
      const [row] = await deliveriesOf(j.id);
      expect(row.attempts).toBe(round);
      if (round < 3) {
        expect(row).toMatchObject({ status: 'pending', last_status: 500, locked_until: null });
        nexts.push(row.next_attempt_at.getTime());
        expect(await d.runOnce()).toBe(0); // not due before its backoff
      } else {
        expect(row).toMatchObject({ status: 'delivered', last_status: 200, last_error: null });
      }
    }
    expect(nexts[1]).toBeGreaterThan(nexts[0]!);
    expect(nexts[2]).toBeGreaterThan(nexts[1]!);
    expect(asked).toEqual([1, 2]);

    const [row] = await deliveriesOf(j.id);
    expect((await attemptsOf(row.id)).map((a: any) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, 500, null],
      [2, 500, null],
      [3, 200, null],
    ]);
    const secret = await svc.userSecret(owner);
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([row.id]));
    for (const x of r.received) expect(verify(secret, x.headers, x.body)).toBe(true);
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
  });

  it('a receiver that always fails ends `failed` after maxAttempts', async () => {
    const r = await receiver(() => 503);
    const j = job(await newUser(), r.url());
    await enqueue(j, 'job.succeeded');
    const d = deliverer({ maxAttempts: 3 });
    for (let i = 0; i < 3; i++) await nextRound(d);
    const [row] = await deliveriesOf(j.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 3, last_status: 503, locked_until: null });
    expect((await attemptsOf(row.id)).map((a: any) => a.status_code)).toEqual([503, 503, 503]);
    expect(await d.runOnce()).toBe(0);
    expect(r.received).toHaveLength(3);
  });

  it('does not follow redirects', async () => {
    const r = await receiver((req) => (req.path === '/moved' ? { status: 307, headers: { location: '/hook' } } : 200));
    const j = job(await newUser(), r.url('/moved'));
    await enqueue(j, 'job.succeeded');
    await deliverer({ maxAttempts: 1 }).runOnce();
    const [row] = await deliveriesOf(j.id);
    expect(row).toMatchObject({ status: 'failed', last_status: null });
    expect(row.last_error).toMatch(/^REDIRECT_NOT_FOLLOWED/);
    expect(r.received.map((x) => x.path)).toEqual(['/moved']);
  });
});

describe('address guard', () => {
  it('checkUrl refuses loopback, other schemes, credentials and junk with the guard codes', async () => {
    const r = await receiver();
    await expect(svc.checkUrl(r.url())).resolves.toBeUndefined();
    await expect(svc.checkUrl('http://127.0.0.1:8080/hook')).rejects.toMatchObject({ code: 'ADDRESS_NOT_ALLOWED', status: 400 });
    await expect(svc.checkUrl('http://[::1]/hook')).rejects.toMatchObject({ code: 'ADDRESS_NOT_ALLOWED', status: 400 });
    await expect(svc.checkUrl('http://169.254.169.254/latest')).rejects.toMatchObject({ code: 'ADDRESS_NOT_ALLOWED', status: 400 });
    await expect(svc.checkUrl('ftp://127.0.0.2/hook')).rejects.toMatchObject({ code: 'URL_SCHEME_NOT_ALLOWED', status: 400 });
    await expect(svc.checkUrl('http://user:pw@127.0.0.2/hook')).rejects.toMatchObject({ code: 'URL_INVALID', status: 400 });
    await expect(svc.checkUrl('not a url')).rejects.toMatchObject({ code: 'URL_INVALID', status: 400 });
    await expect(svc.createEndpoint(await newUser(), { url: 'http://127.0.0.1:8080/hook', events: ['job.failed'] })).rejects.toMatchObject({
      code: 'ADDRESS_NOT_ALLOWED',
    });
  });

  it('a delivery to 127.0.0.1 is refused before connecting and recorded as ADDRESS_NOT_ALLOWED', async () => {
    let connections = 0;
    const canary = await receiver(() => 200, '127.0.0.1');
    servers.at(-1)!.on('connection', () => connections++);
    const j = job(await newUser(), canary.url());
    await enqueue(j, 'job.succeeded');
    const d = deliverer({ maxAttempts: 2 });
    await nextRound(d);
    await nextRound(d);
    const [row] = await deliveriesOf(j.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 2, last_status: null });
    const attempts = await attemptsOf(row.id);
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a.status_code).toBeNull();
      expect(a.error).toMatch(/^ADDRESS_NOT_ALLOWED: /);
    }
    expect(connections).toBe(0);
    expect(canary.received).toEqual([]);
  });

  it('re-checks on every attempt: a name that now resolves to loopback is refused', async () => {
    const r = await receiver();
    const port = new URL(r.base).port;
    let address = '127.0.0.2';
    const resolver: Resolver = async (host) => (host === 'hooks.test' ? [{ address, family: 4 }] : []);
    const s = new WebhooksService({ db, policy: POLICY, resolver });
    const owner = await newUser();
    await s.createEndpoint(owner, { url: `http://hooks.test:${port}/hook`, events: ['job.succeeded'] });
    const d = deliverer({ resolver });

    const first = job(owner);
    await enqueue(first, 'job.succeeded', {}, s);
    await nextRound(d);
    expect((await deliveriesOf(first.id))[0].status).toBe('delivered');
    expect(r.received[0]!.headers.host).toBe(`hooks.test:${port}`);

    address = '127.0.0.1';
    const second = job(owner);
    await enqueue(second, 'job.succeeded', {}, s);
    await nextRound(d);
    const [row] = await deliveriesOf(second.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row.last_error).toMatch(/^ADDRESS_NOT_ALLOWED/);
    expect(r.received).toHaveLength(1);
  });
});

describe('endpoints', () => {
  it('receive only the events they subscribed to, signed with their own secret', async () => {
    const owner = await newUser();
    const failures = await receiver();
    const everything = await receiver();
    const a = await svc.createEndpoint(owner, { url: failures.url(), events: ['job.failed'] });
    const b = await svc.createEndpoint(owner, { url: everything.url(), events: ['job.started', 'job.succeeded', 'job.failed', 'job.cancelled'] });
    expect(a.secret).toMatch(/^whsec_/);
    expect(a.secret).not.toBe(b.secret);
    const listed = await svc.listEndpoints(owner);
    // Both rows can share created_at (PGlite's clock ticks in milliseconds); the order is only
    // creation order across ticks, so compare the set.
    expect(listed.map((e) => e.id).sort()).toEqual([a.id, b.id].sort());
    for (const e of listed) expect(e).not.toHaveProperty('secret');
    expect(await svc.listEndpoints(await newUser())).toEqual([]);

    const j = job(owner);
    await enqueue(j, 'job.succeeded', { job: { id: j.id } });
    expect((await deliveriesOf(j.id)).map((r: any) => r.endpoint_id)).toEqual([b.id]);
    await enqueue(j, 'job.failed', { job: { id: j.id } });

    const d = deliverer();
    await until(async () => (await d.runOnce()) === 0 && (await deliveriesOf(j.id)).every((r: any) => r.status === 'delivered'));
    expect(failures.received).toHaveLength(1);
    const got = failures.received[0]!;
    expect(JSON.parse(got.body).type).toBe('job.failed');
    expect(verify(a.secret!, got.headers, got.body)).toBe(true);
    expect(verify(b.secret!, got.headers, got.body)).toBe(false);
    expect(verify(await svc.userSecret(owner), got.headers, got.body)).toBe(false);
    expect(everything.received.map((x) => JSON.parse(x.body).type).sort()).toEqual(['job.failed', 'job.succeeded']);
  });

  it('deleting one drops its queued messages; strangers get 404', async () => {
    const owner = await newUser();
    const r = await receiver();
    const e = await svc.createEndpoint(owner, { url: r.url(), events: ['job.cancelled'] });
    const j = job(owner);
    await enqueue(j, 'job.cancelled');
    await expect(svc.deleteEndpoint(await newUser(), e.id)).rejects.toMatchObject({ code: 'WEBHOOK_NOT_FOUND', status: 404 });
    expect((await deliveriesOf(j.id))[0].status).toBe('pending');
    await svc.deleteEndpoint(owner, e.id);
    expect(await deliveriesOf(j.id)).toMatchObject([{ status: 'failed', last_error: 'ENDPOINT_DELETED', endpoint_id: null }]);
    await expect(svc.deleteEndpoint(owner, e.id)).rejects.toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    expect(await deliverer().runOnce()).toBe(0);
  });

  it('listDeliveries pages newest first and is owner-scoped', async () => {
    const owner = await newUser();
    const r = await receiver();
    const jobs = [job(owner, r.url()), job(owner, r.url()), job(owner, r.url())];
    for (const j of jobs) await enqueue(j, 'job.started');
    // Three creation times a microsecond apart, set here: enqueued back to back, two may share
    // PGlite's millisecond clock, and their order would be the ids' (that flaked in CI).
    const at = (i: number) => `2026-01-01T00:00:00.12345${i}Z`;
    for (const [i, j] of jobs.entries()) await db.query('update webhook_deliveries set created_at = $2 where job_id = $1', [j.id, at(i)]);
    const first = await svc.listDeliveries(owner, 2);
    expect(first.data.map((x) => x.job_id)).toEqual([jobs[2]!.id, jobs[1]!.id]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await svc.listDeliveries(owner, 2, first.next_cursor!);
    expect(second.data.map((x) => x.job_id)).toEqual([jobs[0]!.id]);
    expect(second.next_cursor).toBeNull();
    // One creation time for all three (one transaction's now()): pages still list each once.
    await db.query('update webhook_deliveries set created_at = $2 where owner_id = $1', [owner, at(7)]);
    const a = await svc.listDeliveries(owner, 2);
    const b = await svc.listDeliveries(owner, 2, a.next_cursor!);
    expect(new Set([...a.data, ...b.data].map((x) => x.job_id))).toEqual(new Set(jobs.map((j) => j.id)));
    expect(b.next_cursor).toBeNull();
    expect((await svc.listDeliveries(await newUser(), 10)).data).toEqual([]);
  });
});

describe('WebhookDeliverer loop', () => {
  it('two deliverers on one database deliver every message exactly once', async () => {
    const owner = await newUser();
    // The first receiver answers after a random 0-15 ms: claims and answers interleave differently each run.
    const receivers = [await receiver(async () => (await new Promise((res) => setTimeout(res, Math.random() * 15)), 200)), await receiver(), await receiver()];
    // On Postgres the second deliverer gets its own pool: truly concurrent claims.
    const otherDb = TEST_DB === 'postgres' ? await openPg(tdb.url!) : db;
    try {
      const d1 = deliverer({ pollMs: 25 });
      const d2 = deliverer({ db: otherDb, pollMs: 25 });
      await Promise.all([d1.start(), d2.start()]);
      const jobs = Array.from({ length: 30 }, (_, i) => job(owner, receivers[i % 3]!.url(`/hook/${i % 5}`)));
      await Promise.all(jobs.map((j) => enqueue(j, 'job.succeeded', { job: { id: j.id } })));
      const delivered = async () =>
        (await db.query<{ n: number }>(`select count(*)::int as n from webhook_deliveries where owner_id = $1 and status = 'delivered'`, [owner])).rows[0]!.n;
      await until(async () => (await delivered()) === 30);
      await Promise.all([d1.stop(), d2.stop()]);

      const ids = receivers.flatMap((r) => r.received.map((x) => x.headers['webhook-id']));
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
      const { rows } = await db.query<{ n: number; max: number }>(
        'select count(*)::int as n, max(d.attempts)::int as max from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.owner_id = $1',
        [owner],
      );
      expect(rows[0]).toEqual({ n: 30, max: 1 });
    } finally {
      if (otherDb !== db) await otherDb.close();
    }
  });

  it('wakes on the commit notification, and one slow receiver does not hold up the others; stop() waits for it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const slow = await receiver(async () => (await gate, 200));
    const fast = await receiver();
    const owner = await newUser();
    const d = deliverer({ pollMs: 60_000 }); // only notifications can wake it in time
    await d.start();

    const slowJob = job(owner, slow.url());
    const fastJob = job(owner, fast.url());
    await enqueue(slowJob, 'job.started');
    await until(() => slow.received.length === 1);
    await enqueue(fastJob, 'job.started');
    await until(async () => (await deliveriesOf(fastJob.id))[0].status === 'delivered');
    expect((await deliveriesOf(slowJob.id))[0].status).toBe('pending');

    const stopped = d.stop();
    let done = false;
    void stopped.then(() => (done = true));
    // A negative: stop() must still be waiting for the in-flight delivery a while later. There is
    // no state to wait on for "has not resolved", so this sleep is the thing under test.
    await new Promise((res) => setTimeout(res, 50));
    expect(done).toBe(false);
    release();
    await stopped;
    expect((await deliveriesOf(slowJob.id))[0]).toMatchObject({ status: 'delivered', locked_until: null });
  });

  it('stop() leaves no timers or listeners behind', async () => {
    const set = vi.spyOn(globalThis, 'setInterval');
    const clear = vi.spyOn(globalThis, 'clearInterval');
    const d = deliverer({ pollMs: 10 });
    try {
      await d.start();
      expect(set).toHaveBeenCalledTimes(1);
      await d.stop();
      await d.stop(); // idempotent
      expect(clear).toHaveBeenCalledWith(set.mock.results[0]!.value);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
    await expect(d.start()).rejects.toThrow(/stopped/);

    const r = await receiver();
    const j = job(await newUser(), r.url());
    await enqueue(j, 'job.started');
    // A negative: a stopped deliverer (polling every 10 ms when it ran) delivers nothing in 20 of
    // its intervals. Nothing to wait on for "never happens", so the sleep is the thing under test.
    await new Promise((res) => setTimeout(res, 200));
    expect(r.received).toEqual([]);
    expect((await deliveriesOf(j.id))[0].status).toBe('pending');
  });
});

describe('routes', () => {
  it('serve endpoints, the user secret and deliveries with strict schemas', async () => {
    // The real app over this file's database, so the deliverer below fills what the routes list.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-webhooks-'));
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', WEBHOOK_ALLOW_ADDRESSES: '127.0.0.2/32', RATE_LIMIT_DEFAULT: '100000/1m' });
    const services = await createServices(config, db);
    const app = await buildServer(services, pino({ level: 'silent' }));
    const username = `hooks${Date.now().toString(36)}`;
    const password = 'correct horse battery staple';
    const { id: owner } = await services.accounts.signup({ username, email: `${username}@example.com`, password });
    const { access_token } = await services.accounts.login(username, password, '127.0.0.1');
    /** The owner's request. */
    const call = (o: { method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: object }) =>
      app.inject({ ...o, headers: { authorization: `Bearer ${access_token}` } });
    const r = await receiver();
    try {
      const bad = await call({ method: 'POST', url: '/v1/webhooks', payload: { url: r.url(), events: ['job.exploded'] } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('VALIDATION_ERROR');
      const extra = await call({ method: 'POST', url: '/v1/webhooks', payload: { url: r.url(), events: ['job.failed'], secret: 'mine' } });
      expect(extra.statusCode).toBe(400);
      const loop = await call({ method: 'POST', url: '/v1/webhooks', payload: { url: 'http://127.0.0.1/x', events: ['job.failed'] } });
      expect(loop.statusCode).toBe(400);
      expect(loop.json().error.code).toBe('ADDRESS_NOT_ALLOWED');

      const created = await call({ method: 'POST', url: '/v1/webhooks', payload: { url: r.url(), events: ['job.failed', 'job.succeeded'] } });
      expect(created.statusCode).toBe(201);
      const ep = created.json();
      expect(ep).toMatchObject({
        id: expect.stringMatching(/^wh_/),
        url: r.url(),
        events: ['job.failed', 'job.succeeded'],
        secret: expect.stringMatching(/^whsec_/),
        disabled_at: null,
      });

      const list = await call({ method: 'GET', url: '/v1/webhooks' });
      expect(list.json()).toEqual({
        data: [{ id: ep.id, url: r.url(), events: ['job.failed', 'job.succeeded'], created_at: ep.created_at, disabled_at: null }],
      });

      const secret = await call({ method: 'GET', url: '/v1/webhooks/secret' });
      expect(secret.json()).toEqual({ secret: await svc.userSecret(owner) });

      const j = job(owner, r.url('/own'));
      await enqueue(j, 'job.failed', { job: { id: j.id } });
      await deliverer().runOnce();
      const deliveries = await call({ method: 'GET', url: '/v1/webhooks/deliveries?limit=10' });
      expect(deliveries.statusCode).toBe(200);
      const page = deliveries.json();
      expect(page.data).toHaveLength(2);
      for (const x of page.data) {
        expect(x).toMatchObject({
          job_id: j.id,
          event_type: 'job.failed',
          status: 'delivered',
          attempt_count: 1,
          attempts: [{ attempt: 1, status_code: 200, error: null }],
        });
        expect(x).not.toHaveProperty('secret');
      }
      expect((await call({ method: 'GET', url: '/v1/webhooks/deliveries?cursor=nope' })).json().error.code).toBe('INVALID_CURSOR');

      expect((await call({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` })).statusCode).toBe(204);
      const again = await call({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` });
      expect(again.statusCode).toBe(404);
      expect(again.json().error.code).toBe('WEBHOOK_NOT_FOUND');
    } finally {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
