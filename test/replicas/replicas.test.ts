import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { freePort } from '../helpers/pg-programs.js';
import { testStoreEnv } from '../helpers/s3-server.js';
import { waitFor } from '../helpers/wait.js';

// Issue #16, part 5 and 6: what a deployment with many API replicas looks like, as real
// processes. Two `trainyard serve` processes with no worker (the API replicas a load balancer
// would spread requests over) and two `trainyard worker` processes, on one Postgres reached
// through PgBouncer in transaction mode (DATABASE_URL), with LISTEN on a direct connection
// (DATABASE_LISTEN_URL), one shared store folder and one TRAINYARD_SECRET. Each process has its
// own DATA_DIR, as on separate machines. Nothing here is in-process: what one replica knows,
// the other can only learn through the database.

const MAIN = path.resolve('src/main.ts');
const RATE_DEFAULT = 300;
const RATE_AUTH = 40;
const MAX_FAILURES = 3;

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
  exit: Promise<number | null>;
}

let root: string;
let testDb: TestDatabase;
let bouncer: PgBouncer;
let direct: pg.Client;
let env: Record<string, string>;
const procs: Proc[] = [];
let A: ReturnType<typeof client>;
let B: ReturnType<typeof client>;
let urlA: string;
let urlB: string;
let workers: { proc: Proc; id: string }[];
let carol: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
/**
 * Logins so far: the login route's per-address budget (RATE_AUTH) is one for both replicas.
 * Signup is a route of its own, with its own budget, as with in-process counters.
 */
let logins = 0;

function start(name: string, args: string[], extra: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, ...env, DATA_DIR: path.join(root, name), ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = { name, child, out: '', exit: new Promise((r) => child.once('exit', (code) => r(code))) };
  child.stdout!.on('data', (d) => (p.out += d));
  child.stderr!.on('data', (d) => (p.out += d));
  procs.push(p);
  return p;
}

async function startApi(name: string, extra: Record<string, string> = {}): Promise<string> {
  const port = await freePort();
  const p = start(name, ['serve', '--no-worker'], { PORT: String(port), ...extra });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    () => {
      if (p.child.exitCode !== null) throw new Error(`${name} exited ${p.child.exitCode}: ${p.out.slice(-2000)}`);
      return fetch(`${url}/readyz`).then(
        (r) => r.status,
        () => 'refused',
      );
    },
    (s) => s === 200,
    { timeoutMs: 60_000, intervalMs: 100, message: `${name} /readyz to answer 200` },
  );
  return url;
}

/** The worker's id, from its "worker started" log line. */
async function startWorkerProc(name: string): Promise<{ proc: Proc; id: string }> {
  const p = start(name, ['worker'], {});
  const line = await waitFor(
    () => {
      if (p.child.exitCode !== null) throw new Error(`${name} exited ${p.child.exitCode}: ${p.out.slice(-2000)}`);
      return p.out.split('\n').find((l) => l.includes('"worker started"'));
    },
    Boolean,
    { timeoutMs: 60_000, intervalMs: 100, message: `${name} to log "worker started"` },
  );
  return { proc: p, id: JSON.parse(line!).worker as string };
}

/** An SSE stream read as it arrives: its events so far, and when the connection ended (closed or broken). */
function readEvents(res: Response) {
  const events: { id: number; event: string; data: string }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const ended = (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const id = /^id: (\d+)/m.exec(block);
          if (id) events.push({ id: Number(id[1]), event: /^event: (\w+)/m.exec(block)![1]!, data: /^data: (.*)$/m.exec(block)![1]! });
        }
      }
    } catch {
      // a replica killed mid-stream: the connection breaks, which is what the client sees
    }
  })();
  return { events, ended };
}

