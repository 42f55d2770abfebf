/**
 * The API side of a remote attempt (issue #16): what a launcher on a Kubernetes or Slurm node
 * can do with its attempt token, against the real server (filesystem store) and database. No
 * worker runs: each test claims its own job by hand, as a worker's loop claims it, and plays
 * the launcher with fetch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { AttemptsService, readAttemptReport } from '../../src/domain/attempts/service.js';
import type { Fence, JobRow } from '../../src/domain/jobs/types.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { claimedJob as claimed } from '../helpers/claimed.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let user: { id: string; token: string };
const WORKER = 'wkr_remote';

const s = () => t.rt.services;
const db = () => t.testDb.db;

interface Claimed {
  job: JobRow;
  fence: Fence;
  token: string;
  base: string;
}

/** A queued job of `user`, claimed by WORKER (its own label keeps other tests' jobs out of the claim). */
async function claimedJob(): Promise<Claimed> {
  const { job, fence } = await claimed(db(), s().lifecycle, user.id, WORKER, { trainer: 'remote' });
  return { job, fence, token: s().attemptTokens.issue(fence, 600), base: `/v1/jobs/${job.id}/attempts/${job.attempt}` };
}

const post = (c: { token: string; base: string }, p: string, json: unknown) => api.call('POST', `${c.base}/${p}`, { token: c.token, json });
const events = async (jobId: string, type?: string) =>
  (
    await db().query<{ type: string; data: any }>(`select type, data from job_events where job_id = $1 ${type ? 'and type = $2' : ''} order by seq`, [
      jobId,
      ...(type ? [type] : []),
    ])
  ).rows;
const logMessages = async (jobId: string) => (await events(jobId, 'log')).map((e) => e.data.message as string);
const jobRow = async (id: string) => (await db().query<JobRow>('select * from jobs where id = $1', [id])).rows[0]!;
const nextSeq = async (f: Fence) =>
  Number((await db().query<{ n: string }>('select next_seq as n from job_attempts where job_id = $1 and attempt = $2', [f.jobId, f.attempt])).rows[0]?.n ?? -1);

/** Reaps the job's lease now, as the reaper would once it expired: the claim is gone, the job queued again. */
async function reap(jobId: string) {
  await db().query(`update jobs set lease_expires_at = now() - interval '1 second' where id = $1`, [jobId]);
  await db().transaction((tx: Queryable) => s().lifecycle.reapExpired(tx));
  expect((await jobRow(jobId)).status).toBe('queued');
}

const log = (message: string) => ({ type: 'log', level: 'info', message });
const report = (over: Record<string, unknown> = {}) => ({
  exit_code: 0,
  signal: null,
  stopped: false,
  killed: false,
  stderr_tail: [],
  last_error: null,
  result: { metrics: { score: 0.9 } },
  artifacts: [],
  ...over,
});

beforeAll(async () => {
  t = await startTestApp({ env: { WORKER_IN_PROCESS: 'false' } });
  api = client(t.url);
  user = await api.user('launcher');
  await db().transaction((tx: Queryable) => s().credits.grant(tx, user.id, 10_000, 'test', null));
});

afterAll(async () => {
  await t?.close();
});

