import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Trainyard, TrainyardError, type JobEvent } from '../../clients/typescript/src/index.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { signalCsv, testTrainers } from '../helpers/jobs.js';

// The TypeScript SDK (clients/typescript) against a real server with its worker on PGlite:
// every resource through the SDK, the event iterator resuming across a connection cut by a
// real TCP proxy, and a real 429 from the server's upload rate limit, retried.

/** RATE_LIMIT_UPLOAD below: the fourth upload of a user within 3 s is answered 429. */
const UPLOADS_PER_WINDOW = 3;
const REPLAY_MAX = 10;

let t: TestApp;
let dataDir: string;
let ty: Trainyard;
let apiKey: string;
const csv = signalCsv(300);

/** A TCP proxy in front of the server whose open connections can be cut mid-stream. */
async function tcpProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((downstream) => {
    connections++;
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    downstream.pipe(upstream).pipe(downstream);
    downstream.on('close', () => upstream.destroy());
    upstream.on('close', () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    /** Drops every open connection, as a network failure would. */
    cut: () => sockets.forEach((s) => s.destroy()),
    close: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-ts-sdk-'));
  // The echo test trainer beside the built-in ones: steps and sleep_ms make a job as long as a test needs.
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  t = await startTestApp({
    dataDir,
    env: {
      WORKER_POLL_MS: '50',
      WORKER_DRAIN_MS: '0',
      SIGNUP_CREDIT_GRANT: '1000',
      RATE_LIMIT_UPLOAD: `${UPLOADS_PER_WINDOW}/3s`,
      // A connection replays at most this many past events, then says `event: more`: the iterator pages through.
      EVENTS_REPLAY_MAX: String(REPLAY_MAX),
    },
  });
  const ada = await client(t.url).user('ada');
  // A login, then an API key made with it: the client the rest of the file uses.
  const session = await Trainyard.login({ url: t.url, username: ada.username, password: ada.password });
  const key = await session.apiKeys.create('sdk tests');
  expect(key.secret).toMatch(/^ty_/);
  apiKey = key.secret!;
  ty = new Trainyard({ url: t.url, apiKey });
});
afterAll(() => t?.close());

describe('the TypeScript SDK', () => {
  it('me; API errors as TrainyardError with code and request id; a failed connection retried only when safe', async () => {
    expect(await ty.me()).toMatchObject({ username: 'ada', role: 'user' });
    const err = await ty.jobs.get('job_missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainyardError);
    expect(err).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND' });
    expect((err as TrainyardError).requestId).toBeTruthy();
    const anonymous = await new Trainyard({ url: t.url }).me().catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });

    // Nothing listening: a GET is tried 1 + maxRetries times, then fails as a connection error.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    let tries = 0;
    const counting: typeof fetch = (input, init) => (tries++, fetch(input, init));
    const down = new Trainyard({ url: `http://127.0.0.1:${port}`, apiKey, fetch: counting, maxRetries: 2, retryBaseMs: 10 });
    expect(await down.me().catch((e: unknown) => e)).toMatchObject({ name: 'TrainyardConnectionError', status: 0, code: 'CONNECTION_FAILED' });
    expect(tries).toBe(3);
    // A POST without an Idempotency-Key is not sent twice.
    tries = 0;
    await down.datasets.create({ name: 'x', kind: 'tabular-csv', file_ids: ['f'] }).catch(() => undefined);
    expect(tries).toBe(1);
  });

  it('README "From TypeScript": upload, dataset, train, follow, predict', async () => {
    const coloursCsv = path.join(dataDir, 'colours.csv');
    await writeFile(coloursCsv, csv);
    {
      // --- README: From TypeScript ---
      const ty = new Trainyard({ url: t.url, apiKey }); // e.g. http://127.0.0.1:8080 and a ty_… key

      const file = await ty.files.upload(coloursCsv); // a path, or bytes with { filename }
      const dataset = await ty.datasets.waitUntilReady(
        (await ty.datasets.create({ name: 'colours', kind: 'tabular-csv', file_ids: [file.id!], options: { label_column: 'label' } })).id!,
      );

      const job = await ty.jobs.create({
        trainer: 'linear-classifier',
        dataset_id: dataset.id!,
        hyperparameters: { epochs: 20, seed: 3 },
        output: { model_name: 'colours' },
      });
      const progress: number[] = [];
      for await (const event of ty.jobs.events(job.id!)) {
        if (event.type === 'progress') progress.push((event.data.step as number) / (event.data.total_steps as number));
      }
      const done = await ty.jobs.get(job.id!); // succeeded, with result.metrics

      const { predictions } = await ty.models.predict('colours', { instances: [{ f1: 0.9, f2: -0.5, f3: -0.2 }] });
      const model = await ty.models.download('colours', 'latest', 'model'); // bytes, sha256 checked
      // --- end ---

      expect(file).toMatchObject({ filename: 'colours.csv', bytes: csv.length, sha256: createHash('sha256').update(csv).digest('hex') });
      expect(dataset).toMatchObject({ status: 'ready', stats: { row_count: 300 } });
      expect(done.status).toBe('succeeded');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.at(-1)).toBeLessThanOrEqual(1);
      expect(predictions![0]!.label).toBe('red');
      expect(JSON.parse(Buffer.from(model).toString('utf8')).classes.sort()).toEqual(['blue', 'green', 'red']);
    }
  });

  it('files: multipart and pre-signed uploads of bytes, with sha256; list and get', async () => {
    const bytes = new TextEncoder().encode(csv);
    const a = await ty.files.upload(bytes, { filename: 'a.csv', method: 'multipart' });
    const b = await ty.files.upload(bytes, { filename: 'b.csv', method: 'presigned' });
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(a).toMatchObject({ filename: 'a.csv', bytes: bytes.length, sha256: sha, source: 'upload' });
    expect(b).toMatchObject({ filename: 'b.csv', bytes: bytes.length, sha256: sha, source: 'presigned' });
    expect(await ty.files.get(b.id!)).toMatchObject({ id: b.id, sha256: sha });
    // From a path, pre-signed: hashed and sent as a stream from the disk.
    const onDisk = path.join(dataDir, 'c.csv');
    await writeFile(onDisk, bytes);
    expect(await ty.files.upload(onDisk, { method: 'presigned' })).toMatchObject({ filename: 'c.csv', bytes: bytes.length, sha256: sha, source: 'presigned' });
    const ids = (await ty.files.list({ limit: 1 }).all()).map((f) => f.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
  });

  it('datasets and trainers: list, get, a validation failure as DATASET_INVALID', async () => {
    const listed = await ty.datasets.list({ kind: 'tabular-csv' }).all();
    expect(listed.map((d) => d.name)).toContain('colours');
    const trainers = await ty.trainers.list();
    expect(trainers.map((x) => x.id)).toEqual(expect.arrayContaining(['linear-classifier', 'echo']));
    expect(await ty.trainers.get('linear-classifier')).toMatchObject({ id: 'linear-classifier' });

    const f = await ty.files.upload(new TextEncoder().encode('a,b\n1,2\n'), { filename: 'nolabel.csv' });
    const bad = await ty.datasets.create({ name: 'broken', kind: 'tabular-csv', file_ids: [f.id!], options: { label_column: 'label' } });
    const err = await ty.datasets.waitUntilReady(bad.id!).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DATASET_INVALID' });
  });

  it('jobs: an Idempotency-Key makes two creates one job; cancel; logs; pages of a small size', async () => {
    const [dataset] = await ty.datasets.list({ status: 'ready' }).all();
    const body = { trainer: 'echo', dataset_id: dataset!.id!, hyperparameters: { steps: 1000, sleep_ms: 1000 }, output: { model_name: 'echo' } };
    const first = await ty.jobs.create(body, { idempotencyKey: 'sdk-test-1' });
    const again = await ty.jobs.create(body, { idempotencyKey: 'sdk-test-1' });
    expect(again.id).toBe(first.id);
    await ty.jobs.cancel(first.id!);
    expect((await ty.jobs.wait(first.id!)).status).toBe('cancelled');
    expect(Array.isArray(await ty.jobs.logs(first.id!))).toBe(true);

    // Without a key given, each create gets its own: three jobs.
    const quick = { ...body, hyperparameters: { steps: 1, sleep_ms: 1 } };
    const made = [await ty.jobs.create(quick), await ty.jobs.create(quick), await ty.jobs.create(quick)];
    expect(new Set(made.map((j) => j.id)).size).toBe(3);
    for (const j of made) expect((await ty.jobs.wait(j.id!)).status).toBe('succeeded');

    const all = (await ty.jobs.list({ limit: 200 }).all()).map((j) => j.id!);
    expect(all.length).toBeGreaterThanOrEqual(5); // the README's job, the cancelled one, the three above
    let pages = 0;
    for await (const page of ty.jobs.list({ limit: 2 }).pages()) {
      pages++;
      expect(page.data!.length).toBeLessThanOrEqual(2);
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    const walked: string[] = [];
    for await (const job of ty.jobs.list({ limit: 2 })) walked.push(job.id!);
    expect(walked).toEqual(all);
    expect((await ty.jobs.list({ limit: 2, trainer: 'linear-classifier' }).all()).map((j) => j.trainer)).toEqual(['linear-classifier']);
  });

  it('models and credits: versions, artifact bytes, balance and ledger', async () => {
    expect((await ty.models.list().all()).map((m) => m.name)).toContain('colours');
    const versions = await ty.models.versions('colours');
    expect(versions.map((v) => v.version)).toEqual([1]);
    const link = await ty.models.artifact('colours', 1, 'model');
    const bytes = await ty.models.download('colours', 1, 'model');
    expect(bytes.byteLength).toBe(link.bytes);
    expect(Buffer.from(bytes).equals(Buffer.from(await (await fetch(link.url!)).arrayBuffer()))).toBe(true);

    const balance = await ty.credits.balance();
    expect(balance).toMatchObject({ held: 0, total_granted: 1000 });
    expect(balance.balance).toBe(1000 - balance.total_spent!);
    const ledger = await ty.credits.transactions({ limit: 2 }).all();
    expect(ledger.map((e) => e.type)).toEqual(expect.arrayContaining(['grant', 'hold', 'capture', 'release']));
  });

  it('the event iterator resumes after a dropped connection: nothing lost, nothing twice', async () => {
    const proxy = await tcpProxy(new URL(t.url));
    try {
      // TCP connections are kept alive and reused between requests: count the requests too.
      let requests = 0;
      const viaProxy = new Trainyard({ url: proxy.url, apiKey, fetch: (input, init) => (requests++, fetch(input, init)) });
      const [dataset] = await ty.datasets.list({ status: 'ready' }).all();
      const job = await ty.jobs.create({
        trainer: 'echo',
        dataset_id: dataset!.id!,
        hyperparameters: { steps: 40, sleep_ms: 50 },
        output: { model_name: 'echo' },
      });
      const seen: JobEvent[] = [];
      let cutAt = -1;
      for await (const e of viaProxy.jobs.events(job.id!)) {
        seen.push(e);
        // Mid-run, with the job still producing: the connection goes down under the iterator.
        if (cutAt < 0 && e.type === 'progress' && (e.data.step as number) >= 3) {
          cutAt = seen.length;
          proxy.cut();
        }
      }
      expect(cutAt).toBeGreaterThan(0);
      expect(proxy.connections()).toBeGreaterThanOrEqual(2);
      expect(requests).toBeGreaterThanOrEqual(2);
      expect(seen.length).toBeGreaterThan(cutAt);
      expect(seen.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
      const seqs = seen.map((e) => e.seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
      // Against a full read afterwards: the same events, in order.
      const full = await ty.http.get<{ data: JobEvent[] }>(`/v1/jobs/${job.id}/events`, { limit: 1000 });
      expect(seqs).toEqual(full.data.map((e) => e.seq));
      // Resuming by hand from a known event gives what followed it: the job has ended, so it
      // is all replay, a page of REPLAY_MAX per connection.
      const tail: number[] = [];
      const before = requests;
      for await (const e of viaProxy.jobs.events(job.id!, { lastEventId: seqs[cutAt - 1]! })) tail.push(e.seq);
      expect(tail).toEqual(seqs.slice(cutAt));
      expect(tail.length).toBeGreaterThan(2 * REPLAY_MAX);
      // One more when the last page is exactly full: that connection finds nothing after it (204).
      expect(requests - before).toBeGreaterThanOrEqual(Math.ceil(tail.length / REPLAY_MAX));
      expect(requests - before).toBeLessThanOrEqual(Math.ceil(tail.length / REPLAY_MAX) + 1);
    } finally {
      await proxy.close();
    }
  });

  it('the event iterator rides out an outage longer than one request’s retries', async () => {
    const proxy = await tcpProxy(new URL(t.url));
    try {
      // After the cut, the next 8 requests find nothing listening (what fetch says when the server
      // is down): two rounds of the request's own 3 retries, each ending in a connection error.
      let down = 0;
      let refused = 0;
      const viaProxy = new Trainyard({
        url: proxy.url,
        apiKey,
        retryBaseMs: 10,
        fetch: (input, init) => (down > 0 ? (down--, refused++, Promise.reject(new TypeError('fetch failed'))) : fetch(input, init)),
      });
      const [dataset] = await ty.datasets.list({ status: 'ready' }).all();
      const job = await ty.jobs.create({
        trainer: 'echo',
        dataset_id: dataset!.id!,
        hyperparameters: { steps: 20, sleep_ms: 50 },
        output: { model_name: 'echo' },
      });
      const seen: JobEvent[] = [];
      for await (const e of viaProxy.jobs.events(job.id!)) {
        seen.push(e);
        if (refused === 0 && down === 0 && e.type === 'progress') {
          down = 8;
          proxy.cut();
        }
      }
      expect(refused).toBe(8);
      expect(seen.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
      const full = await ty.http.get<{ data: JobEvent[] }>(`/v1/jobs/${job.id}/events`, { limit: 1000 });
      expect(seen.map((e) => e.seq)).toEqual(full.data.map((e) => e.seq));
    } finally {
      await proxy.close();
    }
  });

  it('a 429 from the upload rate limit is retried after Retry-After, and succeeds', async () => {
    const bobby = await client(t.url).user('bobby');
    const seen: Array<{ status: number; retryAfter: string | null; sentAt: number; answeredAt: number }> = [];
    // The global fetch, watched: when each request went out and what came back.
    const watched: typeof fetch = async (input, init) => {
      const sentAt = performance.now();
      const res = await fetch(input, init);
      if (String(input).endsWith('/v1/files'))
        seen.push({ status: res.status, retryAfter: res.headers.get('retry-after'), sentAt, answeredAt: performance.now() });
      return res;
    };
    const sdk = new Trainyard({ url: t.url, token: bobby.token, fetch: watched, maxRetries: 2 });
    // Uploads until the limit answers (the fourth in a window, unless the window turned over in between).
    const files = [];
    for (let i = 0; i < 20 && !seen.some((s) => s.status === 429); i++) {
      files.push(await sdk.files.upload(new TextEncoder().encode(`x,y\n${i},1\n`), { filename: `${i}.csv` }));
    }
    expect(files.length).toBeGreaterThan(UPLOADS_PER_WINDOW);
    expect(files.every((f) => f.source === 'upload')).toBe(true);
    const limited = seen.findIndex((s) => s.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const retryAfterMs = Number(seen[limited]!.retryAfter) * 1000;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(seen[limited + 1]!.status).toBe(201);
    expect(seen[limited + 1]!.sentAt - seen[limited]!.answeredAt).toBeGreaterThanOrEqual(retryAfterMs - 5);

    // With retries off, the same 429 reaches the caller as a TrainyardError.
    const impatient = new Trainyard({ url: t.url, token: bobby.token, maxRetries: 0 });
    const errors: unknown[] = [];
    for (let i = 0; i < 20 && !errors.some(Boolean); i++) {
      errors.push(
        await impatient.files.upload(new TextEncoder().encode('x\n1\n'), { filename: 'x.csv' }).then(
          () => null,
          (e: unknown) => e,
        ),
      );
    }
    expect(errors.filter(Boolean)).toContainEqual(expect.objectContaining({ status: 429, code: 'RATE_LIMITED' }));
  });
});
