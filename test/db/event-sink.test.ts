/**
 * The worker's event sink and the files a trainer names in `checkpoint` events, on the real
 * database with a real filesystem store. A checkpoint that cannot be stored used to reject the
 * sink's write chain: every later flush returned that rejection, nothing handled it, and Node
 * ended the whole process (the API with it, when the worker runs inside the server). A symlink
 * in the checkpoint folder passed a lexical path check, so the worker uploaded what it pointed to.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fence } from '../../src/domain/jobs/types.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs.js';
import { parseEvent, type TrainerEvent } from '../../src/trainers/protocol.js';
import { EventSink } from '../../src/worker/event-sink.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { claimedJob } from '../helpers/claimed.js';

let t: TestApp;
let owner: string;
let dir: string;
const WORKER = 'wkr_sink';
const s = () => t.rt.services;
const db = () => t.testDb.db;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

/** A queued job claimed by WORKER. */
const claimed = async (): Promise<Fence> => (await claimedJob(db(), s().lifecycle, owner, WORKER)).fence;

function sinkFor(fence: Fence, store: BlobStore, errors: string[]) {
  const ctx = {
    ownerId: owner,
    outputDir: path.join(dir, 'output'),
    checkpointDir: path.join(dir, 'checkpoints'),
    onLost: () => errors.push('lost'),
    onError: (m: string) => errors.push(m),
  };
  return new EventSink(db(), s().lifecycle, store, fence, ctx, { flushMs: 20 });
}

/** What a trainer prints, through the protocol's parser as the executor reads it. */
const line = (o: Record<string, unknown>) => parseEvent(JSON.stringify(o)) as TrainerEvent;
const job = async (id: string) =>
  (await db().query<{ checkpoint: any; step: string | null }>('select checkpoint, step from jobs where id = $1', [id])).rows[0]!;
const logs = async (id: string) =>
  (await db().query<{ data: any }>(`select data from job_events where job_id = $1 and type = 'log' order by seq`, [id])).rows.map(
    (r) => r.data.message as string,
  );

beforeAll(async () => {
  t = await startTestApp({ env: { WORKER_IN_PROCESS: 'false' } });
  owner = (await client(t.url).user('sink-owner')).id;
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await t.close();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainyard-sink-'));
  await mkdir(path.join(dir, 'output'));
  await mkdir(path.join(dir, 'checkpoints'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('checkpoints the worker cannot store', () => {
  it('a store that fails leaves a warning in the log; later events are written and the sink closes', async () => {
    const fence = await claimed();
    // A real store that cannot write: its root is a regular file (mkdir fails with ENOTDIR).
    const notADir = path.join(dir, 'not-a-dir');
    await writeFile(notADir, 'x');
    const errors: string[] = [];
    const sink = sinkFor(fence, new FsBlobStore(notADir, randomBytes(32)), errors);
    await writeFile(path.join(dir, 'checkpoints', 'step-3.json'), '{"step":3}');
    sink.push(line({ type: 'progress', step: 3, total_steps: 10 }));
    sink.push(line({ type: 'checkpoint', step: 3, path: 'step-3.json' }));
    sink.push(line({ type: 'log', level: 'info', message: 'after the checkpoint' }));
    await sink.flush();
    sink.push(line({ type: 'progress', step: 4, total_steps: 10 }));
    await sink.close();
    expect(errors).toEqual([`job ${fence.jobId}: saving a checkpoint failed`]);
    const messages = await logs(fence.jobId);
    expect(messages).toContain('after the checkpoint');
    expect(messages.some((m) => /^checkpoint step-3\.json at step 3 was not saved: .*ENOTDIR/.test(m))).toBe(true);
    expect(await job(fence.jobId)).toMatchObject({ checkpoint: null });
    expect(Number((await job(fence.jobId)).step)).toBe(4);
    expect(unhandled).toEqual([]);
  });
});

describe('checkpoint paths', () => {
  it('a symlink out of the job folders is refused; a file, or a link to one inside them, is stored', async () => {
    const fence = await claimed();
    const root = path.join(dir, 'store');
    const store = new FsBlobStore(root, randomBytes(32));
    const outside = path.join(dir, 'server-secret.txt');
    await writeFile(outside, 'not the trainer’s to read');
    await symlink(outside, path.join(dir, 'checkpoints', 'ck'));
    const errors: string[] = [];
    const sink = sinkFor(fence, store, errors);
    sink.push(line({ type: 'checkpoint', step: 1, path: 'ck' }));
    sink.push(line({ type: 'checkpoint', step: 1, path: '../server-secret.txt' }));
    await sink.flush();
    expect(await job(fence.jobId)).toMatchObject({ checkpoint: null });

    await writeFile(path.join(dir, 'checkpoints', 'step-2.json'), '{"step":2}');
    await symlink('step-2.json', path.join(dir, 'checkpoints', 'latest'));
    sink.push(line({ type: 'checkpoint', step: 2, path: 'latest' }));
    await sink.close();
    expect(errors).toEqual([]);
    const key = `checkpoints/${owner}/${fence.jobId}/latest`;
    expect((await job(fence.jobId)).checkpoint).toEqual({ step: 2, key, name: 'latest' });
    expect(await readFile(path.join(root, ...key.split('/')), 'utf8')).toBe('{"step":2}');
    // Nothing of the secret reached the store, and both refusals are in the job's log.
    const stored = await readFile(path.join(root, 'checkpoints', owner, fence.jobId, 'ck'), 'utf8').catch(() => null);
    expect(stored).toBeNull();
    const refused = (await logs(fence.jobId)).filter((m) => /is not a file inside the job's folders/.test(m));
    expect(refused).toHaveLength(2);
    expect(unhandled).toEqual([]);
  });
});

describe('text Postgres cannot store', () => {
  it('a line cut inside an emoji, NUL and lone surrogate halves are stored as U+FFFD; the batch they came with is kept', async () => {
    const fence = await claimed();
    const errors: string[] = [];
    const sink = sinkFor(fence, new FsBlobStore(path.join(dir, 'store'), randomBytes(32)), errors);
    // 3,999 characters, then an emoji: the 4,000-character cut used to fall between its halves.
    const long = `${'x'.repeat(3999)}😀 and more`;
    const lines = [
      JSON.stringify({ type: 'log', level: 'info', message: long }),
      '{"type":"log","level":"info","message":"nul \\u0000 here, half \\ud83d there"}',
      '{"type":"metrics","step":1,"values":{"loss\\u0000":0.5}}',
      '{"type":"log","level":"info","message":"the same batch"}',
    ];
    for (const l of lines) sink.push(parseEvent(l)!);
    await sink.close();
    expect(errors).toEqual([]);
    const messages = await logs(fence.jobId);
    expect(messages[0]).toBe(`${'x'.repeat(3999)}…[11 more characters]`);
    expect(messages.slice(1)).toEqual(['nul \uFFFD here, half \uFFFD there', 'the same batch']);
    const metrics = await db().query<{ data: any }>(`select data from job_events where job_id = $1 and type = 'metrics'`, [fence.jobId]);
    expect(metrics.rows.map((r) => r.data.values)).toEqual([{ 'loss\uFFFD': 0.5 }]);
  });
});