describe('attempt tokens', () => {
  it('verify to their fence on any instance with the secret; tampered, forged or expired ones are 401 with their code', async () => {
    const c = await claimedJob();
    expect(s().attemptTokens.verify(c.token)).toEqual(c.fence);
    const ok = await post(c, 'events', { seq: 0, events: [log('hi')] });
    expect(ok.status).toBe(200);

    const [p, payload, sig] = c.token.split('.') as [string, string, string];
    const other = s()
      .attemptTokens.issue({ ...c.fence, workerId: 'wkr_other' }, 600)
      .split('.')[1]!;
    const flip = (x: string, i: number) => x.slice(0, i) + (x[i] === 'A' ? 'B' : 'A') + x.slice(i + 1);
    const bad = [
      `${p}.${other}.${sig}`, // another claim's payload under this signature
      `${p}.${payload}.${flip(sig, 5)}`,
      `${p}.${payload}.${sig}x`,
      `${p}.${payload}`,
      'tya1.not-json.sig',
      'plainly-wrong',
      user.token, // a user's JWT is not an attempt token
    ];
    for (const token of bad) {
      const r = await post({ token, base: c.base }, 'events', { seq: 1, events: [log('x')] });
      expect(r.status, token).toBe(401);
      expect(r.body.error.code, token).toBe('ATTEMPT_TOKEN_INVALID');
    }
    const expired = s().attemptTokens.issue(c.fence, 1, Date.now() - 5000);
    const r = await post({ token: expired, base: c.base }, 'events', { seq: 1, events: [log('x')] });
    expect([r.status, r.body.error.code]).toEqual([401, 'ATTEMPT_TOKEN_EXPIRED']);
    // Nothing of the refused requests was written.
    expect(await logMessages(c.fence.jobId)).toEqual(['hi']);
  });

  it('must name the attempt in the URL (403 ATTEMPT_MISMATCH), and opens no user route', async () => {
    const a = await claimedJob();
    const b = await claimedJob();
    for (const base of [b.base, `/v1/jobs/${a.job.id}/attempts/${a.job.attempt + 1}`, `/v1/jobs/${a.job.id}/attempts/abc`]) {
      const r = await post({ token: a.token, base }, 'events', { seq: 0, events: [log('x')] });
      expect([r.status, r.body.error.code], base).toEqual([403, 'ATTEMPT_MISMATCH']);
    }
    expect((await api.get(`/v1/jobs/${a.job.id}`, a.token)).status).toBe(401);
    expect((await api.get('/v1/jobs', a.token)).status).toBe(401);
    expect(await events(b.job.id, 'log')).toEqual([]);
  });
});