const sql = async <T>(text: string, params: unknown[] = []) => (await direct.query(text, params)).rows as T[];

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'trainyard-replicas-'));
  testDb = await createTestDatabase('postgres');
  await testDb.db.close(); // the processes own their pools; the test reads on its own client
  const directUrl = testDb.url!;
  const dbName = new URL(directUrl).pathname.slice(1);
  bouncer = await startPgBouncer(directUrl, { poolSize: 4 });
  direct = new pg.Client({ connectionString: directUrl });
  await direct.connect();
  const catalog = JSON.stringify(testTrainers());
  for (const name of ['api-a', 'api-b', 'api-c', 'api-d', 'worker-1', 'worker-2']) {
    await mkdir(path.join(root, name), { recursive: true });
    await writeFile(path.join(root, name, 'catalog.json'), catalog);
  }
  env = {
    DATABASE_URL: bouncer.url(dbName),
    DATABASE_LISTEN_URL: directUrl,
    TRAINYARD_SECRET: 'replicas-test-secret-0123456789abcdef-0123456789',
    // One bucket on the run's SeaweedFS (S3) for every process, as replicas on separate machines share it.
    ...(await testStoreEnv()),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    TRAINER_SANDBOX: 'off',
    // Windows longer than the whole file, so no count restarts halfway through on a slow machine.
    RATE_LIMIT_DEFAULT: `${RATE_DEFAULT}/1h`,
    RATE_LIMIT_AUTH: `${RATE_AUTH}/1h`,
    LOGIN_MAX_FAILURES: String(MAX_FAILURES),
    // Only NOTIFY can tell a replica within a test's wait that a key was revoked elsewhere.
    AUTH_CACHE_MS: '120000',
    JOBS_LEASE_SECONDS: '2',
    WORKER_POLL_MS: '100',
    JOBS_MAX_QUEUED_PER_USER: '100',
    SIGNUP_CREDIT_GRANT: '100',
  };
  // Both replicas start at once: their migrations meet on the advisory lock, through the pooler.
  const [a, b] = await Promise.all([startApi('api-a'), startApi('api-b')]);
  A = client(a);
  B = client(b);
  urlA = a;
  urlB = b;
  workers = await Promise.all([startWorkerProc('worker-1'), startWorkerProc('worker-2')]);
  carol = await user(B, 'carol');
}, 180_000);

afterAll(async () => {
  // A clean stop of every process still running: SIGTERM, and each exits 0.
  const codes = await Promise.all(
    procs
      .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
      .map(async (p) => {
        p.child.kill('SIGTERM');
        return [p.name, await p.exit] as const;
      }),
  );
  await direct?.end().catch(() => {});
  await bouncer?.stop();
  await testDb?.drop().catch(() => {});
  await rm(root, { recursive: true, force: true });
  expect(codes.filter(([, code]) => code !== 0)).toEqual([]);
}, 60_000);

async function user(api: ReturnType<typeof client>, name: string) {
  logins++;
  return api.user(name);
}