describe('POST /events', () => {
  it('applies each event exactly once: a batch posted twice, and batches that overlap', async () => {
    const c = await claimedJob();
    const batch = {
      seq: 0,
      events: [
        log('a'),
        { type: 'stdout', line: 'plain out' },
        { type: 'progress', step: 1, total_steps: 10 },
        { type: 'metrics', step: 1, values: { loss: 2 } },
      ],
    };
    const first = await post(c, 'events', batch);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ next_seq: 4, cancel_requested: false });
    const again = await post(c, 'events', batch);
    expect(again.body).toEqual({ next_seq: 4, cancel_requested: false });
    // Starts at 3: event 3 (the metrics) again, then two new ones.
    const overlap = await post(c, 'events', {
      seq: 3,
      events: [batch.events[3], { type: 'stderr', line: 'plain err' }, { type: 'progress', step: 5, total_steps: 10, epoch: 1 }],
    });
    expect(overlap.body).toEqual({ next_seq: 6, cancel_requested: false });

    const logs = (await events(c.job.id, 'log')).map((e) => e.data);
    expect(logs).toEqual([
      { level: 'info', message: 'a' },
      { level: 'info', message: 'plain out', stream: 'stdout' },
      { level: 'warn', message: 'plain err', stream: 'stderr' },
    ]);
    expect((await events(c.job.id, 'metrics')).map((e) => e.data)).toEqual([{ step: 1, values: { loss: 2 } }]);
    expect((await events(c.job.id, 'progress')).map((e) => e.data)).toEqual([
      { step: 1, total_steps: 10 },
      { step: 5, total_steps: 10, epoch: 1 },
    ]);
    const job = await jobRow(c.job.id);
    expect([job.progress, job.step, job.total_steps, job.epoch]).toEqual([0.5, 5, 10, 1]);
    expect(await nextSeq(c.fence)).toBe(6);
  });

  it('the same batch posted at once on several connections is applied once (the attempt row lock)', async () => {
    const c = await claimedJob();
    await post(c, 'events', { seq: 0, events: [log('first')] }); // the row exists: only its lock orders what follows
    const batch = { seq: 1, events: [log('x'), log('y'), { type: 'progress', step: 2, total_steps: 4 }] };
    const replies = await Promise.all(Array.from({ length: 6 }, () => post(c, 'events', batch)));
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(replies.map((r) => r.body.next_seq)).toEqual(Array(6).fill(4));
    expect(await logMessages(c.job.id)).toEqual(['first', 'x', 'y']);
    expect(await events(c.job.id, 'progress')).toHaveLength(1);
  });

  it('a fractional progress step is stored whole (the columns are bigint), and a count no column holds is a 400', async () => {
    const c = await claimedJob();
    const ok = await post(c, 'events', { seq: 0, events: [log('before'), { type: 'progress', step: 1.5, total_steps: 9.5 }] });
    expect(ok.status).toBe(200);
    const job = await jobRow(c.job.id);
    expect([Number(job.step), Number(job.total_steps)]).toEqual([1, 10]);
    expect(await logMessages(c.job.id)).toEqual(['before']);
    const huge = await post(c, 'events', { seq: 2, events: [{ type: 'progress', step: 1e21, total_steps: 1e22 }] });
    expect(huge.status).toBe(400);
    expect(huge.body.error).toMatchObject({ code: 'EVENT_INVALID', details: { index: 0 } });
  });

  it('a batch past next_seq is 409 EVENT_SEQ_GAP with next_seq, and writes nothing', async () => {
    const c = await claimedJob();
    await post(c, 'events', { seq: 0, events: [log('a'), log('b')] });
    const gap = await post(c, 'events', { seq: 5, events: [log('c')] });
    expect(gap.status).toBe(409);
    expect(gap.body.error).toMatchObject({ code: 'EVENT_SEQ_GAP', details: { next_seq: 2 } });
    expect(await logMessages(c.job.id)).toEqual(['a', 'b']);
  });

  it('refuses malformed events with 400, naming the index, and applies none of the batch', async () => {
    const c = await claimedJob();
    const cases: unknown[] = [
      { seq: 0, events: [log('ok'), { type: 'progress', step: 1 }] },
      { seq: 0, events: [{ type: 'metrics', step: 1, values: { loss: 'high' } }] },
      { seq: 0, events: [{ type: 'stdout' }] },
      { seq: 0, events: [{ type: 'checkpoint', step: 1, path: '/tmp/x' }] },
      { seq: 0, events: [{ type: 'nope' }] },
      { seq: 0, events: [] },
      { seq: -1, events: [log('x')] },
      { seq: 0, events: [log('x')], extra: 1 },
      { events: [log('x')] },
    ];
    for (const body of cases) {
      const r = await post(c, 'events', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const r = await post(c, 'events', cases[0]);
    expect(r.body.error).toMatchObject({ code: 'EVENT_INVALID', details: { index: 1 } });
    expect(await events(c.job.id, 'log')).toEqual([]);
  });

  it('once the claim is reaped or taken over: 409 ATTEMPT_FENCED on every route, and nothing written', async () => {
    const c = await claimedJob();
    await post(c, 'events', { seq: 0, events: [log('before')] });
    const up = await post(c, 'uploads', { kind: 'artifact', name: 'late.bin', bytes: 3 });
    expect(up.status).toBe(200);
    await reap(c.job.id);
    const before = (await events(c.job.id)).length;
    for (const [p, body] of [
      ['events', { seq: 1, events: [log('after'), { type: 'progress', step: 9, total_steps: 10 }] }],
      ['uploads', { kind: 'checkpoint', name: 'c.pt', bytes: 10 }],
      ['finish', report()],
    ] as const) {
      const r = await post(c, p, body);
      expect([r.status, r.body.error?.code], p).toEqual([409, 'ATTEMPT_FENCED']);
    }
    // The URL handed out before is closed too.
    const put = await fetch(up.body.url, { method: 'PUT', body: 'abc' });
    expect(put.status).toBe(409);
    expect(await s().store.stat(up.body.key)).toBeNull();

    // Taken over by the next attempt: the old token still writes nothing, the new one does.
    await db().query('update jobs set run_after = now() where id = $1', [c.job.id]); // past the retry backoff
    const taken = await db().transaction((tx: Queryable) =>
      s().lifecycle.claim(tx, { workerId: 'wkr_next', freeGpus: 0, labels: c.job.labels, leaseSeconds: 60, maxRunningPerUser: 1000 }),
    );
    expect(taken?.attempt).toBe(2);
    const stale = await post(c, 'events', { seq: 1, events: [log('after')] });
    expect([stale.status, stale.body.error.code]).toEqual([409, 'ATTEMPT_FENCED']);
    const afterCount = (await events(c.job.id)).length;
    expect(afterCount).toBeGreaterThan(before); // the reap and the new claim's status events, nothing of ours
    expect(await logMessages(c.job.id)).toEqual(['before']);
    expect((await jobRow(c.job.id)).step).toBeNull();
    expect(await nextSeq(c.fence)).toBe(1);

    const fence2 = { jobId: c.job.id, workerId: 'wkr_next', attempt: 2 };
    const c2 = { token: s().attemptTokens.issue(fence2, 60), base: `/v1/jobs/${c.job.id}/attempts/2` };
    const fresh = await post(c2, 'events', { seq: 0, events: [log('attempt two')] });
    expect(fresh.body).toEqual({ next_seq: 1, cancel_requested: false });
  });

  it('tells the launcher of a cancel on its next batch', async () => {
    const c = await claimedJob();
    expect((await post(c, 'events', { seq: 0, events: [log('a')] })).body.cancel_requested).toBe(false);
    const cancel = await api.post(`/v1/jobs/${c.job.id}/cancel`, {}, user.token);
    expect(cancel.status).toBeLessThan(300);
    expect((await jobRow(c.job.id)).status).toBe('cancel_requested');
    const r = await post(c, 'events', { seq: 1, events: [log('still going')] });
    expect(r.body).toEqual({ next_seq: 2, cancel_requested: true });
    // Even a batch that is all repeats learns of it.
    expect((await post(c, 'events', { seq: 0, events: [log('a')] })).body).toEqual({ next_seq: 2, cancel_requested: true });
  });

  it('caps log lines and metrics per attempt across batches, with a notice at once and the count at /finish', async () => {
    const c = await claimedJob();
    const capped = new AttemptsService({
      db: db(),
      store: s().store,
      lifecycle: s().lifecycle,
      maxArtifactBytes: 1024,
      signedUrlTtlSeconds: 60,
      caps: { maxLogLines: 3, maxLogChars: 10, maxMetrics: 1 },
    });
    await capped.ingest(c.fence, 0, [log('one'), { type: 'stdout', line: 'two is a longer line' }]);
    await capped.ingest(c.fence, 2, [log('three'), log('four'), { type: 'metrics', step: 1, values: { a: 1 } }]);
    await capped.ingest(c.fence, 5, [log('five'), { type: 'metrics', step: 2, values: { a: 2 } }, log('six')]);
    await capped.finish(c.fence, report());
    expect(await logMessages(c.job.id)).toEqual([
      'one',
      'two is a l…[10 more characters]',
      'three',
      'log limit reached (3 lines per attempt): further lines are dropped',
      '3 log lines were dropped (limit 3 per attempt)',
      '1 metrics events were dropped (limit 1 per attempt)',
    ]);
    expect(await events(c.job.id, 'metrics')).toHaveLength(1);
  });
});

describe('uploads, checkpoints, samples and /finish', () => {
  it('an upload URL takes the bytes (fs store), and a checkpoint event naming its key becomes the job’s checkpoint', async () => {
    const c = await claimedJob();
    const up = await post(c, 'uploads', { kind: 'checkpoint', name: 'ckpt-3.pt', bytes: 11 });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ key: `checkpoints/${user.id}/${c.job.id}/a1/ckpt-3.pt`, method: 'PUT' });
    expect(Date.parse(up.body.expires_at)).toBeGreaterThan(Date.now());
    const put = await fetch(up.body.url, { method: 'PUT', body: 'hello world' });
    expect(put.status).toBe(200);

    // A key it was not given, or one with nothing behind it, is refused.
    const wrong = await post(c, 'events', {
      seq: 0,
      events: [{ type: 'checkpoint', step: 3, key: `checkpoints/${user.id}/other/a1/ckpt-3.pt`, name: 'ckpt-3.pt' }],
    });
    expect([wrong.status, wrong.body.error.code]).toEqual([400, 'CHECKPOINT_KEY_INVALID']);
    const missing = await post(c, 'events', {
      seq: 0,
      events: [{ type: 'checkpoint', step: 3, key: up.body.key.replace('ckpt-3', 'ckpt-4'), name: 'ckpt-4.pt' }],
    });
    expect([missing.status, missing.body.error.code]).toEqual([400, 'UPLOAD_MISSING']);

    const ok = await post(c, 'events', { seq: 0, events: [{ type: 'checkpoint', step: 3, key: up.body.key, name: 'ckpt-3.pt' }] });
    expect(ok.body).toEqual({ next_seq: 1, cancel_requested: false });
    expect((await jobRow(c.job.id)).checkpoint).toEqual({ step: 3, key: up.body.key, name: 'ckpt-3.pt' });
    expect((await events(c.job.id, 'checkpoint')).map((e) => e.data)).toEqual([{ step: 3 }]);
    const stored = await s().store.get(up.body.key);
    let text = '';
    for await (const chunk of stored) text += String(chunk);
    expect(text).toBe('hello world');

    // Bytes over the size asked for, a name that is a path, and a size over the limit are refused.
    const tooMany = await fetch(up.body.url, { method: 'PUT', body: 'hello world, and more' });
    expect(tooMany.status).toBe(413);
    expect((await post(c, 'uploads', { kind: 'artifact', name: '../x', bytes: 1 })).status).toBe(400);
    expect((await post(c, 'uploads', { kind: 'sample', name: 'big.png', bytes: 100 * 1024 * 1024 })).body.error.code).toBe('UPLOAD_TOO_LARGE');
  });

  it('a sample event names an uploaded image: numbered and shown like a local trainer’s', async () => {
    const c = await claimedJob();
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(20)]);
    const up = await post(c, 'uploads', { kind: 'sample', name: 's1.png', bytes: png.length });
    expect((await fetch(up.body.url, { method: 'PUT', body: png })).status).toBe(200);
    const text = await post(c, 'uploads', { kind: 'sample', name: 's2.png', bytes: 4 });
    await fetch(text.body.url, { method: 'PUT', body: 'text' });
    const notImage = await post(c, 'events', { seq: 0, events: [{ type: 'sample', step: 2, prompt: 'a cat', key: text.body.key }] });
    expect([notImage.status, notImage.body.error.code]).toEqual([400, 'SAMPLE_INVALID']);

    const r = await post(c, 'events', { seq: 0, events: [log('before'), { type: 'sample', step: 2, prompt: 'a cat', key: up.body.key }, log('after')] });
    expect(r.body.next_seq).toBe(3);
    expect((await events(c.job.id)).filter((e) => e.type !== 'status').map((e) => e.type)).toEqual(['log', 'sample', 'log']);
    const { rows } = await db().query<{ n: number; storage_key: string; format: string; bytes: string }>(
      'select n, storage_key, format, bytes from job_samples where job_id = $1',
      [c.job.id],
    );
    expect(rows.map((x) => ({ ...x, bytes: Number(x.bytes) }))).toEqual([{ n: 1, storage_key: up.body.key, format: 'png', bytes: png.length }]);
  });

  it('/finish stores the report once (the same again is 200, another 409), and closes the upload URLs', async () => {
    const c = await claimedJob();
    const up = await post(c, 'uploads', { kind: 'artifact', name: 'model.bin', bytes: 5 });
    expect(up.body.key).toBe(`artifacts/${user.id}/${c.job.id}/a1/model.bin`);
    expect((await fetch(up.body.url, { method: 'PUT', body: 'bytes' })).status).toBe(200);

    const foreign = await post(c, 'finish', report({ artifacts: [{ name: 'x.bin', format: 'bin', key: `artifacts/${user.id}/other/a1/x.bin` }] }));
    expect([foreign.status, foreign.body.error.code]).toEqual([400, 'ARTIFACT_KEY_INVALID']);
    const absent = await post(c, 'finish', report({ artifacts: [{ name: 'y.bin', format: 'bin', key: up.body.key.replace('model', 'y') }] }));
    expect([absent.status, absent.body.error.code]).toEqual([400, 'ARTIFACT_MISSING']);
    expect(await readAttemptReport(db(), c.fence)).toBeNull();

    const final = report({ artifacts: [{ name: 'model.bin', format: 'bin', key: up.body.key }], stderr_tail: ['done'] });
    const first = await post(c, 'finish', final);
    expect(first.status).toBe(200);
    expect(first.body.finished).toBe(true);
    // Same report, fields in another order: the same.
    const again = await post(c, 'finish', Object.fromEntries(Object.entries(final).reverse()));
    expect(again.body).toEqual(first.body);
    const different = await post(c, 'finish', { ...final, exit_code: 1 });
    expect([different.status, different.body.error.code]).toEqual([409, 'ATTEMPT_ALREADY_FINISHED']);
    expect(await readAttemptReport(db(), c.fence)).toEqual(final);

    // The attempt has ended: its URLs take no more bytes, so what the worker registers stays put.
    const replay = await fetch(up.body.url, { method: 'PUT', body: 'other' });
    expect(replay.status).toBe(409);

    // The worker concludes the job; a launcher retrying its report still hears 200.
    await db().transaction((tx: Queryable) => s().lifecycle.fail(tx, c.fence, { code: 'TRAINER_FAILED', message: 'x' }));
    expect((await post(c, 'finish', final)).status).toBe(200);
    expect((await post(c, 'events', { seq: 0, events: [log('late')] })).body.error.code).toBe('ATTEMPT_FENCED');
  });
});