describe('two API replicas and two workers on one Postgres through PgBouncer (transaction mode)', () => {
  it('migrations ran once although both replicas started at the same moment', async () => {
    const rows = await sql<{ n: number; distinct_ids: number }>('select count(*)::int as n, count(distinct id)::int as distinct_ids from trainyard_migrations');
    expect(rows[0]!.n).toBe(rows[0]!.distinct_ids);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(20);
  });

  it('a session token from one replica is valid on the other; a key revoked on A is refused by B through NOTIFY', async () => {
    const u = await user(A, 'alice');
    const me = async (api: ReturnType<typeof client>, token: string) => {
      const r = await api.get('/v1/me', token);
      return [r.status, r.body.id ?? r.body.error?.code];
    };
    expect(await me(B, u.token)).toEqual([200, u.id]);
    const key = (await B.post('/v1/api-keys', { name: 'k' }, u.token)).body;
    // Both replicas now hold the key's principal in their cache (AUTH_CACHE_MS is two minutes).
    expect(await me(A, key.secret)).toEqual([200, u.id]);
    expect(await me(B, key.secret)).toEqual([200, u.id]);
    expect((await A.del(`/v1/api-keys/${key.id}`, u.token)).status).toBe(204);
    expect(await me(A, key.secret)).toEqual([401, 'INVALID_API_KEY']);
    // B learns it only from the NOTIFY its LISTEN connection (DATABASE_LISTEN_URL) receives.
    await waitFor(
      () => me(B, key.secret),
      (v) => v[0] === 401,
      { timeoutMs: 10_000, message: 'B to refuse the revoked key' },
    );
  });

  it('a pre-signed upload started on A (a URL of the shared S3 bucket) completes on B, and A serves the file', async () => {
    const u = await user(A, 'grace');
    const body = Buffer.from('text,label\nhello,greeting\n');
    const sha256 = createHash('sha256').update(body).digest('hex');
    const started = (await A.post('/v1/uploads', { filename: 'x.csv', bytes: body.length, sha256 }, u.token)).body;
    const url = new URL(started.upload_url);
    expect(url.host).not.toBe(new URL(urlA).host); // the bytes go to the store, past every replica
    const tampered = new URL(url);
    tampered.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    expect((await fetch(tampered, { method: 'PUT', body })).status).toBe(403);
    expect((await fetch(url, { method: 'PUT', body })).status).toBe(200);
    const done = await B.post(`/v1/uploads/${started.file_id}/complete`, {}, u.token);
    expect(done.body).toMatchObject({ id: started.file_id, bytes: body.length, sha256 });
    const link = (await A.get(`/v1/files/${started.file_id}/content`, u.token)).body;
    expect(await (await fetch(link.url)).text()).toBe(body.toString());
  });

  it('a process started with another secret (say, one generated into its own DATA_DIR) refuses to start, naming TRAINYARD_SECRET', async () => {
    const p = start('api-d', ['serve', '--no-worker'], { PORT: String(await freePort()), TRAINYARD_SECRET: '' });
    expect(await p.exit).toBe(1);
    expect(p.out).toMatch(/configuration error: TRAINYARD_SECRET: differs from the secret the other Trainyard processes/);
  });

  it('a replica whose LISTEN goes through the pooler (no DATABASE_LISTEN_URL) says so and caches no principals, so it still refuses a revoked key at once', async () => {
    const c = client(await startApi('api-c', { DATABASE_LISTEN_URL: '' }));
    const proc = procs.find((p) => p.name === 'api-c')!;
    expect(proc.out).toMatch(/LISTEN connection hears no notifications.*DATABASE_LISTEN_URL/);
    const u = await user(A, 'frank');
    const key = (await A.post('/v1/api-keys', { name: 'k' }, u.token)).body;
    expect((await c.get('/v1/me', key.secret)).status).toBe(200);
    expect((await A.del(`/v1/api-keys/${key.id}`, u.token)).status).toBe(204);
    expect((await c.get('/v1/me', key.secret)).status).toBe(401);
    proc.child.kill('SIGTERM');
    expect(await proc.exit).toBe(0);
  });

  it('a job created on A runs on a worker process and streams live over SSE from B', async () => {
    const u = await user(A, 'bob');
    const ds = await csvDataset(A, u.token, 'd');
    const job = (
      await A.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 30, sleep_ms: 100 }, output: { model_name: 'm' } }, u.token)
    ).body;
    expect(job.status).toBe('queued');
    const res = await fetch(`${urlB}/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const decoder = new TextDecoder();
    let text = '';
    let statusAtFirstMetric: string | null = null;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (statusAtFirstMetric === null && text.includes('event: metrics')) {
        statusAtFirstMetric = (await sql<{ status: string }>('select status from jobs where id = $1', [job.id]))[0]!.status;
      }
    }
    // Live: the first metrics event reached the client through B while the job still ran.
    expect(statusAtFirstMetric).toBe('running');
    const events = text
      .split('\n\n')
      .filter((b) => b.startsWith('id:'))
      .map((b) => ({ id: Number(/^id: (\d+)/.exec(b)![1]), event: /\nevent: (\w+)/.exec(b)![1] }));
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.event === 'metrics')).toHaveLength(30);
    expect(text).toMatch(/"status":"succeeded"/);
    const ran = await sql<{ worker_id: string }>('select worker_id from jobs where id = $1', [job.id]);
    expect(workers.map((w) => w.id)).toContain(ran[0]!.worker_id);
  });

  it('a login lockout counts failures on every replica', async () => {
    const u = await user(A, 'dave');
    const bad = (api: ReturnType<typeof client>) => {
      logins++;
      return api.post('/v1/auth/login', { username: u.username, password: 'wrong password!' });
    };
    // MAX_FAILURES failures spread over both replicas lock the account on both.
    for (let i = 0; i < MAX_FAILURES; i++) expect((await bad(i % 2 ? B : A)).status).toBe(401);
    for (const api of [A, B]) {
      logins++;
      const r = await api.post('/v1/auth/login', { username: u.username, password: u.password });
      expect([r.status, r.body.error?.code]).toEqual([429, 'TOO_MANY_LOGIN_ATTEMPTS']);
    }
  });

  it(`rate limits are one budget across replicas: ${RATE_DEFAULT} requests per window and user, wherever they land`, async () => {
    const u = await user(B, 'erin');
    const statuses: number[] = [];
    // Alternating replicas, as a round-robin balancer would: with per-process counters each
    // replica would allow RATE_DEFAULT, twice the limit in all. Each replica leases hits from the
    // shared budget, so near the end one may still grant its last leased hit after the other was
    // refused; in all, exactly the limit is granted.
    for (let i = 0; i < RATE_DEFAULT + 10; i++) statuses.push((await (i % 2 ? B : A).get('/v1/me', u.token)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(RATE_DEFAULT);
    expect(statuses.slice(-4)).toEqual([429, 429, 429, 429]);
    expect(statuses.slice(0, RATE_DEFAULT - 20).every((s) => s === 200)).toBe(true);
    const limited = await A.get('/v1/me', u.token);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    // The auth routes' per-address budget is shared too: what every test spent counts.
    let ok = 0;
    for (let i = 0; logins + i < RATE_AUTH + 4; i++) {
      const r = await (i % 2 ? A : B).post('/v1/auth/login', { username: 'erin', password: 'correct horse battery staple' });
      if (r.status === 200) ok++;
      else expect(r.body.error.code).toBe('RATE_LIMITED');
    }
    expect(ok).toBe(RATE_AUTH - logins);
  });
  // Last: it kills replica A, which the tests above use.
  it('SIGKILL of replica A (with a live stream open on it) and of the worker running the job: the stream resumes on B without a gap or a repeat, the other worker finishes the job, charged exactly once', async () => {
    const u = carol; // signed up before the rate-limit test spent the login budget
    const ds = await csvDataset(B, u.token, 'd');
    const job = (
      await B.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, hyperparameters: { steps: 300, sleep_ms: 20 }, output: { model_name: 'm' } }, u.token)
    ).body;
    // A client follows the job on A until A dies under it.
    const onA = readEvents(await fetch(`${urlA}/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' } }));
    const running = await waitFor(
      () =>
        sql<{ worker_id: string | null; step: number }>(`select worker_id, coalesce(step, 0)::int as step from jobs where id = $1 and status = 'running'`, [
          job.id,
        ]),
      (rows) => rows.length === 1 && rows[0]!.step >= 5,
      { timeoutMs: 30_000, message: 'the job to run and make progress' },
    );
    await waitFor(
      () => onA.events.length,
      (n) => n >= 5,
      { message: 'events on the stream from A' },
    );
    const victim = workers.find((w) => w.id === running[0]!.worker_id)!;
    expect(victim).toBeTruthy();
    const apiA = procs.find((p) => p.name === 'api-a')!;
    victim.proc.child.kill('SIGKILL');
    apiA.child.kill('SIGKILL');
    await Promise.all([victim.proc.exit, apiA.exit]);
    await onA.ended;
    const seenOnA = onA.events.map((e) => e.id);
    expect(seenOnA.length).toBeGreaterThanOrEqual(5);

    // The client reconnects through the balancer, now to B, from the last event it saw.
    const rest = readEvents(
      await fetch(`${urlB}/v1/jobs/${job.id}/events`, {
        headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream', 'last-event-id': String(seenOnA.at(-1)) },
      }),
    );
    await rest.ended; // the server closes the stream after the job's final status
    const all = [...onA.events, ...rest.events];
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)!.data).toMatch(/"status":"succeeded"/);

    const done = (await B.get(`/v1/jobs/${job.id}`, u.token)).body;
    expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
    const after = await sql<{ worker_id: string }>('select worker_id from jobs where id = $1', [job.id]);
    expect(after[0]!.worker_id).not.toBe(running[0]!.worker_id);
    const ledger = await sql<{ type: string }>('select type from credit_ledger where user_id = $1 and job_id = $2 order by id', [u.id, job.id]);
    expect(ledger.map((r) => r.type)).toEqual(['hold', 'capture']);
    expect((await B.get('/v1/credits/balance', u.token)).body).toMatchObject({ balance: 95, held: 0 });
  });
});
